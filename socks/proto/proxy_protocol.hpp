#pragma once

#include "socks/proto/address.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <system_error>
#include <variant>
#include <vector>

/// The PROXY protocol header (haproxy's doc/proxy-protocol.txt) that a load
/// balancer sends before the client's bytes, decoded from the bytes as they
/// arrive (split anywhere). Which version it is, or that it is none, is
/// decided from the first byte that differs from both.
///
/// Version 1, one text line of at most 107 bytes:
///
///     PROXY TCP4 <src> <dst> <sport> <dport>\r\n
///     PROXY TCP6 <src> <dst> <sport> <dport>\r\n
///     PROXY UNKNOWN[ <anything>]\r\n
///
/// Version 2, binary:
///
///     +-----------+---------+--------+--------+-----------------------+
///     | SIGNATURE | VER/CMD | FAM    | LEN    | ADDRESSES, TLVs       |
///     +-----------+---------+--------+--------+-----------------------+
///     |    12     |    1    |   1    |   2    |  LEN (at most 1008)   |
///     +-----------+---------+--------+--------+-----------------------+
///
/// SIGNATURE is 0D 0A 0D 0A 00 0D 0A 51 55 49 54 0A; VER/CMD 0x20 (LOCAL) or
/// 0x21 (PROXY); FAM 0x11 (TCP over IPv4: 4+4+2+2 address bytes) or 0x21 (TCP
/// over IPv6: 16+16+2+2). TLVs after the addresses are skipped.
///
/// Decisions where the spec leaves a choice: a PROXY command with family
/// UNSPEC (0x00) is taken like LOCAL (the real peer); UNIX sockets, UDP
/// (DGRAM) and unknown families are refused, as a TCP listener has no use for
/// them. Under LOCAL any family goes: its address block is skipped.
namespace weir::proto {

/// The longest version 1 line, CRLF included (the spec's worst case).
inline constexpr std::size_t proxy_v1_max_size = 107;
/// The fixed part of a version 2 header: signature, VER/CMD, FAM, LEN.
inline constexpr std::size_t proxy_v2_fixed_size = 16;
/// The longest version 2 header weir accepts, TLVs included.
inline constexpr std::size_t proxy_v2_max_size = 1024;

/// What can be wrong with a header; the messages go to the log.
enum class proxy_errc {
    not_proxy_header = 1,  ///< neither the v1 "PROXY " nor the v2 signature
    v1_too_long,           ///< no CRLF within 107 bytes
    v1_bad_line_end,       ///< CR not followed by LF, or LF without CR
    v1_bad_character,      ///< a byte outside printable ASCII in the line
    v1_bad_protocol,       ///< neither TCP4, TCP6 nor UNKNOWN
    v1_bad_fields,         ///< not exactly 4 fields after TCP4/TCP6, single spaces
    v1_bad_address,        ///< an address that is not of the named family
    v1_bad_port,           ///< a port that is not 0 to 65535 without leading zeros
    v2_bad_version,        ///< the version nibble is not 2
    v2_bad_command,        ///< neither LOCAL nor PROXY
    v2_unsupported_family, ///< PROXY over UNIX, UDP or an unknown family
    v2_too_long,           ///< LEN takes the header over proxy_v2_max_size
    v2_short_addresses,    ///< LEN too short for the family's addresses
};

const std::error_category& proxy_error_category() noexcept;
std::error_code make_error_code(proxy_errc e) noexcept;

/// More bytes are needed.
struct proxy_need_data {
    bool operator==(const proxy_need_data&) const = default;
};

/// A whole header. `source` and `destination` are set for a proxied TCP
/// connection (v1 TCP4/TCP6, v2 PROXY over INET/INET6); empty for v2 LOCAL,
/// v1 UNKNOWN and v2 PROXY UNSPEC, which mean: the real peer is the client.
struct proxy_header_event {
    int version = 0; ///< 1 or 2
    std::optional<address> source;
    std::optional<address> destination;
    std::size_t size = 0; ///< the header's bytes

    bool is_local() const noexcept { return !source.has_value(); }
    bool operator==(const proxy_header_event&) const = default;
};

/// The header is malformed, or missing: close the connection without a word.
struct proxy_error_event {
    std::error_code error;
    bool operator==(const proxy_error_event&) const = default;
};

using proxy_event = std::variant<proxy_need_data, proxy_header_event, proxy_error_event>;

/// Sans-I/O: receive() the bytes read, ask next_event(). After a header
/// event, remaining() holds every byte received after the header (the SOCKS
/// greeting often comes in the same segment): hand them on. After an error
/// the decoder stays failed. It keeps at most the header plus one read.
class proxy_header_decoder {
public:
    void receive(std::span<const std::uint8_t> bytes);
    /// need_data until the header is whole or wrong; then the same event again.
    proxy_event next_event();
    /// The bytes after the header (empty before a header event).
    std::span<const std::uint8_t> remaining() const noexcept;

private:
    proxy_event decode();
    proxy_event decode_v1();
    proxy_event decode_v2();

    std::vector<std::uint8_t> buf_;
    std::size_t header_size_ = 0; ///< set once the header is whole
    std::optional<proxy_event> done_;
};

} // namespace weir::proto

template <>
struct std::is_error_code_enum<weir::proto::proxy_errc> : std::true_type {};
