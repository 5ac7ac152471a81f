#pragma once

#include "text/host_name.hpp"

#include <array>
#include <cstdint>
#include <string>
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

/// "1.2.3.4:80", "[::1]:443", "example.com:443". A domain's bytes outside
/// printable ASCII, and its backslashes, are escaped as \xNN so that a log line
/// stays one line; spaces are kept.
std::string to_string(const address& a);

/// Host-name syntax (text/host_name.hpp): the only names weir resolves.
using text::is_host_name;

/// The host part alone, IPv6 without brackets: "1.2.3.4", "::1", "example.com".
std::string host_to_string(const address& a);

} // namespace weir::proto
