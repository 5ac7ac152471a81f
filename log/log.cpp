#include "log/log.hpp"

#include "text/escape.hpp"

#include <atomic>
#include <chrono>
#include <ctime>
#include <unistd.h>

#include <fmt/format.h>

namespace weir::log {
namespace {

std::atomic<level> min_level{level::info};

constexpr std::string_view name_of(level l) noexcept {
    switch (l) {
    case level::debug:
        return "debug";
    case level::info:
        return "info";
    case level::warn:
        return "warn";
    case level::error:
        return "error";
    }
    return "?";
}

// "2026-11-28T04:49:40.123Z info " into `line`. The calendar part is made
// once a second per thread: gmtime_r and strftime cost more than the rest.
void start_line(fmt::memory_buffer& line, level l) {
    using namespace std::chrono;
    thread_local std::time_t stamped = -1;
    thread_local char stamp[32];
    thread_local std::size_t stamp_len = 0;
    const auto now = system_clock::now();
    const auto secs = system_clock::to_time_t(now);
    const auto millis = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
    if (secs != stamped) {
        std::tm tm{};
        gmtime_r(&secs, &tm);
        stamp_len = std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
        stamped = secs;
    }
    fmt::format_to(std::back_inserter(line), "{}.{:03}Z {} ", std::string_view(stamp, stamp_len),
                   millis, name_of(l));
}

void write_line(const fmt::memory_buffer& line) {
    const char* p = line.data();
    std::size_t left = line.size();
    while (left > 0) {
        const auto w = ::write(STDERR_FILENO, p, left);
        if (w <= 0) return; // nowhere to report a failing stderr
        p += w;
        left -= static_cast<std::size_t>(w);
    }
}

} // namespace

void set_level(level l) noexcept {
    min_level.store(l, std::memory_order_relaxed);
}

bool enabled(level l) noexcept {
    return l >= min_level.load(std::memory_order_relaxed);
}

void write(level l, std::string_view message) {
    fmt::memory_buffer line;
    start_line(line, l);
    line.append(message);
    line.push_back('\n');
    write_line(line);
}

void vwrite(level l, fmt::string_view format, fmt::format_args args) {
    fmt::memory_buffer line;
    start_line(line, l);
    fmt::vformat_to(std::back_inserter(line), format, args);
    line.push_back('\n');
    write_line(line);
}

} // namespace weir::log

namespace weir::log {
std::string printable(std::string_view untrusted) {
    return text::escape(untrusted, {.space = true, .backslash = true, .non_ascii = true});
}

std::optional<tally::line> tally::count(std::chrono::steady_clock::time_point at) noexcept {
    unlogged_.fetch_add(1, std::memory_order_relaxed);
    const std::uint64_t total = total_.fetch_add(1, std::memory_order_relaxed) + 1;
    const auto now =
        std::chrono::duration_cast<std::chrono::seconds>(at.time_since_epoch()).count();
    auto last = last_line_.load(std::memory_order_relaxed);
    if (last != never && now - last < interval_) return std::nullopt;
    if (!last_line_.compare_exchange_strong(last, now)) return std::nullopt; // another thread logs
    return line{unlogged_.exchange(0), total};
}

} // namespace weir::log
