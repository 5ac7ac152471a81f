#pragma once

#include "socks/proto/http_request.hpp"

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>

namespace weir::server {

/// What the endpoint serves; called on the endpoint's io_context thread.
struct metrics_handlers {
    /// The body of /metrics: Prometheus text format 0.0.4.
    std::function<std::string()> metrics;
    /// /healthz: 200 "ok\n" when true, 503 "draining\n" when false.
    std::function<bool()> healthy;
};

struct metrics_options {
    /// Connections served at once; further ones are closed as soon as accepted.
    std::size_t max_connections = 16;
    /// For the whole exchange: request, response, and waiting for the client's close.
    std::chrono::steady_clock::duration timeout = std::chrono::seconds(5);
    /// Limits of the request head (8 KiB, 64 fields, 2 KiB target by default).
    proto::http_request_parser::options http{};
};

/// The HTTP endpoint of `--metrics HOST:PORT`, a listener of its own that
/// shares nothing with the SOCKS listeners. One request per connection, then
/// `Connection: close`:
///
///   GET|HEAD /metrics   200, Content-Type: text/plain; version=0.0.4; charset=utf-8
///   GET|HEAD /healthz   200 "ok\n", or 503 "draining\n" when not healthy
///   other paths         404; a query string is ignored (/metrics?x=1 is /metrics)
///   other methods       405 with Allow: GET, HEAD
///   a request body      400 (Content-Length above 0, or Transfer-Encoding)
///   a malformed head    the parser's status (400, 414, 431, 501, 505), its reason as the body
///   silence or dribbling past the timeout: closed without an answer
///
/// The request-target may be origin-form or absolute-form (http://host/metrics);
/// its path is compared as sent (no percent-decoding). Every response body is
/// text/plain and ends with a newline.
///
/// Use it on its io_context's thread (or while that context runs nothing), and
/// destroy it before the io_context.
class metrics_endpoint {
public:
    /// Binds and listens on `where` now (SO_REUSEADDR, no SO_REUSEPORT: a held
    /// port fails); throws startup_error with a one-line message on failure.
    /// Serves on `io` until stop().
    metrics_endpoint(asio::io_context& io, const asio::ip::tcp::endpoint& where,
                     metrics_handlers handlers, metrics_options opts = {});
    ~metrics_endpoint();
    metrics_endpoint(const metrics_endpoint&) = delete;
    metrics_endpoint& operator=(const metrics_endpoint&) = delete;

    /// The bound address, with the real port when bound to port 0.
    asio::ip::tcp::endpoint local_endpoint() const { return local_; }

    /// Closes the listening socket and ends the exchanges in progress.
    void stop();

    struct state; ///< shared with the coroutines, which may outlive the object

private:
    std::shared_ptr<state> state_;
    asio::ip::tcp::endpoint local_;
};

} // namespace weir::server
