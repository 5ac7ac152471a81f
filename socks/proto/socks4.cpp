#include "socks/proto/socks4.hpp"

#include <algorithm>
#include <optional>
#include <string>

namespace weir::proto::socks4 {
namespace {

constexpr std::uint8_t request_version = 0x04;
constexpr std::size_t fixed_size = 8; // VN CD DSTPORT DSTIP

std::size_t fail(std::error_code& ec, errc e) {
    ec = e;
    return 0;
}

// The offset of the NUL ending a field that starts at `from`, if it has
// arrived. Sets `ec` once more than `max_field` bytes came without a NUL.
std::optional<std::size_t> find_nul(std::span<const std::uint8_t> in, std::size_t from,
                                    std::size_t max_field, std::error_code& ec) {
    const std::size_t available = in.size() - from;
    const std::size_t window = max_field < available ? max_field + 1 : available;
    const auto field = in.subspan(from, window);
    const auto nul = std::find(field.begin(), field.end(), std::uint8_t{0});
    if (nul != field.end()) return from + static_cast<std::size_t>(nul - field.begin());
    if (available > max_field) ec = errc::field_too_long;
    return std::nullopt;
}

std::string text(std::span<const std::uint8_t> bytes) {
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

// SOCKS4a marks "hostname follows" with DSTIP 0.0.0.x, x != 0.
bool is_socks4a(const ipv4_bytes& ip) {
    return ip[0] == 0 && ip[1] == 0 && ip[2] == 0 && ip[3] != 0;
}

} // namespace

std::size_t decode_request(std::span<const std::uint8_t> in, std::size_t max_field,
                           request_event& out, std::error_code& ec) {
    if (in.size() >= 1 && in[0] != request_version) return fail(ec, errc::bad_version);
    if (in.size() >= 2 && in[1] != 1 && in[1] != 2) return fail(ec, errc::command_not_supported);
    if (in.size() < fixed_size) return 0;

    const auto userid_end = find_nul(in, fixed_size, max_field, ec);
    if (!userid_end) return 0;
    const auto port = static_cast<std::uint16_t>((in[2] << 8) | in[3]);
    ipv4_bytes ip{};
    std::copy_n(in.begin() + 4, 4, ip.begin());

    std::size_t end = *userid_end + 1;
    if (is_socks4a(ip)) {
        const auto host_end = find_nul(in, end, max_field, ec);
        if (!host_end) return 0;
        if (*host_end == end) return fail(ec, errc::empty_domain);
        out.destination = {text(in.subspan(end, *host_end - end)), port};
        end = *host_end + 1;
    } else {
        out.destination = {ip, port};
    }
    out.ver = version::socks4;
    out.cmd = static_cast<command>(in[1]);
    out.socks4_userid = text(in.subspan(fixed_size, *userid_end - fixed_size));
    return end;
}

std::vector<std::uint8_t> encode_reply(bool granted, const address& bound) {
    std::vector<std::uint8_t> out(fixed_size, 0);
    out[1] = granted ? granted_code : rejected_code;
    if (const auto* ip = std::get_if<ipv4_bytes>(&bound.host)) {
        out[2] = static_cast<std::uint8_t>(bound.port >> 8);
        out[3] = static_cast<std::uint8_t>(bound.port & 0xff);
        std::copy(ip->begin(), ip->end(), out.begin() + 4);
    }
    return out;
}

} // namespace weir::proto::socks4
