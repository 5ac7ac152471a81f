#pragma once

#include "io/deadline.hpp"
#include "io/task.hpp"
#include "io/tcp_socket.hpp"
#include "socks/proto/proxy_protocol.hpp"
#include "socks/proto/server_handshake.hpp"
#include "socks/server/access.hpp"
#include "socks/server/context.hpp"
#include "socks/server/listener.hpp"
#include "socks/server/login.hpp"
#include "socks/server/session_log.hpp"
#include "socks/server/udp_association.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <system_error>

namespace weir::server {

/// The whole life of one client connection, as RFC 1928 tells it
/// (session_script.cpp): negotiate
/// the method, authenticate (RFC 1929), authorize the request by the rules,
/// run its command (which replies), hand over to the relay; one log line at
/// the end. The coroutine ends when the relay starts: the relay
/// (handler-driven) takes both sockets and what the log line needs, so an
/// idle session keeps no coroutine frame.
io::task<void> run_session(accepted conn, const listener_info& listener, server_context& ctx);

/// One client connection from its accept to the hand-over: the client
/// socket, the codec, the current step's deadline, the log record and the
/// outcome. run_session's script and the commands drive it; it lives in
/// run_session's coroutine frame.
class session {
public:
    /// The steps with a time limit of their own.
    enum class step : unsigned char {
        handshake, ///< method, authentication, request: handshake timeout
        command,   ///< what the command waits for (connect: the connect timeout)
        peer,      ///< BIND: the wait for the peer's connection (the bind timeout)
        reply,     ///< the reply and the bytes the client sent early: handshake timeout
    };

    session(accepted conn, const listener_info& listener, server_context& ctx);

    /// A PROXY protocol listener's first step, under the handshake deadline
    /// (which negotiate() then keeps): reads the header; the client it names
    /// (unless LOCAL or UNKNOWN) is the client from then on, for the rules,
    /// the limits, the throttle and the log. The bytes after it go to the
    /// codec. False, with one log line and the place freed, if the header is
    /// missing, malformed or late, or its client is blocked or over a limit.
    io::task<bool> read_proxy_header();

    /// Runs the codec until it yields a request, authenticating on the way;
    /// false if the client failed, left, was refused or ran out of time.
    io::task<bool> negotiate();
    /// The place among the handshakes is free once the request is in.
    void handshake_done() { conn_.ticket.handshake_done(); }
    /// The access rules, for every command, before any reply: the error to
    /// refuse the request with, or none.
    std::error_code authorize();
    /// Writes the reply; false (outcome recorded) if it could not be written.
    io::task<bool> reply(proto::reply_code code, const proto::address& bound);
    /// Replies with `error`'s code and ends the session (outcome command_failed).
    io::task<void> refuse(std::error_code error);
    /// Whether the client sent bytes behind its request (ask before
    /// forward_early(): most do not, and a coroutine not started costs nothing).
    bool has_early_bytes() const noexcept { return hs_.has_remaining(); }
    /// Forwards the bytes the client sent behind its request; false (outcome
    /// recorded) if they could not be written in time.
    io::task<bool> forward_early(io::tcp_socket& target);
    /// Hands the client and `target` to the relay, which writes the log line.
    void hand_over(io::tcp_socket target);
    /// UDP ASSOCIATE: hands the control connection and the UDP sockets to the
    /// association, held to `client` (`port` 0: its first datagram's).
    void hand_over(udp_sockets sockets, const asio::ip::address& client, std::uint16_t port);
    /// Ends a session that is not handed over: frees its place, logs its line.
    void finish();

    /// Starts `s`: arms the deadline with the step's time limit.
    void begin(step s);
    /// Records how the session ended (a later timeout of the step overrides it).
    void fail(outcome o, std::error_code error = {});

    const proto::request_event& request() const noexcept { return *request_; }
    io::tcp_socket& client() noexcept { return conn_.socket; }
    const std::string& client_key() const noexcept { return conn_.ticket.client(); }
    io::deadline& deadline() noexcept { return dl_; }
    server_context& context() const noexcept { return ctx_; }
    /// The check authorize() made; commands check each address they reach with it.
    access_check& access() noexcept { return *access_; }
    session_record& record() noexcept { return rec_; }

private:
    bool proxied_client(const proto::proxy_header_event& header);
    bool refuse_unproxied(std::string_view why);
    bool authenticate_at_once(const proto::credentials_event& cred);
    io::task<void> authenticate(const proto::credentials_event& cred);
    void authenticated(const proto::credentials_event& cred, login_verdict v);

    accepted conn_;
    const listener_info& listener_;
    server_context& ctx_;
    io::deadline dl_;
    proto::server_handshake hs_;
    session_record rec_;
    std::optional<proto::request_event> request_;
    std::optional<access_check> access_;
    std::optional<std::string> user_; ///< the user, once the password checked out
    std::error_code error_;           ///< why, for outcomes that say
    outcome outcome_ = outcome::succeeded;
    outcome timeout_ = outcome::succeeded; ///< what the current step's timeout means
    bool blocked_ = false;                 ///< a login attempt came while the client was blocked
    bool got_bytes_ = false;               ///< the client sent a byte (else: a pre-connect)
};

} // namespace weir::server
