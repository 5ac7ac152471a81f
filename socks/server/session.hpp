#pragma once

#include "auth/verifier.hpp"
#include "io/task.hpp"
#include "io/tcp_socket.hpp"
#include "socks/proto/server_handshake.hpp"
#include "socks/server/access.hpp"
#include "socks/server/admission.hpp"
#include "socks/server/config.hpp"
#include "socks/server/login_throttle.hpp"
#include "socks/server/offload_pool.hpp"

#include <string>

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>

namespace weir::server {

/// What every session shares; read-only once the server runs (the pools
/// and the verifier are thread-safe).
struct server_context {
    const config& cfg;
    offload_pool& resolver;
    offload_pool& auth_pool;
    auth::verifier* verifier; ///< null when no listener asks for a password
    login_throttle* throttle; ///< null when throttling is off
    access_table& access;     ///< the rules, per listener
    host_addresses& hosts;    ///< this host's addresses, for the guard
};

/// One accepted connection, as the session receives it.
struct accepted {
    io::tcp_socket socket;
    asio::ip::tcp::endpoint remote;
    admission::ticket ticket; ///< its client(): the limits and throttling key
};

/// One bound listener, as sessions see it.
struct listener_info {
    listen_spec spec;
    std::size_t index = 0; ///< position among the listeners (the access table's index)
    std::string url;       ///< with the real port, e.g. socks5://127.0.0.1:41234
    proto::server_handshake::options handshake;
};

/// The whole life of one client connection: negotiate, authorize, connect,
/// reply, relay; then one log line. Owns the client socket. The coroutine
/// ends when the relay starts: the relay (handler-driven) takes both sockets
/// and what the log line needs, so an idle session keeps no coroutine frame.
io::task<void> run_session(accepted conn, const listener_info& listener, server_context& ctx);

} // namespace weir::server
