#include "socks/server/listen_url.hpp"

#include <charconv>
#include <system_error>

#include <asio/ip/address.hpp>
#include <fmt/core.h>

namespace weir::server {
namespace {

scheme parse_scheme(std::string_view s) {
    if (s == "socks4") return scheme::socks4;
    if (s == "socks5") return scheme::socks5;
    if (s == "socks") return scheme::socks;
    throw listen_url_error(
        fmt::format("unknown scheme '{}' (expected socks4, socks5 or socks)", s));
}

std::uint16_t parse_port(std::string_view s) {
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (s.empty() || ec != std::errc{} || end != s.data() + s.size() || value > 65535)
        throw listen_url_error(fmt::format("bad port '{}' (expected 0 to 65535)", s));
    return static_cast<std::uint16_t>(value);
}

// Splits "HOST:PORT" or "[V6]:PORT" into host (brackets removed; localhost as
// 127.0.0.1) and port text.
std::pair<std::string, std::string_view> split_host_port(std::string_view hp) {
    if (hp.starts_with('[')) {
        const auto close = hp.find(']');
        if (close == std::string_view::npos || close + 1 >= hp.size() || hp[close + 1] != ':')
            throw listen_url_error("expected [IPv6]:PORT");
        const std::string host(hp.substr(1, close - 1));
        std::error_code ec;
        const auto addr = asio::ip::make_address(host, ec);
        if (ec || !addr.is_v6()) throw listen_url_error(fmt::format("bad IPv6 address '{}'", host));
        return {host, hp.substr(close + 2)};
    }
    const auto colon = hp.rfind(':');
    if (colon == std::string_view::npos) throw listen_url_error("expected HOST:PORT");
    std::string host(hp.substr(0, colon));
    if (host == "localhost") host = "127.0.0.1";
    std::error_code ec;
    const auto addr = asio::ip::make_address(host, ec);
    if (ec || !addr.is_v4())
        throw listen_url_error(fmt::format(
            "bad host '{}' (expected an IPv4 address, [IPv6] in brackets, or localhost)", host));
    return {host, hp.substr(colon + 1)};
}

// One `key=value` of the query into `spec`; each key at most once.
void parse_parameter(std::string_view param, listen_spec& spec, bool& auth_seen, bool& proxy_seen) {
    if (param.starts_with("auth=") && !auth_seen) {
        auth_seen = true;
        const auto value = param.substr(5);
        if (value == "none" || value == "password") {
            spec.auth = value == "none" ? auth_mode::none : auth_mode::password;
            return;
        }
    } else if (param.starts_with("proxy_protocol=") && !proxy_seen) {
        proxy_seen = true;
        const auto value = param.substr(15);
        if (value == "true" || value == "false") {
            spec.proxy_protocol = value == "true";
            return;
        }
    }
    throw listen_url_error(fmt::format("unknown query '{}' (expected auth=none or auth=password, "
                                       "proxy_protocol=true or proxy_protocol=false, "
                                       "joined by '&', each at most once)",
                                       param));
}

// `auth` defaults to password for socks5; proxy_protocol to false.
void parse_query(std::string_view query, listen_spec& spec) {
    spec.auth = spec.scheme == scheme::socks5 ? auth_mode::password : auth_mode::none;
    if (query.empty()) return;
    bool auth_seen = false;
    bool proxy_seen = false;
    for (;;) {
        const auto amp = query.find('&');
        parse_parameter(query.substr(0, amp), spec, auth_seen, proxy_seen);
        if (amp == std::string_view::npos) return;
        query = query.substr(amp + 1);
    }
}

bool names_localhost(std::string_view url) {
    const auto sep = url.find("://");
    if (sep == std::string_view::npos) return false;
    const auto rest = url.substr(sep + 3);
    return rest.starts_with("localhost:");
}

} // namespace

listen_spec parse_listen_url(std::string_view url) {
    try {
        const auto sep = url.find("://");
        if (sep == std::string_view::npos) throw listen_url_error("expected SCHEME://HOST:PORT");
        listen_spec spec;
        spec.scheme = parse_scheme(url.substr(0, sep));
        auto rest = url.substr(sep + 3);
        std::string_view query;
        if (const auto q = rest.find('?'); q != std::string_view::npos) {
            query = rest.substr(q + 1);
            rest = rest.substr(0, q);
        }
        auto [host, port] = split_host_port(rest);
        spec.host = std::move(host);
        spec.port = parse_port(port);
        parse_query(query, spec);
        if (spec.auth == auth_mode::password && spec.scheme != scheme::socks5)
            throw listen_url_error(
                "auth=password needs scheme socks5: SOCKS4 cannot carry a password, so a "
                "socks or socks4 listener would let clients walk around it");
        return spec;
    } catch (const listen_url_error& e) {
        throw listen_url_error(fmt::format("--listen '{}': {}", url, e.what()));
    }
}

std::vector<listen_spec> parse_listen_urls(std::string_view url) {
    auto v4 = parse_listen_url(url);
    if (!names_localhost(url)) return {v4};
    // localhost is both loopback addresses, as for `ssh -D`; a host without
    // IPv6 still serves on 127.0.0.1.
    auto v6 = v4;
    v6.host = "::1";
    v6.optional = true;
    v4.localhost = v6.localhost = true;
    return {v4, v6};
}

std::string to_url(const listen_spec& spec) {
    const bool v6 = spec.host.find(':') != std::string::npos;
    return fmt::format("{}://{}{}{}:{}", to_string(spec.scheme), v6 ? "[" : "", spec.host,
                       v6 ? "]" : "", spec.port);
}

std::string_view to_string(scheme s) noexcept {
    switch (s) {
    case scheme::socks4:
        return "socks4";
    case scheme::socks5:
        return "socks5";
    case scheme::socks:
        return "socks";
    }
    return "?";
}

std::string_view to_string(auth_mode a) noexcept {
    return a == auth_mode::password ? "password" : "none";
}

std::vector<listen_spec> default_listeners() {
    return {
        {scheme::socks, "127.0.0.1", 1080, auth_mode::none},
        {scheme::socks, "::1", 1080, auth_mode::none, true},
        {scheme::socks5, "0.0.0.0", 1088, auth_mode::password},
        {scheme::socks5, "::", 1088, auth_mode::password, true},
    };
}

} // namespace weir::server

namespace weir::server {

bool is_loopback(const listen_spec& spec) {
    std::error_code ec;
    const auto addr = asio::ip::make_address(spec.host, ec);
    return !ec && addr.is_loopback();
}

} // namespace weir::server
