#include "bench/socks_client.hpp"

#include "bench/net.hpp"

#include <initializer_list>
#include <stdexcept>

namespace weir::bench {
namespace {

using bytes = std::vector<std::uint8_t>;

/// A message starting with `head`, with room for the largest one (GCC 12
/// misjudges inserts into a vector sized by its initializer list).
bytes message(std::initializer_list<std::uint8_t> head) {
    bytes out;
    out.reserve(1024);
    out.insert(out.end(), head);
    return out;
}

void append(bytes& out, std::string_view s) {
    out.insert(out.end(), s.begin(), s.end());
}

void append_port(bytes& out, const sockaddr_in& a) {
    const auto* p = reinterpret_cast<const std::uint8_t*>(&a.sin_port); // network order already
    out.insert(out.end(), p, p + 2);
}

void append_ipv4(bytes& out, const sockaddr_in& a) {
    const auto* p = reinterpret_cast<const std::uint8_t*>(&a.sin_addr.s_addr);
    out.insert(out.end(), p, p + 4);
}

/// +----+-----+-------+------+----------+----------+
/// |VER | CMD |  RSV  | ATYP | DST.ADDR | DST.PORT |
bytes socks5_request(const sockaddr_in& target, std::string_view name, bool by_name) {
    bytes out = message({0x05, 0x01, 0x00});
    if (by_name) {
        out.push_back(0x03);
        out.push_back(static_cast<std::uint8_t>(name.size()));
        append(out, name);
    } else {
        out.push_back(0x01);
        append_ipv4(out, target);
    }
    append_port(out, target);
    return out;
}

/// +----+----+----+----+----+----+----+----+----+----+....+----+
/// | VN | CD | DSTPORT |      DSTIP        | USERID       |NULL| [HOST NULL]
bytes socks4_request(const sockaddr_in& target, std::string_view user, std::string_view name,
                     bool by_name) {
    bytes out = message({0x04, 0x01});
    append_port(out, target);
    if (by_name)
        out.insert(out.end(), {0, 0, 0, 1});
    else
        append_ipv4(out, target);
    append(out, user);
    out.push_back(0);
    if (by_name) {
        append(out, name);
        out.push_back(0);
    }
    return out;
}

std::vector<handshake_step> socks5_steps(const proxy_spec& proxy, const sockaddr_in& target,
                                         std::string_view name) {
    const bool password = !proxy.user.empty();
    std::vector<handshake_step> steps;
    steps.push_back({message({0x05, 0x01, static_cast<std::uint8_t>(password ? 0x02 : 0x00)}),
                     password ? reply_kind::method_password : reply_kind::method_none});
    if (password) {
        // |VER | ULEN | UNAME | PLEN | PASSWD |
        bytes auth = message({0x01, static_cast<std::uint8_t>(proxy.user.size())});
        append(auth, proxy.user);
        auth.push_back(static_cast<std::uint8_t>(proxy.password.size()));
        append(auth, proxy.password);
        steps.push_back({std::move(auth), reply_kind::auth});
    }
    steps.push_back({socks5_request(target, name, proxy.kind == proxy_kind::socks5h),
                     reply_kind::socks5_reply});
    return steps;
}

reply_result fixed(std::span<const std::uint8_t> in, std::uint8_t b0, std::uint8_t b1,
                   std::size_t size) {
    if (in.size() < 2) return {};
    if (in[0] != b0 || in[1] != b1) return {reply_status::refused, 0};
    if (in.size() < size) return {};
    return {reply_status::ok, size};
}

} // namespace

proxy_spec parse_proxy(std::string_view url) {
    proxy_spec spec;
    if (url == "direct") return spec;
    const auto sep = url.find("://");
    if (sep == std::string_view::npos) throw std::invalid_argument("proxy URL needs SCHEME://");
    const auto scheme = url.substr(0, sep);
    if (scheme == "socks4")
        spec.kind = proxy_kind::socks4;
    else if (scheme == "socks4a")
        spec.kind = proxy_kind::socks4a;
    else if (scheme == "socks5")
        spec.kind = proxy_kind::socks5;
    else if (scheme == "socks5h")
        spec.kind = proxy_kind::socks5h;
    else
        throw std::invalid_argument("unknown proxy scheme: " + std::string(scheme));
    auto rest = url.substr(sep + 3);
    if (const auto at = rest.rfind('@'); at != std::string_view::npos) {
        const auto creds = rest.substr(0, at);
        const auto colon = creds.find(':');
        spec.user = std::string(creds.substr(0, colon));
        if (colon != std::string_view::npos) spec.password = std::string(creds.substr(colon + 1));
        if (spec.user.size() > 255 || spec.password.size() > 255)
            throw std::invalid_argument("username and password are at most 255 bytes");
        rest = rest.substr(at + 1);
    }
    spec.address = parse_loopback(rest);
    return spec;
}

std::vector<handshake_step> make_handshake(const proxy_spec& proxy, const sockaddr_in& target,
                                           std::string_view target_name, bool pipelined) {
    if (target_name.size() > 255) throw std::invalid_argument("target name too long");
    std::vector<handshake_step> steps;
    switch (proxy.kind) {
    case proxy_kind::direct:
        return steps;
    case proxy_kind::socks4:
    case proxy_kind::socks4a:
        steps.push_back(
            {socks4_request(target, proxy.user, target_name, proxy.kind == proxy_kind::socks4a),
             reply_kind::socks4_reply});
        return steps;
    case proxy_kind::socks5:
    case proxy_kind::socks5h:
        steps = socks5_steps(proxy, target, target_name);
        break;
    }
    if (pipelined) {
        for (std::size_t i = 1; i < steps.size(); ++i) {
            steps[0].send.insert(steps[0].send.end(), steps[i].send.begin(), steps[i].send.end());
            steps[i].send.clear();
        }
    }
    return steps;
}

reply_result check_reply(reply_kind kind, std::span<const std::uint8_t> in) {
    switch (kind) {
    case reply_kind::method_none:
        return fixed(in, 0x05, 0x00, 2);
    case reply_kind::method_password:
        return fixed(in, 0x05, 0x02, 2);
    case reply_kind::auth:
        return fixed(in, 0x01, 0x00, 2);
    case reply_kind::socks4_reply:
        return fixed(in, 0x00, 0x5a, 8);
    case reply_kind::socks5_reply:
        break;
    }
    const auto head = fixed(in, 0x05, 0x00, 5);
    if (head.status != reply_status::ok) return head;
    std::size_t size = 0;
    switch (in[3]) {
    case 0x01:
        size = 4 + 4 + 2;
        break;
    case 0x04:
        size = 4 + 16 + 2;
        break;
    case 0x03:
        size = 4 + 1 + std::size_t{in[4]} + 2;
        break;
    default:
        return {reply_status::refused, 0};
    }
    if (in.size() < size) return {};
    return {reply_status::ok, size};
}

} // namespace weir::bench
