#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace weir::auth {

/// An IPv4 or IPv6 address, bytes in network order. No zone, no port.
class ip_address {
public:
    using v4_bytes = std::array<std::uint8_t, 4>;
    using v6_bytes = std::array<std::uint8_t, 16>;

    /// 0.0.0.0
    ip_address() = default;
    explicit ip_address(const v4_bytes& bytes) noexcept;
    explicit ip_address(const v6_bytes& bytes) noexcept;

    /// Strict text forms only: dotted quad without leading zeros ("10.0.0.1"),
    /// RFC 4291 IPv6 with `::` and an optional dotted-quad tail ("::ffff:1.2.3.4").
    /// No brackets, zones, or inet_aton shorthands ("127.1", "0x7f.0.0.1").
    static std::optional<ip_address> parse(std::string_view text);

    bool is_v4() const noexcept { return v4_; }
    /// 4 or 16 bytes.
    std::span<const std::uint8_t> bytes() const noexcept;
    /// True for ::ffff:a.b.c.d.
    bool is_v4_mapped() const noexcept;
    /// ::ffff:a.b.c.d becomes a.b.c.d; anything else is returned as is.
    ip_address normalized() const noexcept;
    /// The IPv4 address an IPv6 address carries, in the forms that deliver to
    /// it: IPv4-mapped ::ffff:a.b.c.d, IPv4-compatible ::a.b.c.d, IPv4-translated
    /// ::ffff:0:a.b.c.d (RFC 2765), NAT64 64:ff9b::a.b.c.d (RFC 6052) and 6to4
    /// 2002:AABB:CCDD::/48 (RFC 3056). None for IPv4 addresses and other IPv6.
    std::optional<ip_address> embedded_v4() const noexcept;

    /// "10.0.0.1"; IPv6 in RFC 5952 form ("2001:db8::1", "::ffff:1.2.3.4").
    std::string to_string() const;

    bool operator==(const ip_address&) const = default;

private:
    v6_bytes bytes_{}; // IPv4 uses the first 4 bytes
    bool v4_ = true;
};

/// An address block: a network address and a prefix length.
class cidr {
public:
    /// The block holding exactly `host`. The address is normalized (IPv4-mapped -> IPv4).
    explicit cidr(const ip_address& host) noexcept;
    /// The block of `prefix` bits (clamped to the address size) that holds
    /// `address`: host bits are cleared, IPv4-mapped blocks become IPv4.
    cidr(const ip_address& address, unsigned prefix) noexcept;

    enum class parse_error : std::uint8_t { none, bad_address, bad_prefix, host_bits_set };

    /// "10.0.0.0/8", "fe80::/10", or a bare address ("::1" is ::1/128).
    /// Host bits must be zero (else `host_bits_set`). A block inside ::ffff:0:0/96
    /// is normalized to IPv4 ("::ffff:10.0.0.0/104" is 10.0.0.0/8).
    static std::optional<cidr> parse(std::string_view text, parse_error* error = nullptr);

    const ip_address& network() const noexcept { return network_; }
    unsigned prefix() const noexcept { return prefix_; }

    /// True when `a`, normalized, is in the block. IPv4 addresses are only in
    /// IPv4 blocks and IPv6 addresses only in IPv6 blocks.
    bool contains(const ip_address& a) const noexcept;
    /// True when every address of `inner` is in this block (same family).
    bool contains(const cidr& inner) const noexcept;

    /// "10.0.0.0/8"; a single address is printed without its prefix ("::1").
    std::string to_string() const;

    bool operator==(const cidr&) const = default;

private:
    ip_address network_;
    unsigned prefix_ = 0;
};

} // namespace weir::auth
