#pragma once

#include "socks/proto/address.hpp"
#include "socks/proto/error.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <system_error>
#include <variant>

/// The header of a UDP ASSOCIATE datagram (RFC 1928 section 7), per datagram:
/// decoded from the client without copying or allocating, built towards the
/// client into a small fixed buffer so that header and payload go out as two
/// iovecs.
///
///     +----+------+------+----------+----------+----------+
///     |RSV | FRAG | ATYP | DST.ADDR | DST.PORT |   DATA   |
///     +----+------+------+----------+----------+----------+
///     | 2  |  1   |  1   | Variable |    2     | Variable |
///     +----+------+------+----------+----------+----------+
namespace weir::proto {

/// RSV RSV FRAG ATYP, the part of every header before DST.ADDR.
inline constexpr std::size_t udp_header_fixed_size = 4;
/// The header with an IPv4 address, the shortest: 4 + 4 + 2.
inline constexpr std::size_t udp_header_ipv4_size = 10;
/// The header with an IPv6 address: 4 + 16 + 2. The longest that
/// encode_udp_header() writes.
inline constexpr std::size_t udp_header_ipv6_size = 22;
/// The header with a 255-byte domain name, the longest a client can send: 4 + 1 + 255 + 2.
inline constexpr std::size_t udp_header_max_size = 262;

/// The largest UDP payload over IPv4: 65,535 (IPv4 total length) - 20 (IPv4
/// header, no options) - 8 (UDP header) = 65,507 bytes. A SOCKS datagram
/// (header + DATA) must fit in it, so the most DATA that can be relayed to an
/// IPv4 client is 65,507 - udp_header_ipv4_size. IPv6 without jumbograms allows
/// 65,527 (65,535 - 8); a receive buffer of 65,535 bytes holds any datagram.
inline constexpr std::size_t max_udp_payload = 65'507;

/// Where a client's datagram goes. A domain name is a view into the datagram:
/// valid only while the datagram's bytes are, so copy it (to_address()) before
/// the receive buffer is reused. Names are not checked for host-name syntax
/// (text::is_host_name) here: the caller does, before it resolves.
struct udp_destination {
    std::variant<ipv4_bytes, ipv6_bytes, std::string_view> host;
    std::uint16_t port = 0;

    bool is_domain() const noexcept { return std::holds_alternative<std::string_view>(host); }
    bool operator==(const udp_destination&) const = default;
};

/// The same destination as an owning address; copies a domain name.
address to_address(const udp_destination& d);

/// A datagram from the client, decoded: its header, and DATA as a view into it.
struct udp_datagram {
    std::uint8_t frag = 0; ///< FRAG as sent: 0 for a whole datagram; weir drops the others
    udp_destination destination;
    std::size_t header_size = 0;        ///< where DATA starts in the datagram
    std::span<const std::uint8_t> data; ///< DATA, never copied; may be empty
};

/// Decodes the header of one whole datagram from the client. On success `out`
/// holds it, with header_size + data.size() == datagram.size(); on error `out`
/// is left as it was. Reads nothing outside `datagram` and allocates nothing.
///
/// FRAG is reported, not judged. Checks run in wire order, each as soon as its
/// bytes are there, so a bad byte is named even in a datagram cut short after
/// it. Errors:
///   truncated_datagram          the datagram ends inside the header (under 4 bytes, or
///                               in DST.ADDR or DST.PORT)
///   bad_reserved                RSV is not 0x0000
///   address_type_not_supported  ATYP is not 1 (IPv4), 3 (domain) or 4 (IPv6)
///   empty_domain                ATYP 3 with length 0
///   bad_domain                  a NUL byte in the domain name
std::error_code decode_udp_datagram(std::span<const std::uint8_t> datagram,
                                    udp_datagram& out) noexcept;

/// Room for the header of a reply datagram (encode_udp_header()).
using udp_header_buffer = std::array<std::uint8_t, udp_header_ipv6_size>;

/// Writes `00 00 00 01 ADDR PORT` (RSV 0, FRAG 0, ATYP 1), the header of a
/// datagram from `source` to the client, at the front of `out`; returns its
/// length, udp_header_ipv4_size. Send it and the payload as two iovecs.
///
/// Replies name their source as the IP it came from, so there is no domain
/// form. A v4-mapped IPv6 source (from a dual-stack socket) should be unmapped
/// by the caller, so that the client sees ATYP 1.
std::size_t encode_udp_header(std::span<std::uint8_t, udp_header_ipv6_size> out,
                              const ipv4_bytes& source, std::uint16_t port) noexcept;

/// Writes `00 00 00 04 ADDR PORT` (ATYP 4); returns udp_header_ipv6_size.
std::size_t encode_udp_header(std::span<std::uint8_t, udp_header_ipv6_size> out,
                              const ipv6_bytes& source, std::uint16_t port) noexcept;

} // namespace weir::proto
