#pragma once

#include "io/timeout_service.hpp"

#include <chrono>
#include <utility>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/io_context.hpp>

namespace weir::io {

/// The time limit of a session's current step. When it passes, the operation
/// bound to slot() is cancelled (terminal) and expired() turns true; a step
/// must check expired() before starting another operation. A node in the
/// thread's timeout_service: no timer, allocation or coroutine of its own,
/// where `op || timer.async_wait()` spawns two coroutines for every step.
class deadline : private timeout_node {
public:
    using clock = std::chrono::steady_clock;

    explicit deadline(const asio::io_context::executor_type& ex);
    ~deadline() override;

    /// Starts a new step that may last `d`.
    void expires_after(clock::duration d);
    bool expired() const noexcept { return expired_; }
    const asio::io_context::executor_type& executor() const noexcept { return executor_; }

    asio::cancellation_slot slot() noexcept { return signal_.slot(); }
    /// `token`, cancelled when the deadline passes.
    template <typename Token>
    auto bind(Token token) {
        return asio::bind_cancellation_slot(slot(), std::move(token));
    }

private:
    void on_timeout() override;

    asio::io_context::executor_type executor_;
    timeout_service& timeouts_;
    asio::cancellation_signal signal_;
    bool expired_ = false;
};

} // namespace weir::io
