#include "socks/proto/socks5.hpp"

#include "text/field.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace weir::proto::socks5 {
namespace {

std::size_t fail(std::error_code& ec, errc e) {
    ec = e;
    return 0;
}

std::string text(std::span<const std::uint8_t> bytes) {
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

std::uint16_t read_port(std::span<const std::uint8_t> in, std::size_t at) {
    return static_cast<std::uint16_t>((in[at] << 8) | in[at + 1]);
}

template <class Bytes>
std::size_t decode_ip(std::span<const std::uint8_t> in, address& out) {
    Bytes ip{};
    if (in.size() < 1 + ip.size() + 2) return 0;
    std::copy_n(in.begin() + 1, ip.size(), ip.begin());
    out = {ip, read_port(in, 1 + ip.size())};
    return 1 + ip.size() + 2;
}

// ATYP(3) LEN NAME PORT; checks the part of NAME that has arrived.
std::size_t decode_domain(std::span<const std::uint8_t> in, address& out, std::error_code& ec) {
    if (in.size() < 2) return 0;
    const std::size_t len = in[1];
    if (len == 0) return fail(ec, errc::empty_domain);
    const auto name = in.subspan(2, std::min(len, in.size() - 2));
    if (std::find(name.begin(), name.end(), std::uint8_t{0}) != name.end()) {
        return fail(ec, errc::bad_domain);
    }
    if (in.size() < 2 + len + 2) return 0;
    out = {text(name), read_port(in, 2 + len)};
    return 2 + len + 2;
}

} // namespace

std::size_t decode_greeting(std::span<const std::uint8_t> in,
                            std::span<const std::uint8_t>& methods, std::error_code& ec) {
    if (in.size() >= 1 && in[0] != socks_version) return fail(ec, errc::bad_version);
    if (in.size() < 2) return 0;
    const std::size_t count = in[1];
    if (count == 0) return fail(ec, errc::no_methods);
    if (in.size() < 2 + count) return 0;
    methods = in.subspan(2, count);
    return 2 + count;
}

std::uint8_t choose_method(std::span<const std::uint8_t> methods, bool require_password) noexcept {
    const std::uint8_t wanted = require_password ? method_password : method_no_auth;
    const bool offered = std::find(methods.begin(), methods.end(), wanted) != methods.end();
    return offered ? wanted : method_unacceptable;
}

std::size_t decode_credentials(std::span<const std::uint8_t> in, credentials_event& out,
                               std::error_code& ec) {
    if (in.size() >= 1 && in[0] != auth_version) return fail(ec, errc::bad_auth_version);
    if (in.size() < 2) return 0;
    const std::size_t ulen = in[1];
    if (ulen == 0) return fail(ec, errc::empty_username);
    if (in.size() < 2 + ulen + 1) return 0;
    const std::size_t plen = in[2 + ulen];
    if (plen == 0) return fail(ec, errc::empty_password);
    if (in.size() < 3 + ulen + plen) return 0;
    out.username = text(in.subspan(2, ulen));
    out.password = text(in.subspan(3 + ulen, plen));
    return 3 + ulen + plen;
}

std::size_t decode_request(std::span<const std::uint8_t> in, request_event& out,
                           std::error_code& ec) {
    if (in.size() >= 1 && in[0] != socks_version) return fail(ec, errc::bad_version);
    if (in.size() >= 2 && (in[1] < 1 || in[1] > 3)) return fail(ec, errc::command_not_supported);
    if (in.size() >= 3 && in[2] != 0) return fail(ec, errc::bad_reserved);
    if (in.size() < 4) return 0;
    const std::size_t used = decode_address(in.subspan(3), out.destination, ec);
    if (used == 0) return 0;
    out.ver = version::socks5;
    out.cmd = static_cast<command>(in[1]);
    return 3 + used;
}

std::size_t decode_address(std::span<const std::uint8_t> in, address& out, std::error_code& ec) {
    if (in.empty()) return 0;
    switch (in[0]) {
    case atyp_ipv4:
        return decode_ip<ipv4_bytes>(in, out);
    case atyp_ipv6:
        return decode_ip<ipv6_bytes>(in, out);
    case atyp_domain:
        return decode_domain(in, out, ec);
    default:
        return fail(ec, errc::address_type_not_supported);
    }
}

void append_address(std::vector<std::uint8_t>& out, const address& a) {
    if (const auto* v4 = std::get_if<ipv4_bytes>(&a.host)) {
        out.push_back(atyp_ipv4);
        out.insert(out.end(), v4->begin(), v4->end());
    } else if (const auto* v6 = std::get_if<ipv6_bytes>(&a.host)) {
        out.push_back(atyp_ipv6);
        out.insert(out.end(), v6->begin(), v6->end());
    } else {
        const auto& name = std::get<std::string>(a.host);
        if (name.size() > text::max_field) throw std::length_error("SOCKS5 domain over 255 bytes");
        out.push_back(atyp_domain);
        out.push_back(static_cast<std::uint8_t>(name.size()));
        out.insert(out.end(), name.begin(), name.end());
    }
    out.push_back(static_cast<std::uint8_t>(a.port >> 8));
    out.push_back(static_cast<std::uint8_t>(a.port & 0xff));
}

std::vector<std::uint8_t> encode_reply(reply_code code, const address& bound) {
    std::vector<std::uint8_t> out;
    out.reserve(3 + 2 + text::max_field + 2);
    out.push_back(socks_version);
    out.push_back(static_cast<std::uint8_t>(code));
    out.push_back(0x00);
    append_address(out, bound);
    return out;
}

} // namespace weir::proto::socks5
