#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace weir::server {

/// Failed-login throttling per client (an IPv4 address or an IPv6 /64).
/// After `free_failures` failures each further failure is answered after a
/// delay that doubles up to `max_delay`; after `block_after` failures the
/// client is blocked for `block_for`. A success forgives only the failures
/// made under the same user name (for the first `names_per_client` names a
/// client fails under; failures under further names are never forgiven), so a
/// client that knows one password cannot guess another's without limit. A
/// success never lifts a block. Memory is bounded by `capacity` records of
/// fixed size. Thread-safe.
class login_throttle {
public:
    using clock = std::chrono::steady_clock;
    struct options {
        unsigned free_failures = 5;
        std::chrono::milliseconds base_delay{250};
        std::chrono::milliseconds max_delay{4000};
        unsigned block_after = 30;
        std::chrono::seconds block_for{600};
        std::chrono::seconds forget_after{900}; ///< a quiet client's failures are forgotten
        std::size_t capacity = 65536;
    };

    /// What a failed login costs the client.
    struct penalty {
        std::chrono::milliseconds delay{0}; ///< wait this long before answering it
        bool blocked = false;               ///< the client is blocked as of now
    };

    /// User names per client whose failures a success can forgive.
    static constexpr std::size_t names_per_client = 4;

    explicit login_throttle(options opts);

    /// True while `client` is blocked: close its connections at once.
    bool blocked(std::string_view client, clock::time_point now = clock::now());

    /// Records a failed login under `user`: how long to wait before answering
    /// it, and whether the client is now blocked (its queued checks can go).
    /// Unknown users and wrong passwords go through here alike.
    penalty failed(std::string_view client, std::string_view user,
                   clock::time_point now = clock::now());

    /// A successful login as `user` forgives the client's failures under that
    /// name; failures under other names stay counted. A client blocked at its
    /// last failure keeps its block and every failure (until forgotten).
    void succeeded(std::string_view client, std::string_view user);

    /// True while `client` has a failed login on record (until a success
    /// forgives it, or a sweep forgets it); cheap when nobody has.
    bool has_failures(std::string_view client);

    std::size_t size();

private:
    /// Failures under one user name, keyed by a hash of the name.
    struct name_failures {
        std::size_t name_hash = 0;
        unsigned count = 0; ///< 0: the slot is free
    };
    struct record {
        unsigned failures = 0; ///< under every name, forgivable or not
        clock::time_point last{};
        clock::time_point blocked_until{};
        std::array<name_failures, names_per_client> names{};
    };
    static void count_name(record& r, std::size_t name_hash);
    std::chrono::milliseconds delay_for(unsigned failures) const;
    void forget_quiet(clock::time_point now);
    void make_room(clock::time_point now);

    /// Looks clients up by string_view, with no std::string made per call.
    struct key_hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept {
            return std::hash<std::string_view>{}(s);
        }
    };

    void count_records() noexcept {
        records_held_.store(records_.size(), std::memory_order_release);
    }

    options opts_;
    std::mutex mutex_;
    std::unordered_map<std::string, record, key_hash, std::equal_to<>> records_;
    /// A connection's check first drops quiet records, at most this often.
    static constexpr std::chrono::seconds sweep_every{60};
    clock::time_point next_sweep_{};
    /// records_.size(), readable without the lock: with no failed login on
    /// record (the usual case) a connection's check and a success touch no
    /// memory another thread writes.
    std::atomic<std::size_t> records_held_{0};
};

} // namespace weir::server
