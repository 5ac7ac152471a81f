#include "socks/server/commands/bind.hpp"

#include "io/portable_error.hpp"
#include "socks/server/address_conversion.hpp"
#include "socks/server/resolver.hpp"

#include <algorithm>
#include <cerrno>
#include <optional>
#include <sys/socket.h>
#include <vector>

#include <asio/experimental/deferred.hpp>
#include <asio/experimental/parallel_group.hpp>
#include <asio/ip/udp.hpp>

namespace weir::server {
namespace {

using asio::ip::tcp;
using acceptor = asio::basic_socket_acceptor<tcp, io::executor>;
using peers = std::vector<asio::ip::address>;

// The request's DST.ADDR, or the addresses its name resolves to.
io::task<std::error_code> destination_addresses(session& s, peers& out) {
    const auto& dst = s.request().destination;
    if (const auto literal = to_endpoint(dst)) {
        out.push_back(literal->address());
        co_return std::error_code();
    }
    auto result = co_await resolve(s.context().resolver, s.client_key(),
                                   std::get<std::string>(dst.host), dst.port, s.deadline().slot());
    for (const auto& ep : result.endpoints)
        out.push_back(ep.address());
    co_return io::portable(result.error);
}

// Whom the peer may be: the destination's addresses the rules allow (IPv4
// only for SOCKS4, whose replies carry nothing else), within the connect timeout.
io::task<std::error_code> expected_peers(session& s, peers& out) {
    s.begin(session::step::command);
    peers all;
    const auto ec = co_await destination_addresses(s, all);
    if (s.deadline().expired()) co_return proto::errc::connect_timeout;
    if (ec) co_return ec;
    if (s.request().ver == proto::version::socks4)
        std::erase_if(all, [](const auto& a) { return !a.is_v4(); });
    if (all.empty()) co_return proto::errc::address_type_not_supported;
    std::copy_if(all.begin(), all.end(), std::back_inserter(out),
                 [&s](const auto& a) { return s.access().allowed(a); });
    if (!out.empty()) co_return std::error_code();
    if (s.access().denial()) log_denied(s.record(), *s.access().denial());
    co_return proto::errc::not_allowed;
}

// The local address the kernel would send to `peer` from: a UDP socket's
// connect() picks the route and sends nothing.
asio::ip::address local_address_towards(const io::executor& ex, const asio::ip::address& peer,
                                        std::error_code& ec) {
    asio::basic_datagram_socket<asio::ip::udp, io::executor> probe(ex);
    probe.open(peer.is_v4() ? asio::ip::udp::v4() : asio::ip::udp::v6(), ec);
    if (!ec) probe.connect(asio::ip::udp::endpoint(peer, 9), ec);
    const auto local = ec ? asio::ip::udp::endpoint() : probe.local_endpoint(ec);
    return local.address();
}

// A listening socket for one connection, on the address that faces the peer.
std::error_code listen_towards(acceptor& a, const asio::ip::address& peer) {
    std::error_code ec;
    const auto local = local_address_towards(a.get_executor(), peer, ec);
    if (!ec) a.open(local.is_v4() ? tcp::v4() : tcp::v6(), ec);
    if (!ec) a.set_option(tcp::no_delay(true), ec); // the accepted socket inherits it
    if (!ec) a.bind(tcp::endpoint(local, 0), ec);
    if (!ec) a.listen(1, ec);
    return io::portable(ec);
}

// Whether the client has left (EOF or an error); bytes it sent early stay
// queued for the relay.
bool client_gone(io::tcp_socket& client) {
    std::uint8_t byte = 0;
    const auto n = ::recv(client.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

/// One accepted connection, or why there is none.
struct arrival {
    std::error_code error;
    io::tcp_socket socket;
    tcp::endpoint from;
    bool client_left = false;
};

// The next connection to `a`, unless the client leaves first (watched until
// it sends a byte, which waits for the relay), within the step's deadline.
io::task<arrival> next_arrival(session& s, acceptor& a, bool& watch_client) {
    using namespace asio::experimental;
    arrival out{{}, io::tcp_socket(a.get_executor()), {}};
    if (!watch_client) {
        std::tie(out.error, out.socket) =
            co_await a.async_accept(out.from, s.deadline().bind(io::use_tuple));
        co_return out;
    }
    auto [order, accept_ec, socket, wait_ec] =
        co_await make_parallel_group(a.async_accept(out.from, deferred),
                                     s.client().async_wait(io::tcp_socket::wait_read, deferred))
            .async_wait(wait_for_one(), s.deadline().bind(io::use_task));
    if (order[0] == 0) {
        out.error = accept_ec;
        out.socket = std::move(socket);
    } else {
        out.client_left = client_gone(s.client());
        watch_client = false;
    }
    co_return out;
}

// Waits for the expected peer within the bind timeout; connections from
// anyone else are refused (closed) and logged.
io::task<arrival> await_peer(session& s, acceptor& a, const peers& expected) {
    s.begin(session::step::peer);
    bool watch_client = true;
    for (;;) {
        auto next = co_await next_arrival(s, a, watch_client);
        if (s.deadline().expired()) next.error = std::make_error_code(std::errc::timed_out);
        if (next.client_left || next.error) co_return next;
        if (!next.socket.is_open()) continue; // the client sent bytes: keep waiting
        const auto addr = next.from.address();
        if (std::find(expected.begin(), expected.end(), addr) != expected.end()) co_return next;
        log_unexpected_peer(s.record(), next.from);
    }
}

} // namespace

io::task<void> run_bind(session& s) {
    peers expected;
    acceptor a(s.client().get_executor());
    auto ec = co_await expected_peers(s, expected);
    if (!ec) ec = listen_towards(a, expected.front());
    if (ec) co_return co_await s.refuse(ec);
    const auto bound = to_proto(a.local_endpoint());
    if (!co_await s.reply(proto::reply_code::succeeded, bound)) co_return s.finish();
    auto peer = co_await await_peer(s, a, expected);
    a.close();
    if (peer.client_left) {
        s.fail(outcome::client_closed);
        co_return s.finish();
    }
    if (peer.error) co_return co_await s.refuse(io::portable(peer.error));
    const auto from = to_proto(peer.from);
    if (!co_await s.reply(proto::reply_code::succeeded, from) ||
        (s.has_early_bytes() && !co_await s.forward_early(peer.socket)))
        co_return s.finish();
    s.hand_over(std::move(peer.socket));
}

} // namespace weir::server
