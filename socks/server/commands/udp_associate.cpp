#include "socks/server/commands/udp_associate.hpp"

#include "io/portable_error.hpp"
#include "socks/server/address_conversion.hpp"
#include "socks/server/udp_association.hpp"

#include <asio/ip/v6_only.hpp>

namespace weir::server {
namespace {

using asio::ip::udp;

// Datagrams come in bursts: room for them in the kernel, beyond its default.
constexpr int socket_buffer = 4 << 20;

void size_buffers(udp_socket& s) {
    std::error_code ignored;
    s.set_option(asio::socket_base::receive_buffer_size(socket_buffer), ignored);
    s.set_option(asio::socket_base::send_buffer_size(socket_buffer), ignored);
}

// Faces the client: on the address the control connection arrived on.
std::error_code open_relay(udp_socket& relay, const asio::ip::address& local) {
    std::error_code ec;
    relay.open(local.is_v4() ? udp::v4() : udp::v6(), ec);
    if (!ec) relay.bind(udp::endpoint(local, 0), ec);
    if (!ec) size_buffers(relay);
    return io::portable(ec);
}

// Faces the targets: IPv6 and IPv4 on one socket, or IPv4 alone on a host
// without IPv6.
std::error_code open_upstream(udp_socket& upstream) {
    std::error_code ec;
    upstream.open(udp::v6(), ec);
    if (!ec) upstream.set_option(asio::ip::v6_only(false), ec);
    if (!ec) upstream.bind(udp::endpoint(udp::v6(), 0), ec);
    if (ec) {
        std::error_code ignored;
        upstream.close(ignored);
        ec.clear();
        upstream.open(udp::v4(), ec);
        if (!ec) upstream.bind(udp::endpoint(udp::v4(), 0), ec);
    }
    if (!ec) size_buffers(upstream);
    return io::portable(ec);
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
    udp_socket relay(s.client().get_executor());
    udp_socket upstream(s.client().get_executor());
    if (!ec) ec = open_relay(relay, local.address());
    if (!ec) ec = open_upstream(upstream);
    if (ec) co_return co_await s.refuse(io::portable(ec));
    const auto at = relay.local_endpoint();
    const auto bound = to_proto(at.address(), at.port());
    if (!co_await s.reply(proto::reply_code::succeeded, bound)) co_return s.finish();
    s.hand_over(std::move(relay), std::move(upstream), remote.address(),
                client_port(s.request().destination, remote.address()));
}

} // namespace weir::server
