#include "cli/option_values.hpp"

#include "cli/units.hpp"

#include <algorithm>

namespace weir::cli {

std::string quote(std::string_view s) {
    std::string out = "\"";
    for (const char c : s) {
        if (c == '"' || c == '\\') out += '\\';
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        out += c;
    }
    return out + '"';
}

std::string quote_list(const std::vector<std::string>& items) {
    std::string out = "[";
    for (const auto& item : items)
        out += (out.size() > 1 ? ", " : "") + quote(item);
    return out + "]";
}

std::string quote_optional(const std::optional<std::string>& s) {
    return s ? quote(*s) : std::string();
}

std::chrono::nanoseconds to_duration(std::chrono::steady_clock::duration d) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(d);
}

std::chrono::nanoseconds parse_duration_in(const values& v, std::chrono::nanoseconds lo,
                                           std::chrono::nanoseconds hi) {
    const auto d = parse_duration(v.back());
    if (!d)
        throw option_error(
            fmt::format("{} is not a duration ({})", quote(v.back()), duration_forms));
    if (*d < lo || *d > hi)
        throw option_error(fmt::format("{} is out of range ({} to {})", quote(v.back()),
                                       show_duration(lo), show_duration(hi)));
    return *d;
}

std::size_t parse_size_in(const values& v, std::uint64_t lo, std::uint64_t hi) {
    const auto s = parse_size(v.back());
    if (!s) throw option_error(fmt::format("{} is not a size ({})", quote(v.back()), size_forms));
    if (*s < lo || *s > hi)
        throw option_error(fmt::format("{} is out of range ({} to {})", quote(v.back()),
                                       show_size(lo), show_size(hi)));
    return static_cast<std::size_t>(*s);
}

std::string parse_choice(const values& v, std::initializer_list<std::string_view> choices) {
    const auto& text = v.back();
    if (std::find(choices.begin(), choices.end(), text) != choices.end()) return text;
    std::string list;
    for (const auto c : choices)
        list += (list.empty() ? "" : ", ") + std::string(c);
    throw option_error(fmt::format("{} is not one of {}", quote(text), list));
}

bool parse_bool(const values& v) {
    const auto& t = v.back();
    if (t == "true" || t == "1" || t == "yes" || t == "on") return true;
    if (t == "false" || t == "0" || t == "no" || t == "off" || t.empty()) return false;
    throw option_error(fmt::format("{} is not true or false", quote(t)));
}

std::string parse_text(const values& v) {
    if (v.back().empty()) throw option_error("the value is empty");
    return v.back();
}

std::vector<server::listen_spec> parse_listeners(const values& v) {
    std::vector<server::listen_spec> out;
    for (const auto& url : v) {
        try {
            for (auto& spec : server::parse_listen_urls(url))
                out.push_back(std::move(spec));
        } catch (const server::listen_url_error& e) {
            // "--listen 'URL': why": the option is named where the value came from.
            std::string_view what = e.what();
            if (what.substr(0, 9) == "--listen ") what.remove_prefix(9);
            throw option_error(std::string(what));
        }
    }
    return out;
}

std::string show_listeners(const options& o) {
    std::vector<std::string> urls;
    for (const auto& l : o.config.listeners)
        urls.push_back(fmt::format("{}?auth={}", server::to_url(l), server::to_string(l.auth)));
    return quote_list(urls);
}

asio::ip::tcp::endpoint parse_endpoint(const std::string& text) {
    const auto colon = text.rfind(':');
    const auto bad = [&](std::string_view why) {
        return option_error(fmt::format("{} is not HOST:PORT ({}; HOST an IPv4 address, [IPv6] "
                                        "or localhost)",
                                        quote(text), why));
    };
    if (colon == std::string::npos) throw bad("no port");
    std::string host = text.substr(0, colon);
    const std::string port = text.substr(colon + 1);
    unsigned p = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (port.empty() || ec != std::errc{} || end != port.data() + port.size() || p > 65535)
        throw bad("the port must be 0 to 65535");
    const auto port_number = static_cast<std::uint16_t>(p);
    if (host == "localhost") return {asio::ip::address_v4::loopback(), port_number};
    const bool bracketed = host.size() > 2 && host.front() == '[' && host.back() == ']';
    if (bracketed) host = host.substr(1, host.size() - 2);
    std::error_code error;
    const auto addr = asio::ip::make_address(host, error);
    if (error || addr.is_v6() != bracketed) throw bad("bad host");
    return {addr, port_number};
}

log::level to_level(const std::string& s) {
    if (s == "debug") return log::level::debug;
    if (s == "warn") return log::level::warn;
    if (s == "error") return log::level::error;
    return log::level::info;
}

std::string_view level_name(log::level l) {
    switch (l) {
    case log::level::debug:
        return "debug";
    case log::level::info:
        return "info";
    case log::level::warn:
        return "warn";
    case log::level::error:
        return "error";
    }
    return "info";
}

std::string show_bool(bool b) {
    return b ? "true" : "false";
}

} // namespace weir::cli
