#include "socks/server/commands/udp_associate.hpp"

#include "io/portable_error.hpp"
#include "socks/server/address_conversion.hpp"
#include "socks/server/udp_association.hpp"
#include "socks/server/udp_batch.hpp"

#include <cerrno>
#include <netinet/in.h>
#include <sys/socket.h>

namespace weir::server {
namespace {

// Datagrams come in bursts: room for them in the kernel, beyond its default.
constexpr int socket_buffer = 4 << 20;

std::error_code last_error() {
    return {errno, std::system_category()};
}

// A non-blocking UDP socket of `family` bound to `at` (port 0: any), its
// buffers sized; Asio never sees it (the thread's io::poll_set watches it).
std::error_code open_udp(io::unique_fd& fd, int family, const sockaddr_storage& at,
                         socklen_t at_len) {
    fd.reset(::socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) return last_error();
    const int off = 0;
    if (family == AF_INET6 &&
        ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off) != 0)
        return last_error();
    if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&at), at_len) != 0) return last_error();
    ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &socket_buffer, sizeof socket_buffer);
    ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDBUF, &socket_buffer, sizeof socket_buffer);
    return {};
}

// Faces the client: on the address the control connection arrived on.
std::error_code open_relay(io::unique_fd& relay, const asio::ip::address& local) {
    sockaddr_storage at;
    const auto family = local.is_v4() ? AF_INET : AF_INET6;
    const auto len = udp::to_sockaddr({local, 0}, family, at);
    return open_udp(relay, family, at, len);
}

// Faces the targets: IPv6 and IPv4 on one socket, or IPv4 alone on a host
// without IPv6. The family it got.
std::error_code open_upstream(io::unique_fd& upstream, int& family) {
    sockaddr_storage at;
    family = AF_INET6;
    auto len = udp::to_sockaddr({asio::ip::address_v6::any(), 0}, family, at);
    if (!open_udp(upstream, family, at, len)) return {};
    family = AF_INET;
    len = udp::to_sockaddr({asio::ip::address_v4::any(), 0}, family, at);
    return open_udp(upstream, family, at, len);
}

// Where the relay socket is bound.
std::error_code bound_to(const io::unique_fd& fd, udp::peer& at) {
    sockaddr_storage sa{};
    socklen_t len = sizeof sa;
    if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&sa), &len) != 0) return last_error();
    at = udp::peer_of(sa);
    return {};
}

// The port the client is held to: the one it named with its own address, else
// 0 (its first datagram's).
std::uint16_t client_port(const proto::address& named, const asio::ip::address& client) {
    const auto ep = to_endpoint(named);
    if (!ep || ep->address() != client) return 0;
    return ep->port();
}

} // namespace

io::task<void> run_udp_associate(session& s) {
    std::error_code ec;
    const auto local = s.client().local_endpoint(ec);
    const auto remote = s.client().remote_endpoint(ec);
    udp_sockets sockets;
    udp::peer at;
    if (!ec) ec = open_relay(sockets.relay, local.address());
    if (!ec) ec = open_upstream(sockets.upstream, sockets.upstream_family);
    if (!ec) ec = bound_to(sockets.relay, at);
    if (ec) co_return co_await s.refuse(io::portable(ec)); // local/remote_endpoint: Asio's category
    if (!co_await s.reply(proto::reply_code::succeeded, to_proto(at.address, at.port)))
        co_return s.finish();
    s.hand_over(std::move(sockets), remote.address(),
                client_port(s.request().destination, remote.address()));
}

} // namespace weir::server
