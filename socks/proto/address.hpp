#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

namespace weir::proto {

using ipv4_bytes = std::array<std::uint8_t, 4>;  ///< network byte order
using ipv6_bytes = std::array<std::uint8_t, 16>; ///< network byte order

/// A SOCKS destination or bound address: IPv4, IPv6 or a domain name, plus a port.
struct address {
    std::variant<ipv4_bytes, ipv6_bytes, std::string> host;
    std::uint16_t port = 0;

    bool is_domain() const noexcept { return std::holds_alternative<std::string>(host); }
    bool operator==(const address&) const = default;
};

/// "1.2.3.4:80", "[::1]:443", "example.com:443". Non-printable bytes in a
/// domain are escaped as \xNN so that a log line stays one line.
std::string to_string(const address& a);

/// Host-name syntax, the only names weir resolves: labels of 1..63 letters,
/// digits, '-' or '_', separated by single dots, 253 bytes at most, one
/// trailing dot allowed. No escapes (a resolver would decode "\\112" to 'p'
/// behind the rules' back), no empty labels, no spaces or control bytes.
bool is_host_name(std::string_view name) noexcept;

/// The host part alone, IPv6 without brackets: "1.2.3.4", "::1", "example.com".
std::string host_to_string(const address& a);

} // namespace weir::proto
