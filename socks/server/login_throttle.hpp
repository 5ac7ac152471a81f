#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace weir::server {

/// Failed-login throttling per client (an IPv4 address or an IPv6 /64).
/// After `free_failures` failures each further failure is answered after a
/// delay that doubles up to `max_delay`; after `block_after` failures the
/// client is blocked for `block_for`. A success clears the record. Memory is
/// bounded by `capacity` records. Thread-safe.
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

    explicit login_throttle(options opts);

    /// True while `client` is blocked: close its connections at once.
    bool blocked(std::string_view client, clock::time_point now = clock::now());

    /// Records a failed login; returns how long to wait before answering it.
    /// Unknown users and wrong passwords go through here alike.
    std::chrono::milliseconds failed(std::string_view client, clock::time_point now = clock::now());

    /// A successful login clears the client's failures.
    void succeeded(std::string_view client);

    std::size_t size();

private:
    struct record {
        unsigned failures = 0;
        clock::time_point last{};
        clock::time_point blocked_until{};
    };
    void forget_quiet(clock::time_point now);
    void make_room(clock::time_point now);

    void count_records() noexcept {
        records_held_.store(records_.size(), std::memory_order_release);
    }

    options opts_;
    std::mutex mutex_;
    std::unordered_map<std::string, record> records_;
    /// A connection's check first drops quiet records, at most this often.
    static constexpr std::chrono::seconds sweep_every{60};
    clock::time_point next_sweep_{};
    /// records_.size(), readable without the lock: with no failed login on
    /// record (the usual case) a connection's check and a success touch no
    /// memory another thread writes.
    std::atomic<std::size_t> records_held_{0};
};

} // namespace weir::server
