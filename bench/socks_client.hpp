#pragma once

#include <cstddef>
#include <cstdint>
#include <netinet/in.h>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace weir::bench {

enum class proxy_kind { direct, socks4, socks4a, socks5, socks5h };

/// Where the load generator connects, and how it asks for the target.
struct proxy_spec {
    proxy_kind kind = proxy_kind::direct;
    sockaddr_in address{}; ///< the proxy (unused for direct)
    std::string user;      ///< SOCKS5: username/password when not empty; SOCKS4: USERID
    std::string password;
};

/// Parses "direct" or "SCHEME://[USER:PASS@]127.x.y.z:PORT" with SCHEME one
/// of socks4, socks4a, socks5, socks5h (h: the target goes as a name).
/// Throws std::invalid_argument.
proxy_spec parse_proxy(std::string_view url);

/// The reply a step waits for.
enum class reply_kind : std::uint8_t {
    method_none,     ///< 05 00
    method_password, ///< 05 02
    auth,            ///< RFC 1929: 01 00
    socks5_reply,    ///< 05 00 00 ATYP BND.ADDR BND.PORT
    socks4_reply,    ///< 00 5A PORT IP
};

/// Bytes the client sends, then the reply it waits for before the next step.
struct handshake_step {
    std::vector<std::uint8_t> send;
    reply_kind expect = reply_kind::socks5_reply;
};

/// The client side of a handshake that asks `proxy` for `target` (or for
/// `target_name` and target's port with socks4a/socks5h). Pipelined puts every
/// byte into the first step. Empty for direct.
std::vector<handshake_step> make_handshake(const proxy_spec& proxy, const sockaddr_in& target,
                                           std::string_view target_name, bool pipelined);

enum class reply_status { need_more, ok, refused };

struct reply_result {
    reply_status status = reply_status::need_more;
    std::size_t used = 0; ///< bytes of the reply (when ok)
};

/// Checks the bytes received so far against the reply `kind` expects.
reply_result check_reply(reply_kind kind, std::span<const std::uint8_t> in);

} // namespace weir::bench
