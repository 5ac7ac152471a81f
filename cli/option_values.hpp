#pragma once

#include "cli/options.hpp"

#include <charconv>
#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <asio/ip/address.hpp>
#include <asio/ip/tcp.hpp>
#include <fmt/core.h>

namespace weir::cli {

/// A value an option does not accept; what() says what it does accept.
struct option_error : std::invalid_argument {
    using std::invalid_argument::invalid_argument;
};

// The readers and writers of option values the option table is made of. A
// reader takes the values an option was given (at least one; a single-value
// option reads the last) and throws option_error saying what it accepts.

using values = std::vector<std::string>;

/// A config-file string: "..." with \ and " escaped.
std::string quote(std::string_view s);
/// ["a", "b"]
std::string quote_list(const std::vector<std::string>& items);
/// quote(s), or empty when not set.
std::string quote_optional(const std::optional<std::string>& s);
std::string show_bool(bool b);

/// A DURATION (units.hpp) within [lo, hi].
std::chrono::nanoseconds parse_duration_in(const values& v, std::chrono::nanoseconds lo,
                                           std::chrono::nanoseconds hi);
/// The steady clock's duration as parse_duration_in's.
std::chrono::nanoseconds to_duration(std::chrono::steady_clock::duration d);
/// A SIZE (units.hpp) within [lo, hi].
std::size_t parse_size_in(const values& v, std::uint64_t lo, std::uint64_t hi);
/// One of `choices`.
std::string parse_choice(const values& v, std::initializer_list<std::string_view> choices);
/// true, 1, yes, on; false, 0, no, off.
bool parse_bool(const values& v);
/// Any text but the empty one.
std::string parse_text(const values& v);
/// Every value a listen URL.
std::vector<server::listen_spec> parse_listeners(const values& v);
/// The listeners as URLs with their auth.
std::string show_listeners(const options& o);
/// HOST:PORT, HOST an IPv4 literal, [IPv6] or localhost (127.0.0.1).
asio::ip::tcp::endpoint parse_endpoint(const std::string& text);
log::level to_level(const std::string& s);
std::string_view level_name(log::level l);

/// A whole number within [lo, hi].
template <typename T>
T parse_count(const values& v, T lo = 0, T hi = std::numeric_limits<T>::max()) {
    const auto& text = v.back();
    T n{};
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (text.empty() || text.front() == '-' || ec == std::errc::invalid_argument ||
        end != text.data() + text.size())
        throw option_error(fmt::format("{} is not a whole number", quote(text)));
    if (ec != std::errc{} || n < lo || n > hi)
        throw option_error(fmt::format("{} is out of range ({} to {})", quote(text), lo, hi));
    return n;
}

} // namespace weir::cli
