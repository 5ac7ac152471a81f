#include "socks/server/metrics_endpoint.hpp"

#include "io/deadline.hpp"
#include "io/task.hpp"
#include "io/tcp_socket.hpp"
#include "io/write.hpp"
#include "log/log.hpp"
#include "socks/server/server.hpp"
#include "text/ascii.hpp"

#include <algorithm>
#include <array>
#include <exception>
#include <functional>
#include <optional>
#include <span>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/error.hpp>
#include <asio/ip/v6_only.hpp>
#include <asio/steady_timer.hpp>
#include <fmt/core.h>

namespace weir::server {

using asio::ip::tcp;
using acceptor = asio::basic_socket_acceptor<tcp, io::executor>;

struct metrics_endpoint::state {
    state(asio::io_context& io, metrics_handlers h, const metrics_options& o)
        : listener(io)
        , handlers(std::move(h))
        , opts(o) {}

    acceptor listener;
    metrics_handlers handlers;
    metrics_options opts;
    std::size_t active = 0;            ///< exchanges spawned and not yet ended
    std::vector<io::tcp_socket*> live; ///< the sockets of the exchanges that started
    bool stopped = false;
    log::tally refusals{std::chrono::seconds(60)};
};

namespace {

using state = metrics_endpoint::state;

constexpr std::string_view prometheus_type = "text/plain; version=0.0.4; charset=utf-8";
constexpr std::string_view plain_type = "text/plain; charset=utf-8";
// After the response, what the client still sends is read and dropped (so
// that closing does not reset the connection under the response), up to this.
constexpr std::size_t max_drain = 64 * 1024;

struct response {
    std::uint16_t status = 200;
    std::string body;
    std::string_view type = plain_type;
};

// An exchange's place among max_connections, taken at accept and given back
// when the exchange's frame goes, whether or not it ever ran.
class place {
public:
    explicit place(std::shared_ptr<state> s)
        : s_(std::move(s)) {
        ++s_->active;
    }
    place(place&& other) noexcept = default;
    place& operator=(place&&) = delete;
    ~place() {
        if (s_) --s_->active;
    }
    state& operator*() const noexcept { return *s_; }
    state* operator->() const noexcept { return s_.get(); }

private:
    std::shared_ptr<state> s_;
};

// Registers an exchange's socket for stop() while the exchange lasts.
class live_entry {
public:
    live_entry(state& s, io::tcp_socket& socket)
        : s_(s)
        , socket_(socket) {
        s_.live.push_back(&socket_);
    }
    ~live_entry() { std::erase(s_.live, &socket_); }
    live_entry(const live_entry&) = delete;
    live_entry& operator=(const live_entry&) = delete;

private:
    state& s_;
    io::tcp_socket& socket_;
};

// The path of an origin-form (/p?q) or absolute-form (http://host/p?q)
// target, without the query; nothing for the authority and asterisk forms.
std::optional<std::string_view> path_of(std::string_view target) {
    if (!target.starts_with('/')) {
        const auto scheme_end = target.find("://");
        if (scheme_end == std::string_view::npos) return std::nullopt;
        const auto scheme = target.substr(0, scheme_end);
        if (!text::equal_ignoring_case(scheme, "http") &&
            !text::equal_ignoring_case(scheme, "https"))
            return std::nullopt;
        const auto path_at = target.find_first_of("/?", scheme_end + 3);
        if (path_at == std::string_view::npos || target[path_at] == '?') return "/";
        target.remove_prefix(path_at);
    }
    return target.substr(0, target.find('?'));
}

// Calls a handler; an exception there is a bug to log, answered with 500.
template <typename F>
std::optional<std::invoke_result_t<F&>> call(F& handler, std::string_view what) {
    try {
        return handler();
    } catch (const std::exception& e) {
        log::error("metrics endpoint: the {} handler failed: {}", what, e.what());
    }
    return std::nullopt;
}

response serve(state& s, std::string_view path) {
    if (path == "/healthz") {
        const auto healthy = call(s.handlers.healthy, "health");
        if (!healthy) return {500, "internal error\n"};
        return *healthy ? response{200, "ok\n"} : response{503, "draining\n"};
    }
    auto body = call(s.handlers.metrics, "metrics");
    if (!body) return {500, "internal error\n"};
    return {200, std::move(*body), prometheus_type};
}

response route(state& s, const proto::http_request_head& h) {
    const auto path = path_of(h.target);
    if (!path) return {400, "bad request-target\n"};
    if (*path != "/metrics" && *path != "/healthz") return {404, "not found\n"};
    if (h.method != "GET" && h.method != "HEAD") return {405, "method not allowed\n"};
    if (h.chunked || h.content_length.value_or(0) > 0) return {400, "request with a body\n"};
    return serve(s, *path);
}

std::vector<std::uint8_t> serialize(const response& r, bool head_only) {
    auto text = fmt::format("HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n{}"
                            "Connection: close\r\n\r\n",
                            r.status, proto::http_status_text(r.status), r.type, r.body.size(),
                            r.status == 405 ? "Allow: GET, HEAD\r\n" : "");
    if (!head_only) text += r.body;
    return {text.begin(), text.end()};
}

std::vector<std::uint8_t> answer(state& s, const proto::http_event& ev) {
    if (const auto* err = std::get_if<proto::http_error>(&ev)) {
        return serialize({err->status, fmt::format("{}\n", err->reason)}, false);
    }
    const auto& head = std::get<proto::http_request_head>(ev);
    return serialize(route(s, head), head.method == "HEAD");
}

// Reads until the parser decides, never past its room(): a head or an error,
// or nothing when the client closed, failed or ran out of time.
io::task<std::optional<proto::http_event>> read_head(io::tcp_socket& socket, io::deadline& dl,
                                                     proto::http_request_parser& parser) {
    std::array<std::uint8_t, 1024> buf;
    for (;;) {
        auto ev = parser.next_event();
        if (!std::holds_alternative<proto::need_data>(ev)) co_return ev;
        if (dl.expired()) co_return std::nullopt;
        const auto want = std::min(buf.size(), parser.room());
        auto [ec, n] =
            co_await socket.async_read_some(asio::buffer(buf.data(), want), dl.bind(io::use_tuple));
        if (ec) co_return std::nullopt;
        parser.receive(std::span(buf.data(), n));
    }
}

// Reads and drops what the client sends until it closes (it has the response).
io::task<void> drain(io::tcp_socket& socket, io::deadline& dl) {
    std::array<std::uint8_t, 1024> buf;
    for (std::size_t total = 0; total < max_drain && !dl.expired();) {
        auto [ec, n] = co_await socket.async_read_some(asio::buffer(buf), dl.bind(io::use_tuple));
        if (ec) co_return;
        total += n;
    }
}

// One connection: a request head, the response, the close.
io::task<void> exchange(place s, io::tcp_socket socket) {
    if (s->stopped) co_return;
    const live_entry entry(*s, socket);
    io::deadline dl(socket.get_executor());
    dl.expires_after(s->opts.timeout);
    proto::http_request_parser parser(s->opts.http);
    const auto ev = co_await read_head(socket, dl, parser);
    if (!ev || s->stopped) co_return;
    const auto reply = answer(*s, *ev);
    const auto sent = io::send_now(socket, reply);
    if (sent < reply.size() && co_await io::write_rest(socket, dl, reply, sent)) co_return;
    if (dl.expired() || s->stopped) co_return;
    std::error_code ignored;
    socket.shutdown(tcp::socket::shutdown_send, ignored);
    co_await drain(socket, dl);
}

void log_exception(std::exception_ptr e) {
    if (!e) return;
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& x) {
        log::error("metrics endpoint: coroutine ended by an exception: {}", x.what());
    } catch (...) {
        log::error("metrics endpoint: coroutine ended by an unknown exception");
    }
}

io::task<void> accept_loop(std::shared_ptr<state> s) {
    asio::steady_timer backoff(s->listener.get_executor());
    for (;;) {
        auto [ec, socket] = co_await s->listener.async_accept(io::use_tuple);
        if (ec == asio::error::operation_aborted || !s->listener.is_open()) co_return;
        if (ec) {
            // Out of descriptors or memory: say so, and give exchanges a moment to finish.
            log::warn("metrics endpoint: accept failed: {}", ec.message());
            backoff.expires_after(std::chrono::milliseconds(100));
            co_await backoff.async_wait(io::use_tuple);
            continue;
        }
        if (s->active >= s->opts.max_connections) {
            std::error_code ignored;
            socket.close(ignored);
            if (const auto line = s->refusals.count())
                log::warn("metrics endpoint: closed {} connection(s) over the limit of {}",
                          line->since_last, s->opts.max_connections);
            continue;
        }
        asio::co_spawn(s->listener.get_executor(), exchange(place(s), std::move(socket)),
                       log_exception);
    }
}

void listen(acceptor& a, const tcp::endpoint& at, std::error_code& ec) {
    a.open(at.protocol(), ec);
    if (!ec) a.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec && at.address().is_v6()) a.set_option(asio::ip::v6_only(true), ec);
    if (!ec) a.bind(at, ec);
    if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
}

} // namespace

metrics_endpoint::metrics_endpoint(asio::io_context& io, const tcp::endpoint& where,
                                   metrics_handlers handlers, metrics_options opts)
    : state_(std::make_shared<state>(io, std::move(handlers), opts)) {
    std::error_code ec;
    listen(state_->listener, where, ec);
    if (!ec) local_ = state_->listener.local_endpoint(ec);
    if (ec) {
        const auto host = where.address().to_string();
        throw startup_error(fmt::format("cannot listen for metrics on {}:{}: {}",
                                        where.address().is_v6() ? "[" + host + "]" : host,
                                        where.port(), ec.message()));
    }
    asio::co_spawn(state_->listener.get_executor(), accept_loop(state_), log_exception);
}

metrics_endpoint::~metrics_endpoint() {
    stop();
}

void metrics_endpoint::stop() {
    if (state_->stopped) return;
    state_->stopped = true;
    std::error_code ignored;
    state_->listener.close(ignored);
    for (auto* socket : state_->live)
        socket->cancel(ignored);
}

} // namespace weir::server
