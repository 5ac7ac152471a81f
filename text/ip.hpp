#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace weir::text {

/// Appends the dotted quad of 4 bytes in network order: "192.0.2.1".
void append_ipv4(std::string& out, std::span<const std::uint8_t, 4> bytes);

/// Appends the RFC 5952 text of 16 bytes in network order: lowercase hex
/// groups without leading zeros; the longest run of two or more zero groups
/// (the leftmost on a tie) as "::", a single zero group as "0"; IPv4-mapped
/// addresses as "::ffff:192.0.2.1". "2001:db8::1", "::1", "::".
void append_ipv6(std::string& out, std::span<const std::uint8_t, 16> bytes);

/// The same, as a new string.
std::string ipv4_to_string(std::span<const std::uint8_t, 4> bytes);
std::string ipv6_to_string(std::span<const std::uint8_t, 16> bytes);

/// The 4 bytes of a strict dotted quad: four decimal octets 0 to 255 without
/// leading zeros ("10.0.0.1"); no inet_aton shorthands ("127.1", "0x7f.0.0.1").
std::optional<std::array<std::uint8_t, 4>> parse_ipv4(std::string_view text);

/// The 16 bytes of RFC 4291 IPv6 text: hex groups, at most one `::`, an
/// optional dotted-quad tail ("::ffff:1.2.3.4"). No brackets or zones.
std::optional<std::array<std::uint8_t, 16>> parse_ipv6(std::string_view text);

/// "0".."max" in decimal, at most three digits, without leading zeros (an
/// octet, a prefix length).
std::optional<unsigned> parse_decimal(std::string_view text, unsigned max);

} // namespace weir::text
