#include "socks/proto/address.hpp"

#include <algorithm>
#include <charconv>
#include <cstddef>

namespace weir::proto {
namespace {

constexpr char hex_digits[] = "0123456789abcdef";

void append_number(std::string& out, unsigned value, int base = 10) {
    char digits[8];
    const auto result = std::to_chars(std::begin(digits), std::end(digits), value, base);
    out.append(digits, result.ptr);
}

void append_ipv4(std::string& out, const std::uint8_t* b) {
    for (std::size_t i = 0; i < 4; ++i) {
        if (i != 0) out += '.';
        append_number(out, b[i]);
    }
}

bool is_v4_mapped(const ipv6_bytes& b) {
    return std::all_of(b.begin(), b.begin() + 10, [](std::uint8_t x) { return x == 0; }) &&
           b[10] == 0xff && b[11] == 0xff;
}

// RFC 5952: lowercase, no leading zeros, the longest run (of two or more) of
// zero groups becomes "::", the first one on a tie; IPv4-mapped as ::ffff:a.b.c.d.
void append_ipv6(std::string& out, const ipv6_bytes& b) {
    if (is_v4_mapped(b)) {
        out += "::ffff:";
        append_ipv4(out, b.data() + 12);
        return;
    }
    std::array<unsigned, 8> groups{};
    for (std::size_t i = 0; i < 8; ++i)
        groups[i] = (unsigned{b[2 * i]} << 8) | b[2 * i + 1];

    std::size_t gap = 8, gap_len = 1; // no gap unless a run of 2+ exists
    for (std::size_t i = 0; i < 8;) {
        std::size_t j = i;
        while (j < 8 && groups[j] == 0)
            ++j;
        if (j - i > gap_len) {
            gap = i;
            gap_len = j - i;
        }
        i = j == i ? i + 1 : j;
    }
    bool need_colon = false;
    for (std::size_t i = 0; i < 8;) {
        if (i == gap) {
            out += "::";
            i += gap_len;
            need_colon = false;
            continue;
        }
        if (need_colon) out += ':';
        append_number(out, groups[i], 16);
        need_colon = true;
        ++i;
    }
}

// Printable ASCII as is; anything else, and the backslash itself, as \xNN.
void append_domain(std::string& out, const std::string& name) {
    for (const char c : name) {
        const auto u = static_cast<unsigned char>(c);
        if (u >= 0x20 && u < 0x7f && c != '\\') {
            out += c;
        } else {
            out += "\\x";
            out += hex_digits[u >> 4];
            out += hex_digits[u & 0x0f];
        }
    }
}

void append_host(std::string& out, const address& a, bool bracket_ipv6) {
    if (const auto* v4 = std::get_if<ipv4_bytes>(&a.host)) {
        append_ipv4(out, v4->data());
    } else if (const auto* v6 = std::get_if<ipv6_bytes>(&a.host)) {
        if (bracket_ipv6) out += '[';
        append_ipv6(out, *v6);
        if (bracket_ipv6) out += ']';
    } else {
        append_domain(out, std::get<std::string>(a.host));
    }
}

} // namespace

std::string to_string(const address& a) {
    std::string out;
    out.reserve(32);
    append_host(out, a, true);
    out += ':';
    append_number(out, a.port);
    return out;
}

std::string host_to_string(const address& a) {
    std::string out;
    append_host(out, a, false);
    return out;
}

bool is_host_name(std::string_view name) noexcept {
    if (!name.empty() && name.back() == '.') name.remove_suffix(1);
    if (name.empty() || name.size() > 253) return false;
    std::size_t label = 0;
    for (const char c : name) {
        if (c == '.') {
            if (label == 0) return false;
            label = 0;
            continue;
        }
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '-' || c == '_';
        if (!ok || ++label > 63) return false;
    }
    return label > 0;
}

} // namespace weir::proto
