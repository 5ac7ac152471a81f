#pragma once

#include "io/tcp_socket.hpp"
#include "io/timeout_service.hpp"
#include "socks/relay/direction.hpp"
#include "socks/relay/relay_options.hpp"

#include <chrono>
#include <cstdint>
#include <system_error>
#include <utility>

#include <asio/associated_executor.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/dispatch.hpp>

namespace weir::relay::detail {

class relay_service;

/// Both directions of one relay, driven by completion handlers rather than
/// coroutines: an idle relay costs this object and two pending waits (its
/// idle timeout is a node in the thread's timeout_service). Owns both
/// sockets; lives on their thread, from start() until it completes.
class relay_engine : private io::timeout_node {
public:
    relay_engine(io::tcp_socket client, io::tcp_socket target, const relay_options& options);
    relay_engine(const relay_engine&) = delete;
    relay_engine& operator=(const relay_engine&) = delete;
    virtual ~relay_engine();

    /// Starts both directions; a cancellation emitted on `outer` stops the relay.
    void start(asio::cancellation_slot outer);
    /// Ends the relay: records `ec` if it is the first error and cancels every wait.
    void stop(const std::error_code& ec);
    /// Ends the relay because its owner closes everything (stats say `drained`).
    void drain();

    io::tcp_socket::executor_type socket_executor() noexcept { return client_.get_executor(); }

protected:
    /// Destroys the engine (closing the sockets), then calls the completion
    /// handler with `stats`.
    virtual void complete(relay_stats stats) = 0;

private:
    friend class relay_service;

    struct side {
        direction dir;
        bool done = false;
    };

    void on_timeout() override;
    io::tcp_socket& source(const side& s) noexcept;      ///< the socket `s` reads
    io::tcp_socket& destination(const side& s) noexcept; ///< the socket `s` writes
    void arm(side& s, io::tcp_socket::wait_type what);
    void arm_read(side& s);
    void on_received(side& s, const std::error_code& ec, std::size_t n);
    void yield(side& s);
    void on_ready(side& s, const std::error_code& ec);
    void end_side(side& s, const std::error_code& error);
    void settle();

    io::tcp_socket client_;
    io::tcp_socket target_;
    const relay_options& options_;
    relay_service& service_;
    io::timeout_service& timeouts_;
    const bool splice_; ///< chosen once, before the directions are made
    side up_;
    side down_;
    asio::cancellation_slot outer_;
    relay_stats stats_;
    // The service's list of running relays.
    relay_engine* prev_ = nullptr;
    relay_engine* next_ = nullptr;
    int pending_ = 0; ///< waits and turns whose handlers have not run yet
    bool stopped_ = false;
};

/// A relay_engine that completes with `Handler`.
template <typename Handler>
class relay_op final : public relay_engine {
public:
    relay_op(io::tcp_socket client, io::tcp_socket target, const relay_options& options,
             Handler handler)
        : relay_engine(std::move(client), std::move(target), options)
        , handler_(std::move(handler)) {}

private:
    void complete(relay_stats stats) override {
        auto handler = std::move(handler_);
        auto ex = asio::get_associated_executor(handler, socket_executor());
        delete this;
        asio::dispatch(ex, [h = std::move(handler), stats]() mutable { std::move(h)(stats); });
    }

    Handler handler_;
};

template <typename Handler>
relay_engine* make_engine(io::tcp_socket client, io::tcp_socket target,
                          const relay_options& options, Handler handler) {
    return new relay_op<Handler>(std::move(client), std::move(target), options, std::move(handler));
}

} // namespace weir::relay::detail
