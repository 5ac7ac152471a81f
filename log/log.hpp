#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include <fmt/core.h>

namespace weir::log {

enum class level { debug, info, warn, error };
/// How lines look: `text` (timestamp, level, message) or `json` (one object a line).
enum class format { text, json };

/// Lines below this level are dropped (default: info).
void set_level(level l) noexcept;
bool enabled(level l) noexcept;
/// How lines are written from now on (default: text).
void set_format(format f) noexcept;
format current_format() noexcept;

/// One field of an event: a key (a stable name, [a-z_]) and a value.
struct field {
    std::string_view key;
    std::variant<std::string_view, std::uint64_t, double, bool> value;
};

/// Writes an event. Text: "<timestamp> <level> <message>". JSON: one object,
/// {"timestamp":..., "level":..., "event": name, the fields in order,
/// "message": message}, strings escaped for JSON; a field or message whose
/// text is empty is left out.
void event(level l, std::string_view name, std::span<const field> fields, std::string_view message);
inline void event(level l, std::string_view name, std::initializer_list<field> fields,
                  std::string_view message) {
    event(l, name, std::span<const field>(fields.begin(), fields.size()), message);
}

/// Writes one line "2026-11-28T04:49:40.123Z info <message>" to stderr with a
/// single write(2), so lines from different threads never interleave (in
/// JSON: an event "log" with the message).
void write(level l, std::string_view message);
/// The same, the message formatted straight into the line.
void vwrite(level l, fmt::string_view format, fmt::format_args args);

template <typename... Args>
void debug(fmt::format_string<Args...> f, Args&&... args) {
    if (enabled(level::debug)) vwrite(level::debug, f, fmt::make_format_args(args...));
}
template <typename... Args>
void info(fmt::format_string<Args...> f, Args&&... args) {
    if (enabled(level::info)) vwrite(level::info, f, fmt::make_format_args(args...));
}
template <typename... Args>
void warn(fmt::format_string<Args...> f, Args&&... args) {
    if (enabled(level::warn)) vwrite(level::warn, f, fmt::make_format_args(args...));
}
template <typename... Args>
void error(fmt::format_string<Args...> f, Args&&... args) {
    if (enabled(level::error)) vwrite(level::error, f, fmt::make_format_args(args...));
}

} // namespace weir::log

namespace weir::log {

/// Counts events that are logged in summary: a line at the first, then at
/// most one per interval, each with the count since the line before and in
/// all. Safe from any thread; one caller gets each line.
class tally {
public:
    struct line {
        std::uint64_t since_last = 0; ///< events since the last line, this one included
        std::uint64_t total = 0;      ///< events since start
    };
    explicit tally(std::chrono::seconds interval) noexcept
        : interval_(interval.count()) {}
    /// Counts one event; the counts when a line is due now.
    std::optional<line> count() noexcept { return count(std::chrono::steady_clock::now()); }
    std::optional<line> count(std::chrono::steady_clock::time_point now) noexcept;

private:
    static constexpr std::int64_t never = std::numeric_limits<std::int64_t>::min();
    const std::int64_t interval_;
    std::atomic<std::int64_t> last_line_{never}; ///< steady-clock seconds
    std::atomic<std::uint64_t> unlogged_{0};
    std::atomic<std::uint64_t> total_{0};
};

/// Makes untrusted text safe for one log line: bytes outside printable ASCII,
/// spaces and backslashes become \xNN.
std::string printable(std::string_view text);
} // namespace weir::log
