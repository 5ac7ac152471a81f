#pragma once

#include "auth/user_db.hpp"

#include <array>
#include <chrono>
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
/// name+password verified successfully within the cache lifetime.
class verifier {
public:
    struct options {
        std::chrono::steady_clock::duration cache_ttl = std::chrono::minutes(5);
        std::size_t cache_capacity = 4096;
    };

    verifier(std::shared_ptr<const user_db> users, options opts);

    /// Cheap: true if this exact name+password verified recently.
    bool cached(std::string_view name, std::string_view password);

    /// Swaps in a new set of users (a reload) and forgets every cached success,
    /// so a changed or removed password stops working at once. Thread-safe.
    void replace_users(std::shared_ptr<const user_db> users);

    /// Slow: Argon2id verification (an unknown user costs the same as a wrong
    /// password). Records a success in the cache. Compares constant-time.
    bool verify(std::string_view name, std::string_view password);

    /// Entries currently cached, expired ones included until swept (for tests and metrics).
    std::size_t cache_size();

private:
    using cache_key = std::array<std::uint8_t, 32>;
    struct key_hash {
        std::size_t operator()(const cache_key& k) const noexcept;
    };
    cache_key key_of(std::string_view name, std::string_view password) const;
    void remember(const cache_key& key, std::uint64_t generation);
    void make_room(std::chrono::steady_clock::time_point now);

    std::shared_ptr<const user_db> users_; // guarded by mutex_
    std::uint64_t generation_ = 0;         // bumped by replace_users, guarded by mutex_
    options opts_;
    std::array<std::uint8_t, 32> cache_secret_{};
    std::string dummy_hash_;
    std::mutex mutex_;
    std::unordered_map<cache_key, std::chrono::steady_clock::time_point, key_hash> cache_;
};

} // namespace weir::auth
