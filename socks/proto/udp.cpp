#include "socks/proto/udp.hpp"

#include "socks/proto/socks5.hpp"

#include <algorithm>
#include <string>
#include <tuple>

namespace weir::proto {
namespace {

using udp_host = decltype(udp_destination::host);

// Where DST.ADDR starts: after RSV RSV FRAG ATYP.
constexpr std::size_t addr_at = udp_header_fixed_size;

template <class Bytes>
std::error_code decode_ip(std::span<const std::uint8_t> in, udp_host& host,
                          std::size_t& port_at) noexcept {
    Bytes ip{};
    if (in.size() < addr_at + ip.size()) return errc::truncated_datagram;
    std::copy_n(in.begin() + addr_at, ip.size(), ip.begin());
    host = ip;
    port_at = addr_at + ip.size();
    return {};
}

// LEN NAME; a NUL in the part of NAME that is there fails before a cut after it.
std::error_code decode_domain(std::span<const std::uint8_t> in, udp_host& host,
                              std::size_t& port_at) noexcept {
    if (in.size() < addr_at + 1) return errc::truncated_datagram;
    const std::size_t len = in[addr_at];
    if (len == 0) return errc::empty_domain;
    const auto name = in.subspan(addr_at + 1, std::min(len, in.size() - addr_at - 1));
    if (std::find(name.begin(), name.end(), std::uint8_t{0}) != name.end()) {
        return errc::bad_domain;
    }
    if (name.size() < len) return errc::truncated_datagram;
    host = std::string_view(reinterpret_cast<const char*>(name.data()), name.size());
    port_at = addr_at + 1 + len;
    return {};
}

std::error_code decode_host(std::span<const std::uint8_t> in, udp_host& host,
                            std::size_t& port_at) noexcept {
    switch (in[3]) {
    case socks5::atyp_ipv4:
        return decode_ip<ipv4_bytes>(in, host, port_at);
    case socks5::atyp_ipv6:
        return decode_ip<ipv6_bytes>(in, host, port_at);
    case socks5::atyp_domain:
        return decode_domain(in, host, port_at);
    default:
        return errc::address_type_not_supported;
    }
}

template <class Bytes>
std::size_t encode(std::span<std::uint8_t, udp_header_ipv6_size> out, std::uint8_t atyp,
                   const Bytes& ip, std::uint16_t port) noexcept {
    static_assert(addr_at + std::tuple_size_v<Bytes> + 2 <= udp_header_ipv6_size);
    out[0] = 0x00; // RSV
    out[1] = 0x00;
    out[2] = 0x00; // FRAG
    out[3] = atyp;
    std::copy(ip.begin(), ip.end(), out.begin() + addr_at);
    out[addr_at + ip.size()] = static_cast<std::uint8_t>(port >> 8);
    out[addr_at + ip.size() + 1] = static_cast<std::uint8_t>(port & 0xff);
    return addr_at + ip.size() + 2;
}

} // namespace

address to_address(const udp_destination& d) {
    if (const auto* name = std::get_if<std::string_view>(&d.host)) {
        return {std::string(*name), d.port};
    }
    if (const auto* v4 = std::get_if<ipv4_bytes>(&d.host)) return {*v4, d.port};
    return {std::get<ipv6_bytes>(d.host), d.port};
}

std::error_code decode_udp_datagram(std::span<const std::uint8_t> datagram,
                                    udp_datagram& out) noexcept {
    if (datagram.size() < udp_header_fixed_size) return errc::truncated_datagram;
    if (datagram[0] != 0 || datagram[1] != 0) return errc::bad_reserved;
    udp_host host;
    std::size_t port_at = 0;
    if (const auto ec = decode_host(datagram, host, port_at)) return ec;
    if (datagram.size() < port_at + 2) return errc::truncated_datagram;
    const auto port = static_cast<std::uint16_t>((datagram[port_at] << 8) | datagram[port_at + 1]);
    out.frag = datagram[2];
    out.destination = {host, port};
    out.header_size = port_at + 2;
    out.data = datagram.subspan(port_at + 2);
    return {};
}

std::size_t encode_udp_header(std::span<std::uint8_t, udp_header_ipv6_size> out,
                              const ipv4_bytes& source, std::uint16_t port) noexcept {
    return encode(out, socks5::atyp_ipv4, source, port);
}

std::size_t encode_udp_header(std::span<std::uint8_t, udp_header_ipv6_size> out,
                              const ipv6_bytes& source, std::uint16_t port) noexcept {
    return encode(out, socks5::atyp_ipv6, source, port);
}

} // namespace weir::proto
