#include "socks/server/commands/connect.hpp"

#include "socks/server/address_conversion.hpp"
#include "socks/server/connector.hpp"
#include "socks/server/metrics.hpp"

#include <chrono>

namespace weir::server {
namespace {

// Connects within the connect timeout, to an address the rules allow: the
// reply's error, or none.
io::task<std::error_code> reach(session& s, io::tcp_socket& target) {
    s.begin(session::step::command);
    auto& ctx = s.context();
    auto& access = s.access();
    // Named, not temporaries of the co_await expression (see docs/architecture.md, GCC 12).
    const lookup_queue lookups{ctx.resolver, s.client_key()};
    const address_filter allowed = [&access](const asio::ip::address& a) {
        return access.allowed(a);
    };
    const auto start = std::chrono::steady_clock::now();
    auto& resolved = s.record().resolved.emplace();
    auto ec = co_await connect_target(target, s.request().destination, lookups, s.deadline(),
                                      allowed, &resolved);
    if (ec) s.record().resolved.reset();
    if (s.deadline().expired()) co_return proto::errc::connect_timeout;
    if (!ec) metrics::connected(std::chrono::steady_clock::now() - start);
    if (ec == proto::errc::not_allowed && access.denial()) log_denied(s.record(), *access.denial());
    co_return ec;
}

// The reply's BND.ADDR: the local end of the connection to the target.
// SOCKS4 clients ignore it: the kernel is asked only for SOCKS5.
proto::address bound_address(const session& s, const io::tcp_socket& target) {
    proto::address bound{proto::ipv4_bytes{}, 0};
    if (s.request().ver != proto::version::socks5) return bound;
    std::error_code ec;
    const auto local = target.local_endpoint(ec);
    if (!ec) bound = to_proto(local);
    return bound;
}

} // namespace

io::task<void> run_connect(session& s) {
    io::tcp_socket target(s.client().get_executor());
    if (const auto ec = co_await reach(s, target)) co_return co_await s.refuse(ec);
    const auto bound = bound_address(s, target);
    if (!co_await s.reply(proto::reply_code::succeeded, bound) ||
        (s.has_early_bytes() && !co_await s.forward_early(target)))
        co_return s.finish();
    s.hand_over(std::move(target));
}

} // namespace weir::server
