// The script of a session: RFC 1928's steps in order, over the session object
// (session.cpp). It sits above the commands, which sit above the session:
// a new command is a file in commands/ and a case here.
#include "socks/server/commands/bind.hpp"
#include "socks/server/commands/connect.hpp"
#include "socks/server/commands/udp_associate.hpp"
#include "socks/server/session.hpp"

namespace weir::server {

io::task<void> run_session(accepted conn, const listener_info& listener, server_context& ctx) {
    session s(std::move(conn), listener, ctx);
    if (listener.spec.proxy_protocol && !co_await s.read_proxy_header()) co_return;
    const bool requested = co_await s.negotiate(); // the method, RFC 1929, the request
    s.handshake_done();
    if (!requested) co_return s.finish();
    if (const auto refused = s.authorize()) co_return co_await s.refuse(refused);
    switch (s.request().cmd) { // each command replies and hands over itself
    case proto::command::connect:
        co_return co_await run_connect(s);
    case proto::command::bind:
        co_return co_await run_bind(s);
    case proto::command::udp_associate:
        // The control connection's peer is the load balancer: datagrams
        // could not be held to the client.
        if (listener.spec.proxy_protocol)
            co_return co_await s.refuse(proto::errc::command_not_supported);
        co_return co_await run_udp_associate(s);
    }
}

} // namespace weir::server
