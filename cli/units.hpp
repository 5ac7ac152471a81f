#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace weir::cli {

/// "90" (seconds), "1.5", "90s", "15m", "1h", "500ms": nothing else, no
/// spaces, no sign. Nullopt for anything else, and beyond 100 years.
std::optional<std::chrono::nanoseconds> parse_duration(std::string_view text);

/// "65536" (bytes), "64K" or "64KiB", "1M" or "1MiB", "1G" or "1GiB" (K, M
/// and G are binary): whole numbers only. Nullopt for anything else or past 2^64.
std::optional<std::uint64_t> parse_size(std::string_view text);

/// The duration in the largest unit that shows it whole: "1h", "15m", "90s",
/// "500ms"; "0s"; what no unit shows whole, in seconds ("1.5s", "0.0005s").
std::string show_duration(std::chrono::nanoseconds d);

/// The size in the largest binary unit that shows it whole: "64MiB", "4KiB", "1000".
std::string show_size(std::uint64_t bytes);

/// What parse_duration and parse_size accept, for error messages and --help.
inline constexpr std::string_view duration_forms =
    "a number of seconds, or with a unit: 500ms, 90s, 15m, 1h";
inline constexpr std::string_view size_forms =
    "a number of bytes, or with a unit: 64K, 1M, 1G (binary: KiB, MiB, GiB)";

} // namespace weir::cli
