#pragma once

#include <chrono>
#include <cstdint>
#include <memory>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>

namespace weir::server {

/// The time limit of a session's current step. When it passes, the operation
/// bound to slot() is cancelled (terminal) and expired() turns true; a step
/// must check expired() before starting another operation. One timer and no
/// extra coroutines per session, where `op || timer.async_wait()` spawns two
/// coroutines for every step.
class deadline {
public:
    using clock = std::chrono::steady_clock;

    explicit deadline(const asio::io_context::executor_type& ex);
    ~deadline();
    deadline(const deadline&) = delete;
    deadline& operator=(const deadline&) = delete;

    /// Starts a new step that may last `d`.
    void expires_after(clock::duration d);
    bool expired() const noexcept { return state_->expired; }
    asio::io_context::executor_type executor() noexcept { return timer_.get_executor(); }

    asio::cancellation_slot slot() noexcept { return state_->signal.slot(); }
    /// `token`, cancelled when the deadline passes.
    template <typename Token>
    auto bind(Token token) {
        return asio::bind_cancellation_slot(slot(), std::move(token));
    }

private:
    // Shared with the timer's handler, which may run after the deadline is gone.
    struct state {
        asio::cancellation_signal signal;
        std::uint64_t step = 0;
        bool expired = false;
    };

    asio::basic_waitable_timer<clock, asio::wait_traits<clock>, asio::io_context::executor_type>
        timer_;
    std::shared_ptr<state> state_;
};

} // namespace weir::server
