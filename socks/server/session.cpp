#include "socks/server/session.hpp"

#include "socks/server/access.hpp"
#include "socks/server/connector.hpp"
#include "socks/server/log.hpp"

#include <array>
#include <chrono>
#include <optional>
#include <variant>

#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

namespace weir::server {
namespace {

using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;
constexpr auto use_tuple = asio::experimental::as_tuple(asio::use_awaitable);

/// Everything the session's one log line says.
struct session_record {
    std::string client;
    std::string proto = "-";
    std::string user = "-";
    std::optional<std::string> authenticated; ///< the user, once the password checked out
    std::string target = "-";
    std::string result = "succeeded";
    std::string end;   ///< how the relay ended: eof, idle-timeout, error:...
    std::string relay; ///< which relay ran: splice or copy
    std::uint64_t up = 0;
    std::uint64_t down = 0;
    std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
};

void log_session(const session_record& r, const listener_info& l) {
    using namespace std::chrono;
    const auto ms = duration_cast<milliseconds>(steady_clock::now() - r.start).count();
    std::string relayed;
    if (!r.end.empty()) relayed = fmt::format(" end={} relay={}", r.end, r.relay);
    log::info("session client={} listener={} proto={} user={} target={} result={}{} up={} down={} "
              "duration={}.{:03}s",
              r.client, l.url, r.proto, r.user, r.target, r.result, relayed, r.up, r.down,
              ms / 1000, ms % 1000);
}

// An error as one log token: "connection refused" -> "connection-refused".
std::string slug(std::error_code ec) {
    auto text = ec.message();
    for (auto& c : text) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        if (c == ' ') c = '-';
    }
    return log::printable(text);
}

std::string endpoint_string(const tcp::endpoint& ep) {
    const auto a = ep.address();
    return a.is_v6() ? fmt::format("[{}]:{}", a.to_string(), ep.port())
                     : fmt::format("{}:{}", a.to_string(), ep.port());
}

proto::address to_proto_address(const tcp::endpoint& ep) {
    proto::address a;
    a.port = ep.port();
    if (ep.address().is_v6())
        a.host = ep.address().to_v6().to_bytes();
    else
        a.host = ep.address().to_v4().to_bytes();
    return a;
}

asio::awaitable<bool> verify_password(server_context& ctx, const std::string& user,
                                      const std::string& password) {
    if (ctx.verifier == nullptr) co_return false;
    if (ctx.verifier->cached(user, password)) co_return true;
    // A named job: GCC 12 mis-copies lambda temporaries inside co_await expressions.
    auto job = [v = ctx.verifier, user, password] { return v->verify(user, password); };
    auto [ec, ok] = co_await ctx.auth_pool.async_run<bool>(std::move(job), use_tuple);
    co_return !ec && ok;
}

// Verifies, and makes a client that keeps failing wait longer for each answer
// (unknown users and wrong passwords alike).
asio::awaitable<bool> check_password(server_context& ctx, const std::string& client_key,
                                     const std::string& user, const std::string& password) {
    const bool ok = co_await verify_password(ctx, user, password);
    if (ctx.throttle == nullptr) co_return ok;
    if (ok) {
        ctx.throttle->succeeded(client_key);
        co_return true;
    }
    if (const auto delay = ctx.throttle->failed(client_key); delay.count() > 0) {
        asio::steady_timer wait(co_await asio::this_coro::executor, delay);
        co_await wait.async_wait(use_tuple);
    }
    co_return false;
}

asio::awaitable<bool> send(tcp::socket& s, const std::vector<std::uint8_t>& bytes) {
    if (bytes.empty()) co_return true;
    auto [ec, n] = co_await asio::async_write(s, asio::buffer(bytes), use_tuple);
    co_return !ec;
}

// Runs the codec until it yields a request (or the client fails or leaves).
asio::awaitable<std::optional<proto::request_event>>
negotiate(tcp::socket& client, const std::string& client_key, proto::server_handshake& hs,
          server_context& ctx, session_record& rec) {
    std::array<std::uint8_t, 1024> buf;
    for (;;) {
        auto ev = hs.next_event();
        if (!co_await send(client, hs.take_output())) {
            rec.result = "client-write-failed";
            co_return std::nullopt;
        }
        if (std::holds_alternative<proto::need_data>(ev)) {
            auto [ec, n] = co_await client.async_read_some(asio::buffer(buf), use_tuple);
            if (ec) {
                rec.result = ec == asio::error::eof ? "client-closed" : "client-read-failed";
                co_return std::nullopt;
            }
            hs.receive(std::span(buf.data(), n));
        } else if (auto* cred = std::get_if<proto::credentials_event>(&ev)) {
            rec.user = log::printable(cred->username);
            const bool ok =
                co_await check_password(ctx, client_key, cred->username, cred->password);
            if (ok) rec.authenticated = cred->username;
            hs.auth_result(ok);
        } else if (auto* req = std::get_if<proto::request_event>(&ev)) {
            co_return std::move(*req);
        } else {
            const auto& err = std::get<proto::error_event>(ev);
            if (const auto v = hs.protocol())
                rec.proto = *v == proto::version::socks5 ? "socks5" : "socks4";
            rec.result = "refused:" + slug(err.error);
            co_await send(client, err.reply);
            co_return std::nullopt;
        }
    }
}

// The target as one log token. proto::to_string already escapes a name's
// unprintable bytes but keeps spaces; escape the name once, here, instead.
std::string target_for_log(const proto::address& a) {
    if (const auto* name = std::get_if<std::string>(&a.host))
        return fmt::format("{}:{}", log::printable(*name), a.port);
    return proto::to_string(a);
}

std::string protocol_name(const proto::request_event& req) {
    if (req.ver == proto::version::socks5) return "socks5";
    return req.destination.is_domain() ? "socks4a" : "socks4";
}

// Checks the rules and connects: the reply's error, or none.
asio::awaitable<std::error_code>
connect_allowed(tcp::socket& target, const proto::request_event& req, const accepted& conn,
                const listener_info& listener, server_context& ctx, const session_record& rec) {
    if (req.cmd != proto::command::connect) co_return proto::errc::command_not_supported;
    access_check access(ctx.access.get(), listener.index,
                        facts_of(req, conn.remote, listener.url, rec.authenticated));
    std::error_code ec = proto::errc::not_allowed;
    if (access.allowed_by_name())
        ec = co_await connect_target(target, req.destination, ctx.resolver, ctx.cfg.connect_timeout,
                                     [&](const asio::ip::address& a) { return access.allowed(a); });
    if (ec == proto::errc::not_allowed && access.denial())
        log::info("refused client={} target={} by {}", rec.client, rec.target,
                  auth::describe(*access.denial()));
    co_return ec;
}

// Connects, replies, forwards pipelined bytes; returns the target socket if relaying should start.
asio::awaitable<std::optional<tcp::socket>>
reach_target(tcp::socket& client, proto::server_handshake& hs, const proto::request_event& req,
             const accepted& conn, const listener_info& listener, server_context& ctx,
             session_record& rec) {
    tcp::socket target(client.get_executor());
    const auto ec = co_await connect_allowed(target, req, conn, listener, ctx, rec);
    proto::address bound{proto::ipv4_bytes{}, 0};
    if (!ec) {
        std::error_code local_ec;
        const auto local = target.local_endpoint(local_ec);
        if (!local_ec) bound = to_proto_address(local);
    }
    const auto code = ec ? proto::to_reply_code(ec) : proto::reply_code::succeeded;
    if (!co_await send(client, hs.reply(code, bound))) {
        rec.result = "client-write-failed";
        co_return std::nullopt;
    }
    if (ec) {
        rec.result = "connect-failed:" + slug(ec);
        co_return std::nullopt;
    }
    const auto early = hs.take_remaining();
    if (!co_await send(target, early)) {
        rec.result = "target-write-failed";
        co_return std::nullopt;
    }
    rec.up += early.size();
    co_return std::move(target);
}

} // namespace

std::string client_key(const asio::ip::address& a) {
    if (a.is_v4()) return a.to_string();
    const auto v6 = a.to_v6();
    if (v6.is_v4_mapped()) return asio::ip::make_address_v4(asio::ip::v4_mapped, v6).to_string();
    auto bytes = v6.to_bytes();
    std::fill(bytes.begin() + 8, bytes.end(), std::uint8_t{0});
    return asio::ip::address_v6(bytes).to_string() + "/64";
}

asio::awaitable<void> run_session(accepted conn, const listener_info& listener,
                                  server_context& ctx) {
    auto& client = conn.socket;
    session_record rec;
    rec.client = endpoint_string(conn.remote);
    std::error_code ec;
    client.set_option(tcp::no_delay(true), ec);

    // Handshake, connect and reply, each bounded by its own timeout.
    proto::server_handshake hs(listener.handshake);
    asio::steady_timer timer(client.get_executor(), ctx.cfg.handshake_timeout);
    auto negotiated =
        co_await (negotiate(client, conn.client_key, hs, ctx, rec) || timer.async_wait(use_tuple));
    conn.ticket.handshake_done();
    if (negotiated.index() == 1) rec.result = "handshake-timeout";
    auto request = negotiated.index() == 0 ? std::move(std::get<0>(negotiated)) : std::nullopt;
    if (!request) {
        log_session(rec, listener);
        co_return;
    }
    rec.proto = protocol_name(*request);
    rec.target = target_for_log(request->destination);

    // connect_target bounds itself by the connect timeout; the replies are bounded here.
    timer.expires_after(ctx.cfg.connect_timeout + ctx.cfg.handshake_timeout);
    auto reached = co_await (reach_target(client, hs, *request, conn, listener, ctx, rec) ||
                             timer.async_wait(use_tuple));
    if (reached.index() == 1) rec.result = "reply-timeout";
    if (reached.index() == 1 || !std::get<0>(reached)) {
        log_session(rec, listener);
        co_return;
    }
    auto target = std::move(*std::get<0>(reached));
    const auto stats = co_await relay::relay(client, target, ctx.cfg.relay);
    rec.up += stats.client_to_target;
    rec.down += stats.target_to_client;
    rec.end = stats.idle_timeout ? "idle-timeout"
              : stats.error      ? "error:" + slug(stats.error)
                                 : "eof";
    rec.relay = stats.spliced ? "splice" : "copy";
    log_session(rec, listener);
}

} // namespace weir::server
