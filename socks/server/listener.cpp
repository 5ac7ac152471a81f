#include "socks/server/listener.hpp"

#include <cerrno>
#include <sys/socket.h>

#include <asio/error.hpp>
#include <asio/ip/v6_only.hpp>

namespace weir::server {
namespace {

using asio::ip::tcp;
using reuse_port = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

// Opens `a` and binds it to `at`; with `shared`, as one of a SO_REUSEPORT group.
void bind_to(listen_socket& a, const tcp::endpoint& at, bool shared, std::error_code& ec) {
    a.open(at.protocol(), ec);
    if (!ec) a.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec && shared) a.set_option(reuse_port(true), ec);
    // Accepted sockets inherit TCP_NODELAY (Linux copies it at accept):
    // one setsockopt here instead of one per session.
    if (!ec) a.set_option(tcp::no_delay(true), ec);
    if (!ec && at.address().is_v6()) a.set_option(asio::ip::v6_only(true), ec);
    if (!ec) a.bind(at, ec);
}

listen_socket open_acceptor(asio::io_context& io, const tcp::endpoint& at, bool shared, int backlog,
                            std::error_code& ec) {
    listen_socket a(io);
    bind_to(a, at, shared, ec);
    if (!ec) a.listen(backlog, ec);
    return a;
}

// SO_REUSEPORT lets any socket of the same user join a group: a plain bind
// first makes sure no other listener (another weir, say) holds the port.
std::error_code port_in_use(asio::io_context& io, const tcp::endpoint& at) {
    listen_socket probe(io);
    std::error_code ec;
    bind_to(probe, at, false, ec);
    return ec;
}

} // namespace

proto::server_handshake::options handshake_options(const listen_spec& spec) {
    proto::server_handshake::options o;
    o.socks4 = spec.scheme != scheme::socks5;
    o.socks5 = spec.scheme != scheme::socks4;
    o.require_password = spec.auth == auth_mode::password;
    return o;
}

std::vector<listen_socket>
open_group(const std::vector<std::unique_ptr<asio::io_context>>& contexts, const tcp::endpoint& at,
           std::size_t first, int backlog, std::error_code& ec) {
    const auto n = contexts.size();
    std::vector<listen_socket> group;
    if (n > 1 && at.port() != 0) ec = port_in_use(*contexts[first], at);
    auto ep = at;
    for (std::size_t k = 0; k < n && !ec; ++k) {
        group.push_back(open_acceptor(*contexts[(first + k) % n], ep, n > 1, backlog, ec));
        if (!ec && k == 0) ep.port(group.front().local_endpoint(ec).port());
    }
    return group;
}

bool host_lacks_address(const std::error_code& ec) {
    return ec.category() == asio::error::get_system_category() &&
           (ec.value() == EAFNOSUPPORT || ec.value() == EADDRNOTAVAIL);
}

} // namespace weir::server
