#pragma once

#include "auth/verifier.hpp"
#include "io/task.hpp"
#include "io/tcp_socket.hpp"
#include "log/log.hpp"
#include "socks/server/access.hpp"
#include "socks/server/config.hpp"
#include "socks/server/context.hpp"
#include "socks/server/listener.hpp"
#include "socks/server/metrics.hpp"
#include "socks/server/offload_pool.hpp"

#include <atomic>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>

namespace weir::server {

/// A start-up failure (bad address, port in use); what() is one line for the user.
struct startup_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

/// The listeners, the I/O threads (one io_context each) and the pools.
/// Every I/O thread has its own listening socket for each listener, all bound
/// to the same address with SO_REUSEPORT: the kernel spreads connections over
/// them, and a connection lives on the thread that accepted it.
class server {
public:
    /// `verifier` may be null when no listener asks for a password.
    server(config cfg, std::shared_ptr<auth::verifier> verifier);
    ~server();
    server(const server&) = delete;
    server& operator=(const server&) = delete;

    /// Binds every listener (all or none).
    void bind();
    /// Logs "listening on URL" for each listener, then runs the I/O threads (the
    /// caller's thread is one of them) until stop().
    void run();
    /// Installs (or, on reload, replaces) the access rules of every listener;
    /// call after bind(), since rules may name a listener by its bound URL.
    /// Throws auth::rule_error, changing nothing, when a rule names a
    /// listener there is not.
    void set_access(const std::vector<auth::rule>& rules, const access_config& cfg);
    /// Stops accepting and ends all sessions; safe from any thread.
    void stop();
    /// The graceful stop (SIGTERM): closes the listening sockets at once, lets
    /// the sessions in flight finish for the drain timeout, then closes the
    /// rest (each logged with end=drain) and stops. Call on the main
    /// context's thread; a second call does nothing (stop() cuts it short).
    void drain();
    /// What the metrics read from the server now; safe from any thread.
    metrics::gauges gauges() const;
    /// Whether a drain has begun (health checks fail from then on).
    bool draining() const noexcept { return draining_.load(std::memory_order_relaxed); }

    /// The first I/O context, for signal handling and the like.
    asio::io_context& main_context() { return *contexts_.front(); }
    /// The bound listeners' URLs with their real ports.
    std::vector<std::string> urls() const;

private:
    io::task<void> accept_loop(listener& l, listen_socket& a);
    std::optional<accepted> admit(io::tcp_socket socket, const asio::ip::tcp::endpoint& remote,
                                  const listener& l);
    void note_refusal(const listener& l, std::string_view why);
    void note_shed(std::string_view victim);
    void watch_drain();
    void close_the_rest();

    config cfg_;
    std::shared_ptr<auth::verifier> verifier_;
    offload_pool resolver_pool_;
    offload_pool auth_pool_;
    admission admission_;
    login_throttle throttle_;
    access_table access_;
    host_addresses hosts_;
    server_context ctx_;
    std::vector<std::unique_ptr<asio::io_context>> contexts_;
    std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards_;
    std::vector<std::unique_ptr<listener>> listeners_;
    std::atomic<bool> stopped_{false};
    std::atomic<bool> draining_{false};
    std::atomic<bool> closing_{false}; ///< the drain's time is up: closing what is left
    std::optional<asio::steady_timer> drain_timer_;
    std::chrono::steady_clock::time_point drain_until_;
    log::tally refusals_{std::chrono::seconds(10)};
    log::tally sheds_{std::chrono::seconds(10)};
};

} // namespace weir::server
