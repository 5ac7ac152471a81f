#include "socks/server/session.hpp"

#include "io/write.hpp"
#include "log/log.hpp"
#include "socks/relay/relay.hpp"
#include "socks/server/address_conversion.hpp"
#include "socks/server/metrics.hpp"

#include <array>
#include <chrono>
#include <variant>

namespace weir::server {
namespace {

// After the HTTP 400: a FIN, then the rest of the request read and dropped (up
// to 64 KiB, under `dl`) until the client closes, since
// closing with unread bytes resets the connection, and a reset makes the
// client's kernel throw away the 400 it has not read yet.
io::task<void> drop_request(io::tcp_socket& s, io::deadline& dl) {
    std::error_code ignored;
    s.shutdown(asio::socket_base::shutdown_send, ignored);
    std::array<std::uint8_t, 4096> buf;
    for (std::size_t dropped = 0; dropped < 64 * 1024;) {
        auto [ec, n] = co_await s.async_read_some(asio::buffer(buf), dl.bind(io::use_tuple));
        if (ec) co_return;
        dropped += n;
    }
}

// "05 02": bytes as an operator reads them in a packet capture.
std::string hex(std::span<const std::uint8_t> bytes) {
    std::string out;
    for (const auto b : bytes) {
        if (!out.empty()) out.push_back(' ');
        out += fmt::format("{:02x}", b);
    }
    return out;
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

/// What the metrics learn of a session that ends now.
metrics::session_end_facts facts(const session_record& rec, const listener_info& l,
                                 std::optional<proto::command> cmd) {
    metrics::session_end_facts f;
    f.listener = l.index;
    f.protocol = rec.proto;
    f.cmd = cmd;
    f.up = rec.up;
    f.duration = std::chrono::steady_clock::now() - rec.start;
    return f;
}

/// The relay's completion: the session's log line. Holds the session's place
/// (the admission ticket) until the relay ends.
struct relay_done {
    session_record rec;
    const listener_info* listener;
    admission::ticket ticket;
    proto::command cmd;

    void operator()(const relay::relay_stats& stats) {
        ticket.release(); // freed before the line: whoever reads it may count on the place
        auto f = facts(rec, *listener, cmd);
        f.relay = stats.spliced ? metrics::relay_mode::splice : metrics::relay_mode::copy;
        f.up += stats.client_to_target;
        f.down = stats.target_to_client;
        metrics::session_ended(f);
        log_relayed(rec, listener->url, stats);
    }
};

} // namespace

session::session(accepted conn, const listener_info& listener, server_context& ctx)
    : conn_(std::move(conn))
    , listener_(listener)
    , ctx_(ctx)
    , dl_(conn_.socket.get_executor())
    , hs_(listener.handshake) {
    rec_.client = conn_.remote; // TCP_NODELAY comes from the listening socket
}

void session::begin(step s) {
    const auto& cfg = ctx_.cfg;
    dl_.expires_after(s == step::command ? cfg.connect_timeout
                      : s == step::peer  ? cfg.bind_timeout
                                         : cfg.handshake_timeout);
    // A command reports its own steps' timeouts (in its reply).
    timeout_ = s == step::handshake ? outcome::handshake_timeout
               : s == step::reply   ? outcome::reply_timeout
                                    : outcome::succeeded;
}

void session::fail(outcome o, std::error_code error) {
    outcome_ = o;
    error_ = error;
}

io::task<bool> session::read_proxy_header() {
    begin(step::handshake);
    proto::proxy_header_decoder decoder;
    std::array<std::uint8_t, 512> buf;
    for (;;) {
        const auto ev = decoder.next_event();
        if (const auto* header = std::get_if<proto::proxy_header_event>(&ev)) {
            if (!proxied_client(*header)) co_return false;
            hs_.receive(decoder.remaining()); // the SOCKS greeting often came with it
            co_return true;
        }
        if (const auto* bad = std::get_if<proto::proxy_error_event>(&ev))
            co_return refuse_unproxied(bad->error.message());
        auto [ec, n] =
            co_await client().async_read_some(asio::buffer(buf), dl_.bind(io::use_tuple));
        if (ec)
            co_return refuse_unproxied(
                dl_.expired()            ? "no PROXY protocol header (handshake-timeout)"
                : ec == asio::error::eof ? "no PROXY protocol header (closed)"
                                         : "no PROXY protocol header (read failed)");
        decoder.receive(std::span(buf.data(), n));
    }
}

// The header's client takes the connection's place: blocked clients and the
// limits per client are checked again under its key.
bool session::proxied_client(const proto::proxy_header_event& header) {
    if (header.is_local()) return true; // a health check, or an unknown source: the peer
    const auto client = to_endpoint(*header.source);
    conn_.remote = *client;
    rec_.client = *client;
    const auto key = server::client_key(client->address());
    if (ctx_.throttle != nullptr && ctx_.throttle->blocked(key))
        return refuse_unproxied("client blocked after repeated failed logins");
    switch (conn_.ticket.move_to(key)) {
    case refusal::none:
        return true;
    case refusal::client_sessions:
        return refuse_unproxied("--max-sessions-per-client reached");
    case refusal::client_handshakes:
        return refuse_unproxied("--max-handshakes-per-client reached");
    default:
        return refuse_unproxied("over a limit");
    }
}

// Closes without a word: nothing was said in SOCKS yet.
bool session::refuse_unproxied(std::string_view why) {
    conn_.ticket.release(); // freed before the line: whoever reads it may count on the place
    auto f = facts(rec_, listener_, std::nullopt);
    f.result = outcome::refused;
    metrics::session_ended(f);
    log_refused(rec_, why);
    return false;
}

io::task<bool> session::negotiate() {
    // With PROXY protocol the step began with the header: one deadline for both.
    if (!listener_.spec.proxy_protocol) begin(step::handshake);
    std::array<std::uint8_t, 1024> buf;
    for (;;) {
        // A deadline that passed between two steps cancelled no operation.
        if (dl_.expired()) co_return false;
        auto ev = hs_.next_event();
        if (const auto out = hs_.take_output(); !out.empty()) {
            if (log::enabled(log::level::debug)) log_step(rec_, "sent " + hex(out));
            const auto sent = io::send_now(client(), out);
            if (sent < out.size() && co_await io::write_rest(client(), dl_, out, sent)) {
                fail(outcome::client_write_failed);
                co_return false;
            }
        }
        if (std::holds_alternative<proto::need_data>(ev)) {
            auto [ec, n] =
                co_await client().async_read_some(asio::buffer(buf), dl_.bind(io::use_tuple));
            if (ec) {
                fail(ec == asio::error::eof ? outcome::client_closed : outcome::client_read_failed);
                co_return false;
            }
            got_bytes_ = true;
            hs_.receive(std::span(buf.data(), n));
        } else if (const auto* cred = std::get_if<proto::credentials_event>(&ev)) {
            if (!authenticate_at_once(*cred)) co_await authenticate(*cred);
        } else if (auto* req = std::get_if<proto::request_event>(&ev)) {
            request_ = std::move(*req);
            rec_.proto = protocol_name(*request_);
            rec_.target = request_->destination;
            if (log::enabled(log::level::debug))
                log_step(rec_,
                         fmt::format("request {} {}", rec_.proto, command_name(request_->cmd)));
            co_return true;
        } else {
            const auto& err = std::get<proto::error_event>(ev);
            if (const auto v = hs_.protocol())
                rec_.proto = *v == proto::version::socks5 ? "socks5" : "socks4";
            fail(blocked_ ? outcome::client_blocked : outcome::refused, err.error);
            // A reply to a request (SOCKS5: 10 bytes or more, SOCKS4: 8), not to a
            // greeting, nor the HTTP 400 an HTTP client gets.
            if (err.reply.size() >= 8 && (err.reply[0] == 0x00 || err.reply[0] == 0x05))
                rec_.reply = err.reply[1];
            if (const auto sent = io::send_now(client(), err.reply); sent < err.reply.size())
                co_await io::write_rest(client(), dl_, err.reply, sent);
            if (err.error == proto::errc::http_request) {
                // A short wait of its own, whose end changes nothing: the refusal is the outcome.
                dl_.expires_after(std::chrono::seconds(2));
                timeout_ = outcome::succeeded;
                co_await drop_request(client(), dl_);
            }
            co_return false;
        }
    }
}

// RFC 1929, when the answer needs no waiting (no coroutine to start): false
// when it does.
bool session::authenticate_at_once(const proto::credentials_event& cred) {
    rec_.user = log::printable(cred.username);
    const auto verdict = login_at_once(ctx_, client_key(), cred);
    if (verdict) authenticated(cred, *verdict);
    return verdict.has_value();
}

io::task<void> session::authenticate(const proto::credentials_event& cred) {
    const auto verdict = co_await check_login(ctx_, dl_, client_key(), cred);
    if (!dl_.expired()) authenticated(cred, verdict);
}

// The verdict goes to the codec, which answers the client.
void session::authenticated(const proto::credentials_event& cred, login_verdict v) {
    blocked_ = v == login_verdict::blocked;
    if (log::enabled(log::level::debug))
        log_step(rec_, fmt::format("login user={} {}", rec_.user,
                                   v == login_verdict::accepted   ? "accepted"
                                   : v == login_verdict::rejected ? "rejected"
                                                                  : "blocked"));
    if (v == login_verdict::rejected) metrics::login_failed(listener_.index);
    if (v == login_verdict::accepted) user_ = cred.username;
    hs_.auth_result(v == login_verdict::accepted);
}

std::error_code session::authorize() {
    if (!resolvable(request_->destination)) {
        log_refused(rec_, "not a host name");
        return proto::errc::not_a_host_name;
    }
    access_.emplace(ctx_.access.get(), listener_.index,
                    facts_of(*request_, conn_.remote, listener_.url, user_), ctx_.hosts);
    if (access_->allowed_by_name()) return {};
    log_denied(rec_, *access_->denial());
    return proto::errc::not_allowed;
}

io::task<bool> session::reply(proto::reply_code code, const proto::address& bound) {
    begin(step::reply);
    const auto bytes = hs_.reply(code, bound);
    rec_.reply = bytes[1];
    const auto sent = io::send_now(client(), bytes);
    if (sent == bytes.size() || !co_await io::write_rest(client(), dl_, bytes, sent))
        co_return true;
    fail(outcome::client_write_failed);
    co_return false;
}

io::task<void> session::refuse(std::error_code error) {
    fail(outcome::command_failed, error);
    // Named: GCC 12 may destroy a temporary of a co_await expression twice
    // (docs/architecture.md).
    const proto::address none{proto::ipv4_bytes{}, 0};
    co_await reply(proto::to_reply_code(error), none);
    finish();
}

io::task<bool> session::forward_early(io::tcp_socket& target) {
    const auto early = hs_.take_remaining();
    const auto sent = dl_.expired() ? 0 : io::send_now(target, early);
    if (!dl_.expired() &&
        (sent == early.size() || !co_await io::write_rest(target, dl_, early, sent))) {
        rec_.up += early.size();
        co_return true;
    }
    fail(outcome::target_write_failed);
    co_return false;
}

void session::hand_over(io::tcp_socket target) {
    relay::async_relay(
        std::move(conn_.socket), std::move(target), ctx_.cfg.relay,
        relay_done{std::move(rec_), &listener_, std::move(conn_.ticket), request_->cmd});
}

void session::hand_over(udp_sockets sockets, const asio::ip::address& client, std::uint16_t port) {
    udp_association_parts parts{std::move(conn_.socket), std::move(sockets), client, port,
                                std::move(*access_),     client_key()};
    start_udp_association(std::move(parts), ctx_,
                          [rec = std::move(rec_), l = &listener_,
                           ticket = std::make_shared<admission::ticket>(std::move(conn_.ticket))](
                              const udp_stats& stats) {
                              ticket->release();
                              auto f = facts(rec, *l, proto::command::udp_associate);
                              f.relay = metrics::relay_mode::udp;
                              f.up += stats.bytes_up;
                              f.down = stats.bytes_down;
                              metrics::session_ended(f);
                              metrics::udp_ended(stats);
                              log_udp(rec, l->url, stats);
                          });
}

void session::finish() {
    if (dl_.expired() && timeout_ != outcome::succeeded) outcome_ = timeout_;
    const auto result =
        outcome_text(outcome_, error_, request_ ? request_->cmd : proto::command::connect);
    session_end e;
    e.result = result;
    e.quiet = outcome_ == outcome::client_closed && !got_bytes_;       // a pre-connect
    if (ctx_.closing.load(std::memory_order_relaxed)) e.end = "drain"; // cut short by a drain
    conn_.ticket.release(); // freed before the line: whoever reads it may count on the place
    auto f = facts(rec_, listener_, request_ ? std::optional(request_->cmd) : std::nullopt);
    f.result = outcome_;
    f.error = error_;
    metrics::session_ended(f);
    log_session(rec_, listener_.url, e);
}

} // namespace weir::server
