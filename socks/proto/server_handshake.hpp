#pragma once

#include "socks/proto/address.hpp"
#include "socks/proto/error.hpp"
#include "socks/proto/events.hpp"
#include "text/field.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

namespace weir::proto {

/// The sans-I/O state machine a session drives: it sniffs SOCKS4 or SOCKS5
/// from the first byte, answers the SOCKS5 greeting itself, and yields
/// credentials and requests as events. An HTTP/1.x request line (a common
/// method and a space, up to 8 bytes) is refused with errc::http_request and
/// a plain-text `HTTP/1.1 400` saying this is a SOCKS proxy.
///
/// Driving loop:
///   receive(bytes read);
///   e = next_event();
///   write take_output() if not empty (method choice, auth status);
///   need_data -> read more; credentials -> verify, auth_result(ok);
///   request -> connect, then write reply(...), then forward take_remaining();
///   error -> write e.reply, close.
class server_handshake {
public:
    struct options {
        bool socks4 = true;            ///< accept SOCKS4 and SOCKS4a
        bool socks5 = true;            ///< accept SOCKS5
        bool require_password = false; ///< SOCKS5: method 0x02 only; otherwise 0x00 only
        /// Cap for USERID and the SOCKS4a hostname; by default that of the SOCKS5 fields.
        std::size_t max_socks4_field = text::max_field;
    };

    explicit server_handshake(options opts);

    /// Buffers input. Never fails; limits are enforced by next_event().
    void receive(std::span<const std::uint8_t> bytes);

    /// Advances the state machine as far as the buffered bytes allow.
    /// After an error_event or a request_event, it keeps returning the same kind.
    /// After a credentials_event it consumes nothing until auth_result() is
    /// called; calling it before then throws std::logic_error.
    event next_event();

    /// Bytes the machine wants sent to the client (SOCKS5 method choice, RFC 1929 status).
    std::vector<std::uint8_t> take_output();

    /// Result of verifying the last credentials_event. On success the machine
    /// goes on to the request; on failure it queues `01 01` and the next event is an error.
    /// Throws std::logic_error when no credentials_event is waiting for a result.
    void auth_result(bool ok);

    /// The reply to the request: SOCKS5 `05 REP 00 ATYP BND.ADDR BND.PORT`, or
    /// SOCKS4 `00 5A|5B DSTPORT DSTIP` (5A only when code is succeeded).
    /// Throws std::logic_error before the protocol is known, std::length_error
    /// for a SOCKS5 domain over 255 bytes.
    std::vector<std::uint8_t> reply(reply_code code, const address& bound) const;

    /// Bytes that arrived after the request (pipelined data for the target). Moves them out.
    std::vector<std::uint8_t> take_remaining();
    /// Whether take_remaining() would return any bytes.
    bool has_remaining() const noexcept;

    /// Protocol the client spoke, once known.
    std::optional<version> protocol() const noexcept;

private:
    enum class state : std::uint8_t {
        sniff,          // the first byte picks SOCKS4 or SOCKS5 (or an HTTP method, refused)
        socks4_request, // VN CD DSTPORT DSTIP USERID [HOSTNAME]
        greeting,       // VER NMETHODS METHODS
        credentials,    // RFC 1929 VER ULEN UNAME PLEN PASSWD
        awaiting_auth,  // credentials handed out, waiting for auth_result()
        socks5_request, // VER CMD RSV ATYP DST.ADDR DST.PORT
        done,           // request handed out: final_ holds it
        failed,         // error handed out: final_ holds it
    };

    std::optional<event> step();
    std::optional<event> on_sniff();
    std::optional<event> on_socks4_request();
    std::optional<event> on_greeting();
    std::optional<event> on_credentials();
    std::optional<event> on_socks5_request();
    event finish(event final_event);
    event fail(std::error_code ec, std::vector<std::uint8_t> reply);
    std::span<const std::uint8_t> unread() const noexcept;
    void consume(std::size_t n) noexcept;

    options opts_;
    state state_ = state::sniff;
    std::optional<version> version_;
    std::vector<std::uint8_t> in_; // bytes received; in_[in_pos_..] not yet consumed
    std::size_t in_pos_ = 0;
    std::vector<std::uint8_t> out_; // method choice and RFC 1929 status, for take_output()
    event final_;                   // what next_event() keeps returning once done or failed
};

} // namespace weir::proto
