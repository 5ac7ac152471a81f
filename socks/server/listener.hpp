#pragma once

#include "io/task.hpp"
#include "io/tcp_socket.hpp"
#include "socks/proto/server_handshake.hpp"
#include "socks/server/admission.hpp"
#include "socks/server/listen_url.hpp"

#include <cstddef>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>

namespace weir::server {

/// A listening socket bound to one I/O thread's io_context.
using listen_socket = asio::basic_socket_acceptor<asio::ip::tcp, io::executor>;

/// One bound listener, as sessions see it.
struct listener_info {
    listen_spec spec;
    std::size_t index = 0; ///< position among the listeners (the access table's index)
    std::string url;       ///< with the real port, e.g. socks5://127.0.0.1:41234
    proto::server_handshake::options handshake;
};

/// One accepted connection, as the session receives it.
struct accepted {
    io::tcp_socket socket;
    asio::ip::tcp::endpoint remote;
    admission::ticket ticket; ///< its client(): the limits and throttling key
};

/// A bound listener: every I/O thread has its own listening socket, all bound
/// to the same address with SO_REUSEPORT; the kernel spreads connections over
/// them, and a connection lives on the thread that accepted it.
struct listener {
    listener_info info;
    std::vector<listen_socket> acceptors; ///< one per I/O thread, on its context
};

/// The codec's options for a listener: which protocols, whether a password.
proto::server_handshake::options handshake_options(const listen_spec& spec);

/// One listening socket per context in `contexts`, the first on
/// contexts[first]; with port 0 the others take the port the kernel gave the
/// first. With more than one context a plain bind first makes sure no other
/// listener (another weir, say) holds the port: SO_REUSEPORT would let it
/// join the group. On failure `ec` is set and the group is incomplete.
std::vector<listen_socket>
open_group(const std::vector<std::unique_ptr<asio::io_context>>& contexts,
           const asio::ip::tcp::endpoint& at, std::size_t first, int backlog, std::error_code& ec);

/// The error of binding an address family or address this host does not have.
bool host_lacks_address(const std::error_code& ec);

} // namespace weir::server
