#include "socks/server/commands/connect.hpp"

#include "socks/server/address_conversion.hpp"
#include "socks/server/connector.hpp"

namespace weir::server {
namespace {

// Connects within the connect timeout, to an address the rules allow: the
// reply's error, or none.
io::task<std::error_code> reach(session& s, io::tcp_socket& target) {
    s.begin(session::step::command);
    auto& ctx = s.context();
    auto& access = s.access();
    auto ec = co_await connect_target(
        target, s.request().destination, {ctx.resolver, s.client_key()}, s.deadline(),
        [&access](const asio::ip::address& a) { return access.allowed(a); });
    if (s.deadline().expired()) co_return proto::errc::connect_timeout;
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
    if (!co_await s.reply(proto::reply_code::succeeded, bound_address(s, target)) ||
        !co_await s.forward_early(target))
        co_return s.finish();
    s.hand_over(std::move(target));
}

} // namespace weir::server
