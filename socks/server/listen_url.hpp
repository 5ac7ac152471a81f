#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace weir::server {

/// Which protocols a listener speaks.
enum class scheme { socks4, socks5, socks };

/// Whether SOCKS5 clients must authenticate with RFC 1929 username/password.
enum class auth_mode { none, password };

/// One `--listen` URL: `SCHEME://HOST:PORT[?auth=none|password][&proxy_protocol=true]`
/// (the parameters in any order).
struct listen_spec {
    weir::server::scheme scheme = scheme::socks;
    std::string host; ///< IP literal, IPv6 without brackets
    std::uint16_t port = 0;
    auth_mode auth = auth_mode::none;
    /// An embedded default that this host may lack (the IPv6 wildcard on a
    /// kernel without IPv6): skipped with a warning instead of failing start-up.
    bool optional = false;
    /// Every connection starts with a PROXY protocol header (v1 or v2) from a
    /// load balancer, whose source address is then the client.
    bool proxy_protocol = false;
    /// One of the two listeners that `localhost` stands for.
    bool localhost = false;

    bool operator==(const listen_spec&) const = default;
};

/// Thrown for a malformed URL; what() says what is wrong and is safe to print.
struct listen_url_error : std::invalid_argument {
    using std::invalid_argument::invalid_argument;
};

/// Parses and validates a listen URL. The host must be an IPv4 or bracketed
/// IPv6 literal (or `localhost`, meaning 127.0.0.1). `auth` defaults to
/// `password` for socks5 and `none` otherwise; `auth=password` on a scheme
/// that accepts SOCKS4 is refused, since SOCKS4 carries no password and
/// would walk around it. `proxy_protocol` defaults to false.
listen_spec parse_listen_url(std::string_view url);

/// The listeners a `--listen` URL stands for: one, or for `localhost` two,
/// 127.0.0.1 and ::1 on the same port (the IPv6 one optional: a host without
/// IPv6 serves on 127.0.0.1 alone).
std::vector<listen_spec> parse_listen_urls(std::string_view url);

/// "socks5://127.0.0.1:1088", "socks://[::1]:1080" (the query not shown: rules
/// name listeners by this form).
std::string to_url(const listen_spec& spec);

std::string_view to_string(scheme s) noexcept;
std::string_view to_string(auth_mode a) noexcept;

/// The embedded defaults: socks://127.0.0.1:1080 + socks://[::1]:1080 (no
/// auth), and socks5://0.0.0.0:1088 + socks5://[::]:1088 (password); the IPv6
/// ones optional.
std::vector<listen_spec> default_listeners();

} // namespace weir::server

namespace weir::server {
/// True when the listener's address is loopback (127.0.0.0/8 or ::1): only
/// local clients can reach it.
bool is_loopback(const listen_spec& spec);

} // namespace weir::server
