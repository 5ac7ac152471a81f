#include "socks/server/session.hpp"

#include "io/deadline.hpp"
#include "io/task.hpp"
#include "log/log.hpp"
#include "socks/proto/address.hpp"
#include "socks/relay/relay.hpp"
#include "socks/server/access.hpp"
#include "socks/server/connector.hpp"

#include <array>
#include <chrono>
#include <optional>
#include <sys/socket.h>
#include <variant>

#include <asio/steady_timer.hpp>
#include <asio/write.hpp>
#include <fmt/compile.h>

namespace weir::server {
namespace {

using asio::ip::tcp;

/// What the session's one log line says about the client; kept by the relay
/// until it ends, so it stays small.
struct session_record {
    tcp::endpoint client;
    std::string user = "-";
    std::optional<proto::address> target; ///< formatted only when a line is written
    const char* proto = "-";
    std::uint64_t up = 0; ///< bytes the client sent ahead of the reply
    std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
};

/// How the session ended, for its log line.
struct session_end {
    std::string_view result = "succeeded";
    std::string_view end;   ///< how the relay ended: eof, idle-timeout, error:...
    std::string_view relay; ///< which relay ran: splice or copy
    std::uint64_t up = 0;
    std::uint64_t down = 0;
};

proto::address to_proto_address(const tcp::endpoint& ep) {
    proto::address a;
    a.port = ep.port();
    if (ep.address().is_v6())
        a.host = ep.address().to_v6().to_bytes();
    else
        a.host = ep.address().to_v4().to_bytes();
    return a;
}

// IPv4 through proto's formatter: asio's to_string() goes through inet_ntop,
// whose sprintf costs more than the rest of a log line.
std::string endpoint_string(const tcp::endpoint& ep) {
    if (ep.address().is_v4()) return proto::to_string(to_proto_address(ep));
    return fmt::format("[{}]:{}", ep.address().to_string(), ep.port()); // keeps a scope id
}

// The target as one log token. proto::to_string already escapes a name's
// unprintable bytes but keeps spaces; escape the name once, here, instead.
std::string target_for_log(const std::optional<proto::address>& target) {
    if (!target) return "-";
    if (const auto* name = std::get_if<std::string>(&target->host))
        return fmt::format("{}:{}", log::printable(*name), target->port);
    return proto::to_string(*target);
}

// One line per session, the default log level's bulk: formats compiled in
// (FMT_COMPILE), not parsed at run time.
void log_session(const session_record& r, const listener_info& l, const session_end& e) {
    using namespace std::chrono;
    if (!log::enabled(log::level::info)) return;
    const auto ms = duration_cast<milliseconds>(steady_clock::now() - r.start).count();
    fmt::memory_buffer line;
    auto out = std::back_inserter(line);
    fmt::format_to(
        out, FMT_COMPILE("session client={} listener={} proto={} user={} target={} result={}"),
        endpoint_string(r.client), l.url, std::string_view(r.proto), r.user,
        target_for_log(r.target), e.result);
    if (!e.end.empty()) fmt::format_to(out, FMT_COMPILE(" end={} relay={}"), e.end, e.relay);
    fmt::format_to(out, FMT_COMPILE(" up={} down={} duration={}.{:03}s"), r.up + e.up, e.down,
                   ms / 1000, ms % 1000);
    log::write(log::level::info, std::string_view(line.data(), line.size()));
}

// The session's end: its place is freed before its line is written, so
// whoever reads the log may count on the place being free.
void finish(admission::ticket& ticket, const session_record& r, const listener_info& l,
            const session_end& e) {
    ticket.release();
    log_session(r, l, e);
}

void finish_failed(admission::ticket& ticket, const session_record& r, const listener_info& l,
                   std::string_view result) {
    session_end e;
    e.result = result;
    finish(ticket, r, l, e);
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

/// Where the handshake stands: the failure to log, the authenticated user.
struct handshake_state {
    std::string result;                       ///< empty while all goes well
    std::optional<std::string> authenticated; ///< the user, once the password checked out
    bool blocked = false;                     ///< a login attempt came while the client was blocked
};

// A login the verifier remembers (the usual case: a client's every connection
// after its first) is answered on the spot, with no coroutine to start.
bool cached_login(server_context& ctx, const std::string& client_key, const std::string& user,
                  const std::string& password) {
    if (ctx.verifier == nullptr || !ctx.verifier->cached(user, password)) return false;
    if (ctx.throttle != nullptr) ctx.throttle->succeeded(client_key, user);
    return true;
}

// Argon2id on the verification pool (which answers from the cache if the same
// login succeeded meanwhile), queued under the client: clients take turns,
// and those without a failed login on record go first. No answer (the pool
// full, the check dropped or timed out) is not a verdict.
io::task<std::optional<bool>> verify_password(server_context& ctx, io::deadline& dl,
                                              const std::string& client_key,
                                              const std::string& user,
                                              const std::string& password) {
    if (ctx.verifier == nullptr) co_return false;
    const bool suspect = ctx.throttle != nullptr && ctx.throttle->has_failures(client_key);
    const auto cls = suspect ? job_class::normal : job_class::first;
    // A named job: GCC 12 mis-copies lambda temporaries inside co_await expressions.
    auto job = [v = ctx.verifier, user, password] { return v->verify(user, password); };
    auto [ec, ok] = co_await ctx.auth_pool.async_run<bool>(client_key, cls, std::move(job),
                                                           dl.bind(io::use_tuple));
    if (ec) co_return std::nullopt;
    co_return ok;
}

// Verifies, and makes a client that keeps failing wait longer for each answer
// (unknown users and wrong passwords alike). A client that the failure
// blocks loses its other queued checks.
io::task<bool> check_password(server_context& ctx, io::deadline& dl, const std::string& client_key,
                              const std::string& user, const std::string& password) {
    const auto ok = co_await verify_password(ctx, dl, client_key, user, password);
    if (!ok || ctx.throttle == nullptr || dl.expired()) co_return ok.value_or(false);
    if (*ok) {
        ctx.throttle->succeeded(client_key, user);
        co_return true;
    }
    const auto penalty = ctx.throttle->failed(client_key, user);
    if (penalty.blocked) ctx.auth_pool.drop(client_key);
    if (penalty.delay.count() > 0) {
        asio::steady_timer wait(dl.executor(), penalty.delay);
        co_await wait.async_wait(dl.bind(io::use_tuple));
    }
    co_return false;
}

// Checked at every login attempt, not only when the connection came:
// connections a client opened before its block must not go on guessing.
bool login_blocked(server_context& ctx, const std::string& client_key, handshake_state& st) {
    st.blocked = ctx.throttle != nullptr && ctx.throttle->blocked(client_key);
    return st.blocked;
}

// Writes all of `bytes` (kept alive by the caller), within the deadline. A
// reply is a few bytes into an empty socket buffer: one non-blocking send(2)
// nearly always takes it whole, with no asynchronous write (whose completion
// Asio would post, polling epoll once more before running it). The rest, if
// any, and any error, go through async_write.
io::task<std::error_code> write_all(io::tcp_socket& s, io::deadline& dl,
                                    const std::vector<std::uint8_t>& bytes) {
    const ssize_t n =
        ::send(s.native_handle(), bytes.data(), bytes.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    const std::size_t sent = n > 0 ? static_cast<std::size_t>(n) : 0;
    if (sent == bytes.size()) co_return std::error_code();
    auto [ec, written] =
        co_await asio::async_write(s, asio::buffer(bytes) + sent, dl.bind(io::use_tuple));
    co_return ec;
}

// Runs the codec until it yields a request (or the client fails or leaves, or
// the deadline passes).
io::task<std::optional<proto::request_event>>
negotiate(io::tcp_socket& client, const std::string& client_key, proto::server_handshake& hs,
          server_context& ctx, io::deadline& dl, session_record& rec, handshake_state& st) {
    std::array<std::uint8_t, 1024> buf;
    for (;;) {
        // A deadline that passed between two steps cancelled no operation.
        if (dl.expired()) co_return std::nullopt;
        auto ev = hs.next_event();
        if (const auto out = hs.take_output(); !out.empty()) {
            if (co_await write_all(client, dl, out)) {
                st.result = "client-write-failed";
                co_return std::nullopt;
            }
        }
        if (std::holds_alternative<proto::need_data>(ev)) {
            auto [ec, n] =
                co_await client.async_read_some(asio::buffer(buf), dl.bind(io::use_tuple));
            if (ec) {
                st.result = ec == asio::error::eof ? "client-closed" : "client-read-failed";
                co_return std::nullopt;
            }
            hs.receive(std::span(buf.data(), n));
        } else if (auto* cred = std::get_if<proto::credentials_event>(&ev)) {
            rec.user = log::printable(cred->username);
            bool ok = !login_blocked(ctx, client_key, st) &&
                      cached_login(ctx, client_key, cred->username, cred->password);
            if (!ok && !st.blocked)
                ok = co_await check_password(ctx, dl, client_key, cred->username, cred->password);
            if (dl.expired()) co_return std::nullopt;
            if (ok) st.authenticated = cred->username;
            hs.auth_result(ok);
        } else if (auto* req = std::get_if<proto::request_event>(&ev)) {
            co_return std::move(*req);
        } else {
            const auto& err = std::get<proto::error_event>(ev);
            if (const auto v = hs.protocol())
                rec.proto = *v == proto::version::socks5 ? "socks5" : "socks4";
            st.result = st.blocked ? "refused:client-blocked" : "refused:" + slug(err.error);
            co_await write_all(client, dl, err.reply);
            co_return std::nullopt;
        }
    }
}

const char* protocol_name(const proto::request_event& req) {
    if (req.ver == proto::version::socks5) return "socks5";
    return req.destination.is_domain() ? "socks4a" : "socks4";
}

// A domain the resolver may be given: host-name syntax, or an IP literal
// sent as a name (the resolver parses it without a lookup).
bool resolvable(const proto::address& target) {
    const auto* name = std::get_if<std::string>(&target.host);
    if (name == nullptr || proto::is_host_name(*name)) return true;
    std::error_code ec;
    asio::ip::make_address(*name, ec);
    return !ec;
}

// Checks the rules and connects, within the connect timeout: the reply's error, or none.
io::task<std::error_code> connect_allowed(io::tcp_socket& target, const proto::request_event& req,
                                          const accepted& conn, const listener_info& listener,
                                          server_context& ctx, io::deadline& dl,
                                          const session_record& rec, const handshake_state& st) {
    if (req.cmd != proto::command::connect) co_return proto::errc::command_not_supported;
    if (!resolvable(req.destination)) {
        log::info("refused client={} target={}: not a host name", endpoint_string(rec.client),
                  target_for_log(rec.target));
        co_return proto::errc::not_a_host_name;
    }
    access_check access(ctx.access.get(), listener.index,
                        facts_of(req, conn.remote, listener.url, st.authenticated), ctx.hosts);
    std::error_code ec = proto::errc::not_allowed;
    dl.expires_after(ctx.cfg.connect_timeout);
    if (access.allowed_by_name())
        ec =
            co_await connect_target(target, req.destination, ctx.resolver, conn.ticket.client(), dl,
                                    [&](const asio::ip::address& a) { return access.allowed(a); });
    if (dl.expired()) co_return proto::errc::connect_timeout;
    if (ec == proto::errc::not_allowed && access.denial())
        log::info("refused client={} target={} by {}", endpoint_string(rec.client),
                  target_for_log(rec.target), auth::describe(*access.denial()));
    co_return ec;
}

// Connects and replies, within the time limits, and forwards the bytes the
// client sent early: true if relaying should start.
io::task<bool> reach_target(io::tcp_socket& client, io::tcp_socket& target,
                            proto::server_handshake& hs, const proto::request_event& req,
                            const accepted& conn, const listener_info& listener,
                            server_context& ctx, io::deadline& dl, session_record& rec,
                            handshake_state& st) {
    const auto ec = co_await connect_allowed(target, req, conn, listener, ctx, dl, rec, st);
    proto::address bound{proto::ipv4_bytes{}, 0};
    // SOCKS4 clients ignore the reply's address: ask the kernel only for SOCKS5.
    if (!ec && req.ver == proto::version::socks5) {
        std::error_code local_ec;
        const auto local = target.local_endpoint(local_ec);
        if (!local_ec) bound = to_proto_address(local);
    }
    const auto code = ec ? proto::to_reply_code(ec) : proto::reply_code::succeeded;
    dl.expires_after(ctx.cfg.handshake_timeout);
    const auto reply = hs.reply(code, bound);
    if (co_await write_all(client, dl, reply)) {
        st.result = dl.expired() ? "reply-timeout" : "client-write-failed";
        co_return false;
    }
    if (ec) {
        st.result = "connect-failed:" + slug(ec);
        co_return false;
    }
    const auto early = hs.take_remaining();
    if (early.empty()) co_return true;
    if (dl.expired()) {
        st.result = "reply-timeout";
        co_return false;
    }
    if (co_await write_all(target, dl, early)) {
        st.result = dl.expired() ? "reply-timeout" : "target-write-failed";
        co_return false;
    }
    rec.up += early.size();
    co_return true;
}

/// The relay's completion: the session's log line. Holds the session's place
/// (the admission ticket) until the relay ends.
struct relay_done {
    session_record rec;
    const listener_info* listener;
    admission::ticket ticket;

    void operator()(const relay::relay_stats& stats) {
        const std::string error = stats.error ? "error:" + slug(stats.error) : std::string();
        session_end e;
        e.end = "eof";
        if (stats.idle_timeout)
            e.end = "idle-timeout";
        else if (stats.error)
            e.end = error;
        e.relay = stats.spliced ? "splice" : "copy";
        e.up = stats.client_to_target;
        e.down = stats.target_to_client;
        finish(ticket, rec, *listener, e);
    }
};

} // namespace

io::task<void> run_session(accepted conn, const listener_info& listener, server_context& ctx) {
    auto& client = conn.socket;
    session_record rec;
    rec.client = conn.remote; // TCP_NODELAY comes from the listening socket

    // Handshake, then connect, then reply: each step bounded by its own time limit.
    io::deadline dl(client.get_executor());
    handshake_state st;
    proto::server_handshake hs(listener.handshake);
    dl.expires_after(ctx.cfg.handshake_timeout);
    auto request = co_await negotiate(client, conn.ticket.client(), hs, ctx, dl, rec, st);
    conn.ticket.handshake_done();
    if (!request) {
        if (dl.expired()) st.result = "handshake-timeout";
        finish_failed(conn.ticket, rec, listener, st.result);
        co_return;
    }
    rec.proto = protocol_name(*request);
    rec.target = request->destination;

    io::tcp_socket target(client.get_executor());
    if (!co_await reach_target(client, target, hs, *request, conn, listener, ctx, dl, rec, st)) {
        finish_failed(conn.ticket, rec, listener, st.result);
        co_return;
    }
    relay::async_relay(std::move(client), std::move(target), ctx.cfg.relay,
                       relay_done{std::move(rec), &listener, std::move(conn.ticket)});
}

} // namespace weir::server
