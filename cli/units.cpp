#include "cli/units.hpp"

#include <array>
#include <charconv>
#include <cmath>

#include <fmt/core.h>

namespace weir::cli {
namespace {

struct unit {
    std::string_view suffix;
    double nanoseconds;
};

// Longest suffix first: "ms" before "s" and "m".
constexpr std::array<unit, 4> duration_units{{
    {"ms", 1e6},
    {"s", 1e9},
    {"m", 60e9},
    {"h", 3600e9},
}};

constexpr double max_nanoseconds = 100.0 * 365 * 24 * 3600e9;

bool ends_with(std::string_view s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// Digits with at most one '.', and a digit somewhere: no sign, exponent, inf or nan.
bool plain_decimal(std::string_view s) {
    bool digit = false, point = false;
    for (const char c : s) {
        if (c >= '0' && c <= '9') {
            digit = true;
        } else if (c == '.' && !point) {
            point = true;
        } else {
            return false;
        }
    }
    return digit;
}

} // namespace

std::optional<std::chrono::nanoseconds> parse_duration(std::string_view text) {
    double scale = 1e9;
    for (const auto& u : duration_units) {
        if (ends_with(text, u.suffix)) {
            scale = u.nanoseconds;
            text.remove_suffix(u.suffix.size());
            break;
        }
    }
    if (!plain_decimal(text)) return std::nullopt;
    double value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
    const double ns = std::round(value * scale);
    if (ns > max_nanoseconds) return std::nullopt;
    return std::chrono::nanoseconds(static_cast<std::int64_t>(ns));
}

std::optional<std::uint64_t> parse_size(std::string_view text) {
    constexpr std::array<std::pair<std::string_view, unsigned>, 6> units{{
        {"KiB", 10},
        {"MiB", 20},
        {"GiB", 30},
        {"K", 10},
        {"M", 20},
        {"G", 30},
    }};
    unsigned shift = 0;
    for (const auto& [suffix, bits] : units) {
        if (ends_with(text, suffix)) {
            shift = bits;
            text.remove_suffix(suffix.size());
            break;
        }
    }
    if (text.empty() || text.find_first_not_of("0123456789") != std::string_view::npos)
        return std::nullopt;
    std::uint64_t value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
    if (value > (~std::uint64_t{0} >> shift)) return std::nullopt;
    return value << shift;
}

std::string show_duration(std::chrono::nanoseconds d) {
    const auto ns = d.count();
    if (ns == 0) return "0s";
    constexpr std::array<std::pair<std::int64_t, std::string_view>, 4> whole{{
        {3600'000'000'000, "h"},
        {60'000'000'000, "m"},
        {1'000'000'000, "s"},
        {1'000'000, "ms"},
    }};
    for (const auto& [size, suffix] : whole)
        if (ns % size == 0) return fmt::format("{}{}", ns / size, suffix);
    return fmt::format("{}s", static_cast<double>(ns) / 1e9);
}

std::string show_size(std::uint64_t bytes) {
    constexpr std::array<std::pair<unsigned, std::string_view>, 3> whole{{
        {30, "GiB"},
        {20, "MiB"},
        {10, "KiB"},
    }};
    if (bytes != 0) {
        for (const auto& [bits, suffix] : whole) {
            const std::uint64_t size = std::uint64_t{1} << bits;
            if (bytes % size == 0) return fmt::format("{}{}", bytes / size, suffix);
        }
    }
    return fmt::format("{}", bytes);
}

} // namespace weir::cli
