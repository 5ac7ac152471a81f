#pragma once

#include "auth/policy.hpp"
#include "socks/proto/address.hpp"
#include "socks/proto/events.hpp"
#include "socks/relay/relay_options.hpp"
#include "socks/server/udp_association.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include <asio/ip/tcp.hpp>

namespace weir::server {

/// How a session ended before relaying, or that it relayed.
enum class outcome : std::uint8_t {
    succeeded,           ///< replied with success and relayed
    handshake_timeout,   ///< no request within the handshake timeout
    client_closed,       ///< the client left before its request
    client_read_failed,  ///< reading the client failed before its request
    client_write_failed, ///< a reply could not be written
    refused,             ///< the codec refused the handshake (the error says why)
    client_blocked,      ///< a login came while the client was blocked
    command_failed,      ///< the request was refused or failed (the error says why)
    reply_timeout,       ///< the reply or the bytes sent early were not written in time
    target_write_failed, ///< the bytes the client sent early could not be forwarded
};

/// The log's text for an outcome: "succeeded", "handshake-timeout",
/// "refused:<error>", "connect-failed:<error>" (the command's name), ...
std::string outcome_text(outcome o, std::error_code error, proto::command cmd);

/// The command as the log names it: connect, bind, udp-associate.
std::string_view command_name(proto::command cmd);

/// The protocol as the log names it: socks5, socks4a (a name) or socks4.
const char* protocol_name(const proto::request_event& req);

/// What the session's one log line says about the client; kept by the relay
/// until it ends, so it stays small.
struct session_record {
    asio::ip::tcp::endpoint client;
    std::string user = "-";
    std::optional<proto::address> target; ///< formatted only when a line is written
    const char* proto = "-";
    std::uint64_t up = 0;                            ///< bytes the client sent ahead of the reply
    std::optional<asio::ip::tcp::endpoint> resolved; ///< CONNECT: the address connected to
    int reply = -1; ///< the reply code sent to the request (its second byte); -1: none
    std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
};

/// How the session ended, for its log line.
struct session_end {
    std::string_view result = "succeeded";
    std::string_view end;           ///< how the relay ended: eof, idle-timeout, error:...
    std::string_view relay;         ///< which relay ran: splice, copy or udp
    std::string_view extra;         ///< more fields, text (UDP: datagrams and drops)
    const udp_stats* udp = nullptr; ///< UDP: the same, for JSON
    /// A connection closed before its first byte (a browser's pre-connect):
    /// logged at debug, not info.
    bool quiet = false;
    std::uint64_t up = 0;
    std::uint64_t down = 0;
};

/// The session's line: "session client=... listener=... proto=... user=...
/// target=... result=... [end=... relay=...] up=... down=... duration=...".
void log_session(const session_record& r, std::string_view listener_url, const session_end& e);

/// The line of a session that relayed, with how the relay ended.
void log_relayed(const session_record& r, std::string_view listener_url,
                 const relay::relay_stats& stats);

/// The line of a UDP association: datagrams and bytes each way, drops by reason.
void log_udp(const session_record& r, std::string_view listener_url, const udp_stats& stats);

/// "handshake client=...: <what>", at debug: the steps of a handshake, for
/// an operator debugging a client. Call only when debug is enabled.
void log_step(const session_record& r, std::string_view what);

/// "refused client=... target=...: <why>", at info.
void log_refused(const session_record& r, std::string_view why);

/// "refused client=... target=...: BIND connection from <from>, not the
/// expected peer", at info.
void log_unexpected_peer(const session_record& r, const asio::ip::tcp::endpoint& from);

/// "refused client=... target=... by <the decision>", at info.
void log_denied(const session_record& r, const auth::decision& d);

/// An error as one log token: "connection refused" -> "connection-refused".
std::string slug(std::error_code ec);

} // namespace weir::server
