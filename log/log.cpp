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
std::atomic<format> line_format{format::text};

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

bool json() noexcept {
    return line_format.load(std::memory_order_relaxed) == format::json;
}

// "2026-11-28T04:49:40.123Z" into `line`. The calendar part is made
// once a second per thread: gmtime_r and strftime cost more than the rest.
void stamp_line(fmt::memory_buffer& line) {
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
    fmt::format_to(std::back_inserter(line), "{}.{:03}Z", std::string_view(stamp, stamp_len),
                   millis);
}

// "2026-11-28T04:49:40.123Z info " into `line`.
void start_line(fmt::memory_buffer& line, level l) {
    stamp_line(line);
    line.push_back(' ');
    line.append(name_of(l));
    line.push_back(' ');
}

// A JSON string: quotes, backslashes and every byte outside printable ASCII
// escaped (\u00XX: a byte a client sent is not assumed to be UTF-8).
void json_string(fmt::memory_buffer& line, std::string_view s) {
    line.push_back('"');
    for (const char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            line.push_back('\\');
            line.push_back(c);
        } else if (u < 0x20 || u >= 0x7f) {
            fmt::format_to(std::back_inserter(line), "\\u{:04x}", u);
        } else {
            line.push_back(c);
        }
    }
    line.push_back('"');
}

// {"timestamp":"...","level":"...","event":"<name>"
void start_object(fmt::memory_buffer& line, level l, std::string_view name) {
    line.append(std::string_view(R"({"timestamp":")"));
    stamp_line(line);
    line.append(std::string_view(R"(","level":")"));
    line.append(name_of(l));
    line.append(std::string_view(R"(","event":)"));
    json_string(line, name);
}

void end_object(fmt::memory_buffer& line, std::string_view message) {
    if (!message.empty()) {
        line.append(std::string_view(R"(,"message":)"));
        json_string(line, message);
    }
    line.append(std::string_view("}\n"));
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

void set_format(format f) noexcept {
    line_format.store(f, std::memory_order_relaxed);
}

format current_format() noexcept {
    return line_format.load(std::memory_order_relaxed);
}

void write(level l, std::string_view message) {
    fmt::memory_buffer line;
    if (json()) {
        start_object(line, l, "log");
        end_object(line, message);
    } else {
        start_line(line, l);
        line.append(message);
        line.push_back('\n');
    }
    write_line(line);
}

void vwrite(level l, fmt::string_view f, fmt::format_args args) {
    if (json()) return write(l, fmt::vformat(f, args));
    fmt::memory_buffer line;
    start_line(line, l);
    fmt::vformat_to(std::back_inserter(line), f, args);
    line.push_back('\n');
    write_line(line);
}

void event(level l, std::string_view name, std::span<const field> fields,
           std::string_view message) {
    if (!enabled(l)) return;
    if (!json()) return write(l, message);
    fmt::memory_buffer line;
    start_object(line, l, name);
    for (const auto& f : fields) {
        const auto* text = std::get_if<std::string_view>(&f.value);
        if (text != nullptr && text->empty()) continue;
        line.push_back(',');
        json_string(line, f.key);
        line.push_back(':');
        if (const auto* s = std::get_if<std::string_view>(&f.value))
            json_string(line, *s);
        else if (const auto* n = std::get_if<std::uint64_t>(&f.value))
            fmt::format_to(std::back_inserter(line), "{}", *n);
        else if (const auto* d = std::get_if<double>(&f.value))
            fmt::format_to(std::back_inserter(line), "{:.3f}", *d);
        else
            line.append(std::string_view(std::get<bool>(f.value) ? "true" : "false"));
    }
    end_object(line, message);
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
