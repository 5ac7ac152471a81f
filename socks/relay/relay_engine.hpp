#pragma once

#include "socks/relay/direction.hpp"
#include "socks/relay/relay.hpp"

#include <chrono>
#include <system_error>

#include <asio/awaitable.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>

namespace weir::relay::detail {

/// Runs a relay to its end; the body of splice_relay and copy_relay.
asio::awaitable<relay_stats> run_relay(asio::ip::tcp::socket& client, asio::ip::tcp::socket& target,
                                       const relay_options& options, bool splice);

/// Both directions of one relay and its idle watchdog, driven by completion
/// handlers rather than coroutines: an idle relay costs two pending waits and
/// a timer, no coroutine frames, pipes or buffers. Lives in the frame of the
/// coroutine that awaits it, on that coroutine's thread.
class relay_engine {
public:
    using tcp = asio::ip::tcp;
    using clock = std::chrono::steady_clock;

    relay_engine(tcp::socket& client, tcp::socket& target, const relay_options& options,
                 bool splice);
    relay_engine(const relay_engine&) = delete;
    relay_engine& operator=(const relay_engine&) = delete;

    /// Starts both directions and the watchdog; calls `on_end` once the relay
    /// has ended (both directions at EOF, an error, the idle timeout or a
    /// cancellation emitted on `outer`) and nothing is left pending.
    template <typename Handler>
    void start(asio::cancellation_slot outer, Handler&& on_end);
    /// The outcome; byte counts are final once run() has completed.
    relay_stats& stats() noexcept { return stats_; }
    /// Ends the relay: records `ec` if it is the first error and cancels every wait.
    void stop(const std::error_code& ec);

private:
    struct side {
        tcp::socket& src;
        tcp::socket& dst;
        direction dir;
        bool done = false;
    };

    void start_directions(asio::cancellation_slot outer);
    void arm(side& s, tcp::socket::wait_type what);
    void yield(side& s);
    void on_ready(side& s, const std::error_code& ec);
    void end_side(side& s, const std::error_code& error);
    void arm_watchdog();
    void on_watchdog(const std::error_code& ec);
    void settle();

    tcp::socket& client_;
    tcp::socket& target_;
    relay_options options_;
    side up_;
    side down_;
    asio::steady_timer watchdog_;
    asio::steady_timer done_; ///< holds on_end; cancelled once nothing is pending
    asio::cancellation_slot outer_;
    clock::time_point last_activity_;
    relay_stats stats_;
    int pending_ = 0; ///< waits whose handlers have not run yet
    bool stopped_ = false;
};

} // namespace weir::relay::detail
