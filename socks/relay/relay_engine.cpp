#include "socks/relay/relay_engine.hpp"

#include <new>
#include <utility>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/error.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/post.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

namespace weir::relay::detail {
namespace {

/// Installed in the caller's cancellation slot: a cancellation stops the relay.
struct stopper {
    explicit stopper(relay_engine* engine)
        : engine_(engine) {}
    void operator()(asio::cancellation_type) const;
    relay_engine* engine_;
};

} // namespace

asio::awaitable<relay_stats> run_relay(asio::ip::tcp::socket& client, asio::ip::tcp::socket& target,
                                       const relay_options& options, bool splice) {
    relay_engine engine(client, target, options, splice);
    const auto cs = co_await asio::this_coro::cancellation_state;
    // The wait ignores the caller's cancellation (the engine's own stopper
    // handles it) and, allocated before anything starts, cannot fail once a
    // handler may touch the engine.
    auto token = asio::bind_cancellation_slot(asio::cancellation_slot(),
                                              asio::experimental::as_tuple(asio::use_awaitable));
    co_await asio::async_initiate<decltype(token), void(std::error_code)>(
        [&engine, &cs](auto handler) { engine.start(cs.slot(), std::move(handler)); }, token);
    co_return engine.stats();
}

relay_engine::relay_engine(tcp::socket& client, tcp::socket& target, const relay_options& options,
                           bool splice)
    : client_(client)
    , target_(target)
    , options_(options)
    , up_{client, target,
          direction(client.native_handle(), target.native_handle(), options_, splice)}
    , down_{target, client,
            direction(target.native_handle(), client.native_handle(), options_, splice)}
    , watchdog_(client.get_executor())
    , done_(client.get_executor(), clock::time_point::max())
    , last_activity_(clock::now()) {
    stats_.spliced = splice;
}

template <typename Handler>
void relay_engine::start(asio::cancellation_slot outer, Handler&& on_end) {
    done_.async_wait(std::forward<Handler>(on_end));
    start_directions(outer);
}

void relay_engine::start_directions(asio::cancellation_slot outer) {
    try {
        if (outer.is_connected()) outer.emplace<stopper>(this);
        outer_ = outer;
    } catch (const std::bad_alloc&) { // not stoppable from outside; the watchdog still is
    }
    // Nothing is read before the sockets say so: an idle direction holds nothing.
    arm(up_, tcp::socket::wait_read);
    arm(down_, tcp::socket::wait_read);
    if (options_.idle_timeout > clock::duration::zero()) arm_watchdog();
    settle();
}

void relay_engine::arm(side& s, tcp::socket::wait_type what) {
    tcp::socket& socket = what == tcp::socket::wait_read ? s.src : s.dst;
    try {
        socket.async_wait(what, [this, &s](const std::error_code& ec) { on_ready(s, ec); });
        ++pending_;
    } catch (const std::bad_alloc&) {
        end_side(s, asio::error::no_memory);
    }
}

void relay_engine::on_ready(side& s, const std::error_code& ec) {
    --pending_;
    if (stopped_ || ec) {
        end_side(s, stopped_ ? std::error_code() : ec);
        return settle();
    }
    last_activity_ = clock::now();
    std::error_code error;
    switch (s.dir.pump(error)) {
    case direction::next::readable:
        arm(s, tcp::socket::wait_read);
        break;
    case direction::next::writable:
        arm(s, tcp::socket::wait_write);
        break;
    case direction::next::more:
        yield(s);
        break;
    case direction::next::done:
        end_side(s, error);
        break;
    }
    settle();
}

void relay_engine::end_side(side& s, const std::error_code& error) {
    s.dir.release();
    s.done = true;
    if (error || stopped_)
        stop(error);
    else if (up_.done && down_.done)
        watchdog_.cancel();
}

void relay_engine::arm_watchdog() {
    // Re-armed from the last activity: progress never touches the timer.
    watchdog_.expires_at(last_activity_ + options_.idle_timeout);
    try {
        watchdog_.async_wait([this](const std::error_code& ec) { on_watchdog(ec); });
        ++pending_;
    } catch (const std::bad_alloc&) {
        stop(asio::error::no_memory);
    }
}

void relay_engine::yield(side& s) {
    try {
        asio::post(client_.get_executor(), [this, &s] { on_ready(s, {}); });
        ++pending_;
    } catch (const std::bad_alloc&) {
        end_side(s, asio::error::no_memory);
    }
}

void relay_engine::on_watchdog(const std::error_code& ec) {
    --pending_;
    if (!ec && !stopped_ && !(up_.done && down_.done)) {
        if (clock::now() - last_activity_ >= options_.idle_timeout) {
            stats_.idle_timeout = true;
            stop({});
        } else {
            arm_watchdog();
        }
    }
    settle();
}

void relay_engine::stop(const std::error_code& ec) {
    if (ec && !stats_.error) stats_.error = ec;
    if (stopped_) return;
    stopped_ = true;
    std::error_code ignored;
    client_.cancel(ignored);
    target_.cancel(ignored);
    watchdog_.cancel();
}

void relay_engine::settle() {
    if (pending_ > 0) return;
    stats_.client_to_target = up_.dir.delivered();
    stats_.target_to_client = down_.dir.delivered();
    if (outer_.is_connected()) outer_.clear();
    done_.cancel();
}

void stopper::operator()(asio::cancellation_type) const {
    engine_->stop(asio::error::operation_aborted);
}

} // namespace weir::relay::detail
