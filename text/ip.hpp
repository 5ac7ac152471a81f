#pragma once

#include <cstdint>
#include <span>
#include <string>

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

} // namespace weir::text
