#include "text/ip.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstddef>
#include <iterator>
#include <optional>
#include <string_view>

namespace weir::text {
namespace {

using hex_groups = std::array<std::uint16_t, 8>;

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

int hex_value(char c) {
    if (is_digit(c)) return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

void append_number(std::string& out, unsigned value, int base) {
    char digits[8];
    const auto result = std::to_chars(std::begin(digits), std::end(digits), value, base);
    out.append(digits, result.ptr);
}

bool is_v4_mapped(std::span<const std::uint8_t, 16> b) {
    return std::all_of(b.begin(), b.begin() + 10, [](std::uint8_t x) { return x == 0; }) &&
           b[10] == 0xff && b[11] == 0xff;
}

struct zero_run {
    std::size_t first = 8; // 8: none
    std::size_t length = 0;
};

/// The longest run of two or more zero groups, the leftmost on a tie.
zero_run longest_zero_run(const std::array<unsigned, 8>& groups) {
    zero_run best{8, 1}; // a run must beat 1 to count
    for (std::size_t i = 0; i < 8;) {
        std::size_t j = i;
        while (j < 8 && groups[j] == 0)
            ++j;
        if (j - i > best.length) best = {i, j - i};
        i = j == i ? i + 1 : j;
    }
    return best;
}

} // namespace

std::optional<unsigned> parse_decimal(std::string_view text, unsigned max) {
    if (text.empty() || text.size() > 3 || (text.size() > 1 && text[0] == '0')) return {};
    unsigned value = 0;
    for (char c : text) {
        if (!is_digit(c)) return {};
        value = value * 10 + static_cast<unsigned>(c - '0');
    }
    if (value > max) return {};
    return value;
}

void append_ipv4(std::string& out, std::span<const std::uint8_t, 4> bytes) {
    for (std::size_t i = 0; i < 4; ++i) {
        if (i != 0) out += '.';
        append_number(out, bytes[i], 10);
    }
}

void append_ipv6(std::string& out, std::span<const std::uint8_t, 16> bytes) {
    if (is_v4_mapped(bytes)) {
        out += "::ffff:";
        append_ipv4(out, bytes.last<4>());
        return;
    }
    std::array<unsigned, 8> groups{};
    for (std::size_t i = 0; i < 8; ++i)
        groups[i] = (unsigned{bytes[2 * i]} << 8) | bytes[2 * i + 1];
    const auto gap = longest_zero_run(groups);
    bool need_colon = false;
    for (std::size_t i = 0; i < 8;) {
        if (i == gap.first) {
            out += "::";
            i += gap.length;
            need_colon = false;
            continue;
        }
        if (need_colon) out += ':';
        append_number(out, groups[i], 16);
        need_colon = true;
        ++i;
    }
}

std::string ipv4_to_string(std::span<const std::uint8_t, 4> bytes) {
    std::string out;
    append_ipv4(out, bytes);
    return out;
}

std::string ipv6_to_string(std::span<const std::uint8_t, 16> bytes) {
    std::string out;
    append_ipv6(out, bytes);
    return out;
}

std::optional<std::array<std::uint8_t, 4>> parse_ipv4(std::string_view text) {
    std::array<std::uint8_t, 4> out{};
    for (std::size_t i = 0; i < 4; ++i) {
        const auto dot = text.find('.');
        if ((dot == std::string_view::npos) != (i == 3)) return {};
        const auto octet = parse_decimal(text.substr(0, dot), 255);
        if (!octet) return {};
        out[i] = static_cast<std::uint8_t>(*octet);
        text = dot == std::string_view::npos ? std::string_view{} : text.substr(dot + 1);
    }
    return out;
}

namespace {

std::optional<std::uint16_t> parse_hex_group(std::string_view text) {
    if (text.empty() || text.size() > 4) return {};
    unsigned value = 0;
    for (char c : text) {
        const int digit = hex_value(c);
        if (digit < 0) return {};
        value = value * 16 + static_cast<unsigned>(digit);
    }
    return static_cast<std::uint16_t>(value);
}

/// Colon-separated groups appended to out[n..]; a dotted quad may end `text`
/// when `v4_tail` is set. An empty `text` is no groups.
bool parse_groups(std::string_view text, bool v4_tail, hex_groups& out, std::size_t& n) {
    while (!text.empty()) {
        const auto colon = text.find(':');
        const auto piece = text.substr(0, colon);
        const bool last = colon == std::string_view::npos;
        if (last && v4_tail && piece.find('.') != std::string_view::npos) {
            const auto v4 = parse_ipv4(piece);
            if (!v4 || n + 2 > out.size()) return false;
            out[n++] = static_cast<std::uint16_t>((*v4)[0] << 8 | (*v4)[1]);
            out[n++] = static_cast<std::uint16_t>((*v4)[2] << 8 | (*v4)[3]);
            return true;
        }
        const auto group = parse_hex_group(piece);
        if (!group || n == out.size()) return false;
        out[n++] = *group;
        if (last) return true;
        text = text.substr(colon + 1);
        if (text.empty()) return false; // a trailing single ':'
    }
    return true;
}

} // namespace

std::optional<std::array<std::uint8_t, 16>> parse_ipv6(std::string_view text) {
    hex_groups head{};
    hex_groups tail{};
    std::size_t n_head = 0;
    std::size_t n_tail = 0;
    const auto gap = text.find("::");
    if (gap == std::string_view::npos) {
        if (!parse_groups(text, true, head, n_head) || n_head != 8) return {};
    } else {
        if (text.find("::", gap + 1) != std::string_view::npos) return {};
        if (!parse_groups(text.substr(0, gap), false, head, n_head)) return {};
        if (!parse_groups(text.substr(gap + 2), true, tail, n_tail)) return {};
        if (n_head + n_tail > 7) return {};
    }
    std::copy_n(tail.begin(), n_tail, head.end() - static_cast<std::ptrdiff_t>(n_tail));
    std::array<std::uint8_t, 16> out{};
    for (std::size_t i = 0; i < 8; ++i) {
        out[2 * i] = static_cast<std::uint8_t>(head[i] >> 8);
        out[2 * i + 1] = static_cast<std::uint8_t>(head[i] & 0xff);
    }
    return out;
}

} // namespace weir::text
