#pragma once

#include "socks/relay/relay.hpp"

#include <chrono>
#include <system_error>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/cancellation_state.hpp>
#include <asio/steady_timer.hpp>

namespace weir::relay::detail {

/// What the two directions of one relay share: the stats they fill in, the
/// first error, the last time a byte moved, and the idle watchdog's timer.
/// All of it is touched from the relay's executor only (one thread or a strand).
class relay_state {
public:
    using clock = std::chrono::steady_clock;

    relay_state(const asio::any_io_executor& executor, clock::duration idle_timeout);

    /// Records progress; the watchdog reads it when its timer fires.
    void moved() { last_activity_ = clock::now(); }

    /// Records `ec` if it is the first error and stops the whole relay.
    void fail(std::error_code ec);

    /// True once the relay is ending; checked after every wait. An outside
    /// cancellation seen in `cs` counts as the error operation_aborted.
    bool should_stop(const asio::cancellation_state& cs);

    relay_stats& stats() noexcept { return stats_; }

    /// Runs both directions and the idle watchdog; returns once all three have
    /// finished, so that no operation is left pending on the sockets.
    asio::awaitable<void> run(asio::awaitable<void> forward, asio::awaitable<void> backward);

private:
    asio::awaitable<void> guarded(asio::awaitable<void> direction);
    asio::awaitable<void> watch_idle();

    asio::steady_timer watchdog_;
    clock::duration idle_timeout_;
    clock::time_point last_activity_;
    relay_stats stats_;
    bool stopped_ = false;
};

} // namespace weir::relay::detail
