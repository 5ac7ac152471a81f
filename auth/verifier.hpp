#pragma once

#include "auth/user_db.hpp"

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string_view>
#include <unordered_map>

namespace weir::auth {

/// Verifies RFC 1929 credentials against a user_db. verify() is thread-safe
/// and slow by design (Argon2id): call it off the I/O threads. cached() is
/// cheap and may be called anywhere: it answers true when the same
/// name+password verified successfully and has not gone unused for the cache
/// lifetime since (each hit renews it: a client in steady use never pays
/// Argon2id again; a reload forgets every entry).
///
/// Logins with the same name and password at once (a browser opening a page's
/// connections, a client's pool after the cache entry expired) share one
/// Argon2id run: a verify() that finds the same check under way waits for its
/// answer instead of starting another, and one that finds the success cached
/// by now returns at once.
class verifier {
public:
    using clock = std::chrono::steady_clock;
    struct options {
        /// How long a success is remembered after its last use.
        clock::duration cache_ttl = std::chrono::minutes(5);
        std::size_t cache_capacity = 4096;
    };

    verifier(std::shared_ptr<const user_db> users, options opts);

    /// Cheap: true if this exact name+password verified successfully and was
    /// last used less than the cache lifetime before `now`; renews the entry.
    bool cached(std::string_view name, std::string_view password,
                clock::time_point now = clock::now());

    /// Swaps in a new set of users (a reload) and forgets every cached success,
    /// so a changed or removed password stops working at once. Thread-safe.
    void replace_users(std::shared_ptr<const user_db> users);

    /// Slow: Argon2id verification (an unknown user costs the same as a wrong
    /// password), or the answer of the same check already under way. Records a
    /// success in the cache. Compares constant-time.
    bool verify(std::string_view name, std::string_view password);

    /// Entries currently cached, expired ones included until swept (for tests and metrics).
    std::size_t cache_size();
    /// Argon2id runs so far, and checks under way now (for tests and metrics).
    std::uint64_t slow_checks();
    std::size_t checks_in_flight();

private:
    /// SipHash-2-4 with 128-bit output (libsodium's crypto_shorthash_siphashx24)
    /// keyed by a per-process random secret: a pseudorandom function built
    /// for short inputs. A name and password are a few dozen bytes: a keyed
    /// BLAKE2b of them took six times the instructions (2,044 against 331
    /// per login under callgrind).
    using cache_key = std::array<std::uint8_t, 16>;
    struct key_hash {
        std::size_t operator()(const cache_key& k) const noexcept;
    };
    /// One Argon2id check under way; the others with the same key wait for it.
    struct flight {
        explicit flight(std::uint64_t g)
            : generation(g) {}
        std::uint64_t generation; ///< of the users it checks against
        bool landed = false;
        bool ok = false;
    };

    cache_key key_of(std::string_view name, std::string_view password) const;
    bool fresh_locked(const cache_key& key, clock::time_point now);
    bool check(const user_db& users, std::string_view name,
               std::string_view password) const noexcept;
    void remember_locked(const cache_key& key, clock::time_point now);
    /// A field out of range: no cache key, a wrong password's cost.
    bool verify_implausible(std::string_view name, std::string_view password);
    /// Records `mine`'s answer, remembers a success, wakes those who joined it.
    void land(const cache_key& key, const std::shared_ptr<flight>& mine, bool ok);
    void make_room(clock::time_point now);

    std::shared_ptr<const user_db> users_; // guarded by mutex_
    std::uint64_t generation_ = 0;         // bumped by replace_users, guarded by mutex_
    options opts_;
    std::array<std::uint8_t, 16> cache_secret_{};
    std::string dummy_hash_;
    std::mutex mutex_;
    std::unordered_map<cache_key, clock::time_point, key_hash> cache_;
    std::unordered_map<cache_key, std::shared_ptr<flight>, key_hash> flights_; // guarded by mutex_
    std::condition_variable landed_;
    std::uint64_t slow_checks_ = 0; // guarded by mutex_
};

} // namespace weir::auth
