#pragma once

#include "socks/proto/address.hpp"
#include "socks/proto/error.hpp"
#include "socks/proto/events.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <system_error>
#include <vector>

/// SOCKS5 messages (RFC 1928) and the username/password sub-negotiation (RFC 1929).
///
/// Decoders take the bytes buffered so far and return how many the message
/// took: 0 means more are needed, unless `ec` is set. They fail as soon as a
/// bad byte has arrived, without waiting for the rest of the message.
namespace weir::proto::socks5 {

inline constexpr std::uint8_t socks_version = 0x05;
inline constexpr std::uint8_t auth_version = 0x01; ///< RFC 1929 sub-negotiation VER

inline constexpr std::uint8_t method_no_auth = 0x00;
inline constexpr std::uint8_t method_password = 0x02;
inline constexpr std::uint8_t method_unacceptable = 0xFF;

inline constexpr std::uint8_t atyp_ipv4 = 0x01;
inline constexpr std::uint8_t atyp_domain = 0x03;
inline constexpr std::uint8_t atyp_ipv6 = 0x04;

/// The greeting. `methods` is set to the METHODS bytes, a view into `in`.
///
///     +----+----------+----------+
///     |VER | NMETHODS | METHODS  |
///     +----+----------+----------+
///     | 1  |    1     | 1 to 255 |
///     +----+----------+----------+
///
/// Errors: bad_version, no_methods (NMETHODS = 0).
std::size_t decode_greeting(std::span<const std::uint8_t> in,
                            std::span<const std::uint8_t>& methods, std::error_code& ec);

/// method_password if `require_password`, else method_no_auth, when `methods`
/// offers it; method_unacceptable otherwise.
std::uint8_t choose_method(std::span<const std::uint8_t> methods, bool require_password) noexcept;

/// The RFC 1929 username/password request.
///
///     +----+------+----------+------+----------+
///     |VER | ULEN |  UNAME   | PLEN |  PASSWD  |
///     +----+------+----------+------+----------+
///     | 1  |  1   | 1 to 255 |  1   | 1 to 255 |
///     +----+------+----------+------+----------+
///
/// Errors: bad_auth_version (VER != 1), empty_username, empty_password.
std::size_t decode_credentials(std::span<const std::uint8_t> in, credentials_event& out,
                               std::error_code& ec);

/// The request.
///
///     +----+-----+-------+------+----------+----------+
///     |VER | CMD |  RSV  | ATYP | DST.ADDR | DST.PORT |
///     +----+-----+-------+------+----------+----------+
///     | 1  |  1  | X'00' |  1   | Variable |    2     |
///     +----+-----+-------+------+----------+----------+
///
/// CMD 1 CONNECT, 2 BIND, 3 UDP ASSOCIATE are all passed on. Errors:
/// bad_version, command_not_supported, bad_reserved, and those of decode_address().
std::size_t decode_request(std::span<const std::uint8_t> in, request_event& out,
                           std::error_code& ec);

/// `ATYP ADDR PORT`, as in requests and UDP headers. ATYP 1: 4 bytes, ATYP 4:
/// 16 bytes, ATYP 3: a length byte then the name. Errors:
/// address_type_not_supported, empty_domain (length 0), bad_domain (a NUL byte).
std::size_t decode_address(std::span<const std::uint8_t> in, address& out, std::error_code& ec);

/// Appends `ATYP ADDR PORT`. Throws std::length_error for a domain over 255 bytes.
void append_address(std::vector<std::uint8_t>& out, const address& a);

/// The reply; a domain `bound` is legal (ATYP 3).
///
///     +----+-----+-------+------+----------+----------+
///     |VER | REP |  RSV  | ATYP | BND.ADDR | BND.PORT |
///     +----+-----+-------+------+----------+----------+
///     | 1  |  1  | X'00' |  1   | Variable |    2     |
///     +----+-----+-------+------+----------+----------+
std::vector<std::uint8_t> encode_reply(reply_code code, const address& bound);

} // namespace weir::proto::socks5
