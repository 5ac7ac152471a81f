#include "socks/proto/proxy_protocol.hpp"

#include "text/ip.hpp"

#include <algorithm>
#include <array>
#include <string>
#include <string_view>

namespace weir::proto {
namespace {

class proxy_category final : public std::error_category {
public:
    const char* name() const noexcept override { return "proxy-protocol"; }
    std::string message(int value) const override;
};

// The text of each proxy_errc, in the enumeration's order (it starts at 1).
constexpr std::array<std::string_view, 13> messages = {
    "no PROXY protocol header",                             // not_proxy_header
    "PROXY v1 line longer than 107 bytes",                  // v1_too_long
    "PROXY v1 line does not end in CRLF",                   // v1_bad_line_end
    "PROXY v1 line holds a byte outside printable ASCII",   // v1_bad_character
    "PROXY v1 protocol is not TCP4, TCP6 or UNKNOWN",       // v1_bad_protocol
    "PROXY v1 line does not have 4 single-spaced fields",   // v1_bad_fields
    "PROXY v1 address is not of the named family",          // v1_bad_address
    "PROXY v1 port is not a decimal 0 to 65535",            // v1_bad_port
    "PROXY v2 version is not 2",                            // v2_bad_version
    "PROXY v2 command is neither LOCAL nor PROXY",          // v2_bad_command
    "PROXY v2 address family is not TCP over IPv4 or IPv6", // v2_unsupported_family
    "PROXY v2 header longer than 1024 bytes",               // v2_too_long
    "PROXY v2 length too short for its addresses",          // v2_short_addresses
};
static_assert(static_cast<std::size_t>(proxy_errc::v2_short_addresses) == messages.size(),
              "one message per proxy_errc");

std::string proxy_category::message(int value) const {
    if (value < 1 || static_cast<std::size_t>(value) > messages.size())
        return "unknown PROXY protocol error";
    return std::string(messages[static_cast<std::size_t>(value) - 1]);
}

constexpr std::string_view v1_prefix = "PROXY ";
constexpr std::array<std::uint8_t, 12> v2_signature = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
                                                       0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};

// Where v2's VER/CMD, FAM and LEN are, and their values.
constexpr std::size_t v2_ver_cmd_at = 12;
constexpr std::size_t v2_fam_at = 13;
constexpr std::size_t v2_len_at = 14;
constexpr std::uint8_t v2_local = 0x20;
constexpr std::uint8_t v2_proxy = 0x21;
constexpr std::uint8_t v2_unspec = 0x00;
constexpr std::uint8_t v2_tcp4 = 0x11;
constexpr std::uint8_t v2_tcp6 = 0x21;

// Whether `in` is a prefix of (or starts with) `want`.
template <class Want>
bool matches_so_far(std::span<const std::uint8_t> in, const Want& want) {
    const auto n = std::min(in.size(), want.size());
    return std::equal(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(n), want.begin(),
                      [](std::uint8_t a, auto b) { return a == static_cast<std::uint8_t>(b); });
}

// A v1 port: "0" to "65535", no sign, no leading zeros.
std::optional<std::uint16_t> parse_port(std::string_view s) {
    if (s.empty() || s.size() > 5 || (s.size() > 1 && s[0] == '0')) return {};
    unsigned value = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return {};
        value = value * 10 + static_cast<unsigned>(c - '0');
    }
    if (value > 65535) return {};
    return static_cast<std::uint16_t>(value);
}

// The next field of `line` up to a single space (or the end); false if it is empty.
bool next_field(std::string_view& line, std::string_view& field) {
    const auto space = line.find(' ');
    field = line.substr(0, space);
    line = space == std::string_view::npos ? std::string_view{} : line.substr(space + 1);
    return !field.empty() && !(space != std::string_view::npos && line.empty());
}

// "<src> <dst> <sport> <dport>" after TCP4 or TCP6.
proxy_event v1_addresses(std::string_view fields, bool v6, std::size_t size) {
    std::array<std::string_view, 4> f;
    for (auto& field : f)
        if (!next_field(fields, field)) return proxy_error_event{proxy_errc::v1_bad_fields};
    if (!fields.empty()) return proxy_error_event{proxy_errc::v1_bad_fields};
    const auto sport = parse_port(f[2]);
    const auto dport = parse_port(f[3]);
    address src;
    address dst;
    if (v6) {
        const auto s = text::parse_ipv6(f[0]);
        const auto d = text::parse_ipv6(f[1]);
        if (!s || !d) return proxy_error_event{proxy_errc::v1_bad_address};
        src.host = *s;
        dst.host = *d;
    } else {
        const auto s = text::parse_ipv4(f[0]);
        const auto d = text::parse_ipv4(f[1]);
        if (!s || !d) return proxy_error_event{proxy_errc::v1_bad_address};
        src.host = *s;
        dst.host = *d;
    }
    if (!sport || !dport) return proxy_error_event{proxy_errc::v1_bad_port};
    src.port = *sport;
    dst.port = *dport;
    return proxy_header_event{1, std::move(src), std::move(dst), size};
}

// The address block of a v2 header: source and destination addresses and
// ports for PROXY over TCP; none for LOCAL and PROXY UNSPEC (the real peer).
std::size_t v2_address_size(std::uint8_t ver_cmd, std::uint8_t fam) {
    if (ver_cmd == v2_local) return 0;
    return fam == v2_tcp4 ? 2 * 4 + 2 * 2 : fam == v2_tcp6 ? 2 * 16 + 2 * 2 : 0;
}

template <std::size_t N>
std::array<std::uint8_t, N> take(std::span<const std::uint8_t> in, std::size_t at) {
    std::array<std::uint8_t, N> out{};
    std::copy_n(in.begin() + static_cast<std::ptrdiff_t>(at), N, out.begin());
    return out;
}

std::uint16_t be16(std::span<const std::uint8_t> in, std::size_t at) {
    return static_cast<std::uint16_t>((in[at] << 8) | in[at + 1]);
}

// The address block of v2 PROXY over TCP: source, destination, their ports.
template <std::size_t N>
proxy_header_event v2_addresses(std::span<const std::uint8_t> header) {
    constexpr std::size_t at = proxy_v2_fixed_size;
    address src{take<N>(header, at), be16(header, at + 2 * N)};
    address dst{take<N>(header, at + N), be16(header, at + 2 * N + 2)};
    return {2, std::move(src), std::move(dst), header.size()};
}

} // namespace

const std::error_category& proxy_error_category() noexcept {
    static const proxy_category category;
    return category;
}

std::error_code make_error_code(proxy_errc e) noexcept {
    return {static_cast<int>(e), proxy_error_category()};
}

void proxy_header_decoder::receive(std::span<const std::uint8_t> bytes) {
    if (done_ && std::holds_alternative<proxy_error_event>(*done_)) return;
    buf_.insert(buf_.end(), bytes.begin(), bytes.end());
}

proxy_event proxy_header_decoder::next_event() {
    if (done_) return *done_;
    auto ev = decode();
    if (const auto* h = std::get_if<proxy_header_event>(&ev)) header_size_ = h->size;
    if (!std::holds_alternative<proxy_need_data>(ev)) done_ = ev;
    return ev;
}

std::span<const std::uint8_t> proxy_header_decoder::remaining() const noexcept {
    if (header_size_ == 0) return {};
    return std::span(buf_).subspan(header_size_);
}

// The version from the first bytes: each must match the v1 or the v2 prefix.
proxy_event proxy_header_decoder::decode() {
    if (buf_.empty()) return proxy_need_data{};
    if (matches_so_far(buf_, v1_prefix)) {
        if (buf_.size() < v1_prefix.size()) return proxy_need_data{};
        return decode_v1();
    }
    if (matches_so_far(buf_, v2_signature)) {
        if (buf_.size() < v2_signature.size()) return proxy_need_data{};
        return decode_v2();
    }
    return proxy_error_event{proxy_errc::not_proxy_header};
}

// The line up to CRLF, checked byte by byte as it comes.
proxy_event proxy_header_decoder::decode_v1() {
    const auto n = std::min(buf_.size(), proxy_v1_max_size);
    std::size_t end = 0; // where CRLF starts
    for (; end < n; ++end) {
        const auto c = buf_[end];
        if (c == '\r') break;
        if (c == '\n') return proxy_error_event{proxy_errc::v1_bad_line_end};
        if (c < 0x20 || c > 0x7e) return proxy_error_event{proxy_errc::v1_bad_character};
    }
    // CRLF must end by byte 107: a CR as the 107th byte, or none in 107, is too long.
    if (end == n && n < proxy_v1_max_size) return proxy_need_data{};
    if (end + 2 > proxy_v1_max_size) return proxy_error_event{proxy_errc::v1_too_long};
    if (end + 1 >= buf_.size()) return proxy_need_data{};
    if (buf_[end + 1] != '\n') return proxy_error_event{proxy_errc::v1_bad_line_end};
    const std::string_view line(reinterpret_cast<const char*>(buf_.data()), end);
    auto rest = line.substr(v1_prefix.size());
    const auto space = rest.find(' ');
    const auto protocol = rest.substr(0, space);
    const auto fields =
        space == std::string_view::npos ? std::string_view{} : rest.substr(space + 1);
    if (protocol == "UNKNOWN") return proxy_header_event{1, {}, {}, end + 2};
    if (protocol == "TCP4" || protocol == "TCP6")
        return v1_addresses(fields, protocol == "TCP6", end + 2);
    return proxy_error_event{proxy_errc::v1_bad_protocol};
}

// The fixed part, each byte checked as it comes; then the address block.
proxy_event proxy_header_decoder::decode_v2() {
    const std::span<const std::uint8_t> in(buf_);
    if (in.size() > v2_ver_cmd_at) {
        const auto ver_cmd = in[v2_ver_cmd_at];
        if ((ver_cmd & 0xf0) != 0x20) return proxy_error_event{proxy_errc::v2_bad_version};
        if (ver_cmd != v2_local && ver_cmd != v2_proxy)
            return proxy_error_event{proxy_errc::v2_bad_command};
    }
    if (in.size() > v2_fam_at && in[v2_ver_cmd_at] == v2_proxy) {
        const auto fam = in[v2_fam_at];
        if (fam != v2_tcp4 && fam != v2_tcp6 && fam != v2_unspec)
            return proxy_error_event{proxy_errc::v2_unsupported_family};
    }
    if (in.size() < proxy_v2_fixed_size) return proxy_need_data{};
    const std::size_t size = proxy_v2_fixed_size + be16(in, v2_len_at);
    if (size > proxy_v2_max_size) return proxy_error_event{proxy_errc::v2_too_long};
    const auto addresses = v2_address_size(in[v2_ver_cmd_at], in[v2_fam_at]);
    if (size < proxy_v2_fixed_size + addresses)
        return proxy_error_event{proxy_errc::v2_short_addresses};
    if (in.size() < size) return proxy_need_data{};
    const auto header = in.first(size);
    if (addresses == 12) return v2_addresses<4>(header);
    if (addresses == 36) return v2_addresses<16>(header);
    return proxy_header_event{2, {}, {}, size};
}

} // namespace weir::proto
