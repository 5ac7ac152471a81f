#include "text/ip.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstddef>
#include <iterator>

namespace weir::text {
namespace {

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

} // namespace weir::text
