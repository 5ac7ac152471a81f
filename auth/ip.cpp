#include "auth/ip.hpp"

#include "text/ip.hpp"

#include <algorithm>
#include <cstddef>

namespace weir::auth {
namespace {

constexpr std::array<std::uint8_t, 12> v4_mapped_prefix = {0, 0, 0, 0, 0,    0,
                                                           0, 0, 0, 0, 0xff, 0xff};

/// `a` with every bit after the first `prefix` bits cleared.
ip_address masked(const ip_address& a, unsigned prefix) {
    ip_address::v6_bytes b{};
    const auto in = a.bytes();
    for (std::size_t i = 0; i < in.size(); ++i) {
        const unsigned first_bit = static_cast<unsigned>(i) * 8;
        if (first_bit + 8 <= prefix) {
            b[i] = in[i];
        } else if (first_bit < prefix) {
            b[i] = static_cast<std::uint8_t>(in[i] & (0xff00U >> (prefix - first_bit)));
        }
    }
    if (a.is_v4()) return ip_address(ip_address::v4_bytes{b[0], b[1], b[2], b[3]});
    return ip_address(b);
}

} // namespace

ip_address::ip_address(const v4_bytes& bytes) noexcept {
    std::copy(bytes.begin(), bytes.end(), bytes_.begin());
}

ip_address::ip_address(const v6_bytes& bytes) noexcept
    : bytes_(bytes)
    , v4_(false) {}

std::optional<ip_address> ip_address::parse(std::string_view text) {
    if (text.find(':') == std::string_view::npos) {
        if (const auto v4 = text::parse_ipv4(text)) return ip_address(*v4);
        return {};
    }
    if (const auto v6 = text::parse_ipv6(text)) return ip_address(*v6);
    return {};
}

std::span<const std::uint8_t> ip_address::bytes() const noexcept {
    return {bytes_.data(), v4_ ? std::size_t{4} : std::size_t{16}};
}

bool ip_address::is_v4_mapped() const noexcept {
    return !v4_ && std::equal(v4_mapped_prefix.begin(), v4_mapped_prefix.end(), bytes_.begin());
}

ip_address ip_address::normalized() const noexcept {
    if (!is_v4_mapped()) return *this;
    return ip_address(v4_bytes{bytes_[12], bytes_[13], bytes_[14], bytes_[15]});
}

std::optional<ip_address> ip_address::embedded_v4() const noexcept {
    if (v4_) return {};
    const auto& b = bytes_;
    const auto zero = [&b](std::size_t from, std::size_t to) {
        return std::all_of(b.begin() + static_cast<std::ptrdiff_t>(from),
                           b.begin() + static_cast<std::ptrdiff_t>(to),
                           [](std::uint8_t x) { return x == 0; });
    };
    const auto tail = [&b](std::size_t at) {
        return ip_address(v4_bytes{b[at], b[at + 1], b[at + 2], b[at + 3]});
    };
    const bool ffff_at_10 = b[10] == 0xff && b[11] == 0xff;
    if (zero(0, 10) && (ffff_at_10 || (b[10] == 0 && b[11] == 0)))
        return tail(12); // mapped, compatible
    if (zero(0, 8) && b[8] == 0xff && b[9] == 0xff && zero(10, 12)) return tail(12); // translated
    if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && zero(4, 12))
        return tail(12);                              // NAT64 well-known prefix
    if (b[0] == 0x20 && b[1] == 0x02) return tail(2); // 6to4
    return {};
}

std::string ip_address::to_string() const {
    if (v4_) return text::ipv4_to_string(bytes().first<4>());
    return text::ipv6_to_string(bytes_);
}

cidr::cidr(const ip_address& host) noexcept
    : network_(host.normalized())
    , prefix_(network_.is_v4() ? 32U : 128U) {}

cidr::cidr(const ip_address& address, unsigned prefix) noexcept {
    prefix_ = std::min(prefix, address.is_v4() ? 32U : 128U);
    network_ = masked(address, prefix_);
    if (network_.is_v4_mapped() && prefix_ >= 96) {
        network_ = network_.normalized();
        prefix_ -= 96;
    }
}

std::optional<cidr> cidr::parse(std::string_view text, parse_error* error) {
    const auto fail = [error](parse_error e) {
        if (error) *error = e;
        return std::optional<cidr>{};
    };
    const auto slash = text.find('/');
    const auto address = ip_address::parse(text.substr(0, slash));
    if (!address) return fail(parse_error::bad_address);
    if (slash == std::string_view::npos) return cidr(*address);
    const auto length = text.substr(slash + 1);
    const auto prefix = text::parse_decimal(length, address->is_v4() ? 32U : 128U);
    if (!prefix) return fail(parse_error::bad_prefix);
    if (masked(*address, *prefix) != *address) return fail(parse_error::host_bits_set);
    return cidr(*address, *prefix);
}

bool cidr::contains(const ip_address& a) const noexcept {
    const auto n = a.normalized();
    return n.is_v4() == network_.is_v4() && masked(n, prefix_) == network_;
}

bool cidr::contains(const cidr& inner) const noexcept {
    return inner.prefix_ >= prefix_ && contains(inner.network_);
}

std::string cidr::to_string() const {
    const unsigned host = network_.is_v4() ? 32U : 128U;
    if (prefix_ == host) return network_.to_string();
    return network_.to_string() + '/' + std::to_string(prefix_);
}

} // namespace weir::auth
