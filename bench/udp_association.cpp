#include "bench/udp_association.hpp"

#include "bench/udp_echo.hpp"

#include <cerrno>
#include <cstring>
#include <sys/socket.h>

namespace weir::bench {
namespace {

/// A blocking TCP socket to `to` whose sends and receives give up after `timeout`.
unique_fd dial_blocking(const sockaddr_in& to, double timeout, std::string& error) {
    unique_fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) {
        error = std::strerror(errno);
        return fd;
    }
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(timeout);
    tv.tv_usec = static_cast<suseconds_t>((timeout - static_cast<double>(tv.tv_sec)) * 1e6);
    ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0) {
        error = std::string("connect: ") + std::strerror(errno);
        return unique_fd{};
    }
    return fd;
}

/// Reads one reply of `kind` (nothing beyond it: replies are answers to
/// requests, and no payload follows on a control connection).
bool read_reply(int fd, reply_kind kind, std::vector<std::uint8_t>& in, std::string& error) {
    in.clear();
    for (;;) {
        const auto r = check_reply(kind, in);
        if (r.status == reply_status::ok) return true;
        if (r.status == reply_status::refused) return error = "refused", false;
        std::uint8_t b = 0;
        const ssize_t n = ::recv(fd, &b, 1, 0); // a byte at a time: a few bytes per reply
        if (n != 1) return error = n == 0 ? "EOF in the handshake" : "no reply", false;
        in.push_back(b);
    }
}

/// Where the proxy said to send datagrams (BND.ADDR 0.0.0.0: the proxy's address).
bool relay_address(const std::vector<std::uint8_t>& reply, const proxy_spec& proxy,
                   sockaddr_in& out, std::string& error) {
    if (reply.size() != 10 || reply[3] != 0x01) return error = "BND not IPv4", false;
    out = proxy.address;
    if (reply[4] != 0 || reply[5] != 0 || reply[6] != 0 || reply[7] != 0)
        std::memcpy(&out.sin_addr, reply.data() + 4, 4);
    std::memcpy(&out.sin_port, reply.data() + 8, 2);
    return true;
}

/// A UDP socket on 127.0.0.1 connect()ed to `to`: sends need no address and
/// datagrams from anyone else are not received.
unique_fd connected_udp(const sockaddr_in& to) {
    auto fd = open_udp(ipv4_address(0x7f000001, 0));
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0)
        throw sys_error("connect udp");
    return fd;
}

/// Handshakes of one window, step by step across the window.
bool associate_window(std::vector<udp_client>& window, const std::vector<handshake_step>& steps,
                      const proxy_spec& proxy, std::string& error) {
    std::vector<std::uint8_t> in;
    for (const auto& step : steps) {
        for (auto& c : window)
            if (::send(c.control.get(), step.send.data(), step.send.size(), MSG_NOSIGNAL) !=
                static_cast<ssize_t>(step.send.size()))
                return error = "send in the handshake", false;
        for (auto& c : window) {
            if (!read_reply(c.control.get(), step.expect, in, error)) return false;
            if (step.expect != reply_kind::socks5_reply) continue;
            sockaddr_in relay{};
            if (!relay_address(in, proxy, relay, error)) return false;
            c.udp = connected_udp(relay);
        }
    }
    return true;
}

} // namespace

std::vector<udp_client> open_udp_clients(const proxy_spec& proxy, const sockaddr_in& target,
                                         std::size_t count, std::size_t window, double timeout,
                                         std::string& error) {
    std::vector<udp_client> clients;
    clients.reserve(count);
    if (proxy.kind == proxy_kind::direct) {
        for (std::size_t i = 0; i < count; ++i)
            clients.push_back({unique_fd{}, connected_udp(target)});
        return clients;
    }
    if (proxy.kind != proxy_kind::socks5 && proxy.kind != proxy_kind::socks5h) {
        error = "UDP ASSOCIATE needs a socks5:// proxy";
        return clients;
    }
    // UDP ASSOCIATE 0.0.0.0:0: the client does not say where it sends from.
    auto steps = make_handshake(proxy, ipv4_address(0, 0), "", false);
    steps.back().send = {0x05, 0x03, 0x00, 0x01, 0, 0, 0, 0, 0, 0};
    while (clients.size() < count) {
        std::vector<udp_client> batch;
        for (std::size_t i = 0; i < window && clients.size() + i < count; ++i) {
            auto fd = dial_blocking(proxy.address, timeout, error);
            if (!fd) return clients;
            batch.push_back({std::move(fd), unique_fd{}});
        }
        if (!associate_window(batch, steps, proxy, error)) return clients;
        for (auto& c : batch)
            clients.push_back(std::move(c));
    }
    return clients;
}

std::vector<std::uint8_t> udp_request_header(const proxy_spec& proxy, const sockaddr_in& target) {
    if (proxy.kind == proxy_kind::direct) return {};
    // +----+------+------+----------+----------+----------+
    // |RSV | FRAG | ATYP | DST.ADDR | DST.PORT |   DATA   |
    std::vector<std::uint8_t> h{0x00, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0};
    std::memcpy(h.data() + 4, &target.sin_addr, 4);
    std::memcpy(h.data() + 8, &target.sin_port, 2);
    return h;
}

std::size_t udp_reply_header_size(const std::uint8_t* p, std::size_t size) {
    if (size < 5 || p[0] != 0 || p[1] != 0 || p[2] != 0) return 0;
    std::size_t head = 0;
    switch (p[3]) {
    case 0x01:
        head = 10;
        break;
    case 0x04:
        head = 22;
        break;
    case 0x03:
        head = 7u + p[4];
        break;
    default:
        return 0;
    }
    return size >= head ? head : 0;
}

} // namespace weir::bench
