#pragma once

#include "socks/proto/address.hpp"
#include "socks/proto/error.hpp"
#include "socks/proto/events.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <system_error>
#include <vector>

/// SOCKS4 and SOCKS4a messages (https://www.openssh.com/txt/socks4.protocol,
/// https://www.openssh.com/txt/socks4a.protocol).
namespace weir::proto::socks4 {

/// Reply codes (the CD field).
inline constexpr std::uint8_t granted_code = 0x5A;
inline constexpr std::uint8_t rejected_code = 0x5B;

/// Decodes one SOCKS4 or SOCKS4a request from the front of `in`:
///
///     +----+----+----+----+----+----+----+----+----+----+....+----+
///     | VN | CD | DSTPORT |      DSTIP        | USERID       |NULL|
///     +----+----+----+----+----+----+----+----+----+----+....+----+
///        1    1      2              4           variable       1
///
/// SOCKS4a: DSTIP is 0.0.0.x with x != 0, and `HOSTNAME NULL` follows the USERID.
/// Returns the bytes the request took; 0 when more are needed or on error (`ec` set).
/// CD must be 1 (CONNECT) or 2 (BIND). USERID and HOSTNAME longer than
/// `max_field` bytes fail as soon as the cap is passed, before their NUL arrives.
std::size_t decode_request(std::span<const std::uint8_t> in, std::size_t max_field,
                           request_event& out, std::error_code& ec);

/// The reply:
///
///     +----+----+----+----+----+----+----+----+
///     | VN | CD | DSTPORT |      DSTIP        |
///     +----+----+----+----+----+----+----+----+
///        1    1      2              4
///
/// VN 0, CD 0x5A when `granted` else 0x5B; port and IP of `bound` when it is
/// IPv4, zeros otherwise.
std::vector<std::uint8_t> encode_reply(bool granted, const address& bound);

} // namespace weir::proto::socks4
