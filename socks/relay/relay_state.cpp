#include "socks/relay/relay_state.hpp"

#include <new>
#include <utility>

#include <asio/error.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

namespace weir::relay::detail {

relay_state::relay_state(const asio::any_io_executor& executor, clock::duration idle_timeout)
    : watchdog_(executor)
    , idle_timeout_(idle_timeout)
    , last_activity_(clock::now()) {}

void relay_state::fail(std::error_code ec) {
    if (!stats_.error) stats_.error = ec;
    stopped_ = true;
    watchdog_.cancel();
}

bool relay_state::should_stop(const asio::cancellation_state& cs) {
    if (stopped_) return true;
    if (cs.cancelled() == asio::cancellation_type::none) return false;
    fail(asio::error::operation_aborted);
    return true;
}

asio::awaitable<void> relay_state::run(asio::awaitable<void> forward,
                                       asio::awaitable<void> backward) {
    using namespace asio::experimental::awaitable_operators;
    // A failing direction calls fail(), which wakes the watchdog; the watchdog's
    // return then cancels whatever direction is still running.
    co_await ((guarded(std::move(forward)) && guarded(std::move(backward))) || watch_idle());
}

asio::awaitable<void> relay_state::guarded(asio::awaitable<void> direction) {
    try {
        co_await std::move(direction);
    } catch (const std::bad_alloc&) {
        // Thrown past the `||`, it would leave the watchdog waiting for ever.
        fail(asio::error::no_memory);
    }
}

asio::awaitable<void> relay_state::watch_idle() {
    const auto cs = co_await asio::this_coro::cancellation_state;
    const bool enabled = idle_timeout_ > clock::duration::zero();
    for (;;) {
        // Re-armed from the last activity: progress never touches the timer.
        watchdog_.expires_at(enabled ? last_activity_ + idle_timeout_ : clock::time_point::max());
        auto [ec] =
            co_await watchdog_.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
        if (ec || stopped_ || cs.cancelled() != asio::cancellation_type::none) co_return;
        if (enabled && clock::now() - last_activity_ >= idle_timeout_) {
            stats_.idle_timeout = true;
            stopped_ = true;
            co_return;
        }
    }
}

} // namespace weir::relay::detail
