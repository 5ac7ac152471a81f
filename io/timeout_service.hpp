#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

#include <asio/execution_context.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>

namespace weir::io {

class timeout_service;

/// Something with a timeout on one io_context's thread: a session's current
/// step, a relay's idleness. Starting, touching or cancelling it costs a few
/// pointer writes; no timer, allocation or system call.
class timeout_node {
public:
    using clock = std::chrono::steady_clock;

    timeout_node() = default;
    timeout_node(const timeout_node&) = delete;
    timeout_node& operator=(const timeout_node&) = delete;

    /// Whether a timeout is running (started and neither expired nor cancelled).
    bool timing() const noexcept { return list_ != 0; }

protected:
    virtual ~timeout_node() = default;
    /// The timeout has passed; the node is no longer timing. Runs on the
    /// context's thread, from the service's sweep.
    virtual void on_timeout() = 0;

private:
    friend class timeout_service;
    timeout_node* older_ = nullptr;
    timeout_node* newer_ = nullptr;
    clock::time_point since_; ///< the current period started then
    std::uint32_t list_ = 0;  ///< 0: not timing
};

/// The timeouts of one io_context, swept by one timer. Nodes with the same
/// duration sit in one list ordered by the start of their period (a restart
/// moves a node to the end), so each list's head expires first; the timer is
/// armed for the earliest head only. Use it from the context's thread only.
class timeout_service : public asio::execution_context::service {
public:
    using key_type = timeout_service;
    using clock = timeout_node::clock;
    static asio::execution_context::id id;

    explicit timeout_service(asio::io_context& io);
    timeout_service(const timeout_service&) = delete;
    timeout_service& operator=(const timeout_service&) = delete;

    /// The service of the context `ex` belongs to.
    static timeout_service& of(const asio::io_context::executor_type& ex);

    /// (Re)starts `n`'s timeout: on_timeout() runs once `d` has passed, unless
    /// `n` is restarted, touched or cancelled before. Zero or less: no timeout.
    void start(timeout_node& n, clock::duration d);
    /// Restarts `n`'s current timeout from `now` (no-op when not timing).
    void touch(timeout_node& n, clock::time_point now) noexcept;
    /// Stops `n`'s timeout (no-op when not timing). Call before destroying `n`.
    void cancel(timeout_node& n) noexcept;

    /// Expires every node timing now, as if its time had passed (the server
    /// closing what a drain left). Nodes started again by an on_timeout() run
    /// their new period.
    void expire_all();

    /// Whether the timer stays armed when the last timeout stops, instead of
    /// being cancelled: it then fires once, at the time it was set for, finds
    /// nothing and is not set again. Sessions that come one at a time then set
    /// the timer once per timeout period rather than once each (a
    /// timerfd_settime, plus a cancelled wait and its handler). Only for a
    /// context kept running anyway: a pending wait keeps run() from returning.
    /// Off by default.
    void linger(bool on) noexcept { linger_ = on; }

    /// How many times the timer was set so far (for tests).
    std::uint64_t arms() const noexcept { return arms_; }

private:
    struct node_list {
        clock::duration timeout{};
        timeout_node* oldest = nullptr;
        timeout_node* newest = nullptr;
    };

    void shutdown() override {}
    std::uint32_t list_for(clock::duration d);
    void link(timeout_node& n, std::uint32_t list) noexcept;
    void unlink(timeout_node& n) noexcept;
    void disarm_if_idle() noexcept;
    void arm(clock::time_point when);
    void sweep();

    std::vector<node_list> lists_; ///< [0] unused: list_ 0 means not timing
    asio::steady_timer sweeper_;
    clock::time_point armed_for_ = clock::time_point::max();
    std::size_t timing_ = 0; ///< nodes in the lists
    std::uint64_t arms_ = 0;
    bool linger_ = false;
};

} // namespace weir::io
