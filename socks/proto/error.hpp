#pragma once

#include <cstdint>
#include <system_error>

namespace weir::proto {

/// SOCKS5 reply codes (RFC 1928 section 6).
enum class reply_code : std::uint8_t {
    succeeded = 0x00,
    general_failure = 0x01,
    not_allowed = 0x02,
    network_unreachable = 0x03,
    host_unreachable = 0x04,
    connection_refused = 0x05,
    ttl_expired = 0x06,
    command_not_supported = 0x07,
    address_type_not_supported = 0x08,
};

/// Everything that can go wrong in a handshake or while reaching a target.
enum class errc {
    // codec
    bad_version = 1,       ///< first byte is neither 4 nor 5, or a later VER field is wrong
    protocol_not_enabled,  ///< SOCKS4 on a SOCKS5-only listener or the reverse
    no_methods,            ///< SOCKS5 greeting with NMETHODS = 0
    no_acceptable_method,  ///< greeting offers nothing we accept: reply 05 FF
    bad_auth_version,      ///< RFC 1929 sub-negotiation VER is not 0x01
    empty_username,        ///< RFC 1929 ULEN = 0
    empty_password,        ///< RFC 1929 PLEN = 0
    auth_failed,           ///< credentials rejected
    bad_reserved,          ///< SOCKS5 request RSV byte is not 0x00
    command_not_supported, ///< unknown or unsupported command
    address_type_not_supported,
    empty_domain,   ///< SOCKS5 domain with length 0, or SOCKS4a empty hostname
    field_too_long, ///< SOCKS4 USERID or SOCKS4a hostname over the cap
    bad_domain,     ///< domain contains a NUL byte
    // reaching the target
    host_not_found,
    resolver_busy,
    connect_timeout,
    not_allowed,
    not_a_host_name, ///< a domain outside host-name syntax: refused, never resolved
    verifier_busy,   ///< no room to queue a password check
    // UDP ASSOCIATE
    truncated_datagram, ///< a UDP datagram that ends inside its header
    // not SOCKS at all
    http_request, ///< an HTTP/1.x request line: answered with a plain-text 400
};

const std::error_category& error_category() noexcept;
std::error_code make_error_code(errc e) noexcept;

/// The one place that maps an error (ours, or an errno from connect) to a SOCKS5 reply code.
reply_code to_reply_code(std::error_code ec) noexcept;

} // namespace weir::proto

template <>
struct std::is_error_code_enum<weir::proto::errc> : std::true_type {};
