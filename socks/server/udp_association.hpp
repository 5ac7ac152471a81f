#pragma once

#include "io/tcp_socket.hpp"
#include "io/unique_fd.hpp"
#include "socks/server/access.hpp"
#include "socks/server/context.hpp"

#include <cstdint>
#include <functional>
#include <string>
#include <sys/socket.h>

#include <asio/ip/address.hpp>

namespace weir::server {

/// What a UDP association did, for its log line.
struct udp_stats {
    std::uint64_t datagrams_up = 0; ///< client to targets, sent
    std::uint64_t bytes_up = 0;     ///< their payload
    std::uint64_t datagrams_down = 0;
    std::uint64_t bytes_down = 0;
    // Dropped, by reason:
    std::uint64_t foreign = 0;    ///< from a source other than the client
    std::uint64_t fragmented = 0; ///< FRAG other than 0 (no reassembly)
    std::uint64_t malformed =
        0;                    ///< a header that does not parse, or a name outside host-name syntax
    std::uint64_t denied = 0; ///< to a destination the rules refuse
    std::uint64_t unresolved = 0; ///< to a name that did not resolve, or while a lookup was pending
    std::uint64_t unsolicited = 0; ///< from a target the client had not sent to
    std::uint64_t unsent = 0;      ///< the kernel would not take it at once, or it is too big
    bool idle_timeout = false;     ///< ended by the idle timeout, not by the control connection
    bool drained = false;          ///< ended by end_udp_associations()
};

/// An association's UDP sockets, non-blocking (commands/udp_associate.cpp).
struct udp_sockets {
    io::unique_fd relay;    ///< faces the client: bound to the control connection's local address
    io::unique_fd upstream; ///< faces the targets: dual-stack IPv6 if the host has it, else IPv4
    int upstream_family = AF_INET6; ///< AF_INET6 (dual-stack) or AF_INET
};

/// The sockets and facts an association starts from.
struct udp_association_parts {
    io::tcp_socket control; ///< the TCP connection whose life is the association's
    udp_sockets udp;
    asio::ip::address client_address; ///< the only source accepted
    std::uint16_t client_port = 0;    ///< 0: the port of the client's first datagram
    access_check access;              ///< checks each datagram's destination
    std::string client_key;           ///< lookups queue under it
};

/// Relays datagrams until the control connection closes (EOF or error) or
/// both directions are silent for `relay.idle_timeout`; then closes the
/// sockets and calls `done` once, on the control connection's thread.
/// Handler-driven, like the TCP relay: no coroutine per association or
/// datagram, batches of recvmmsg/sendmmsg, no copy of a payload and no
/// allocation per datagram. The UDP sockets (non-blocking) are watched by the
/// thread's io::poll_set, not one by one by Asio: no epoll_ctl per wake-up.
/// Ends every association running on the calling I/O thread (each logs,
/// its stats `drained`): the server closing what a drain left.
void end_udp_associations();

void start_udp_association(udp_association_parts parts, server_context& ctx,
                           std::function<void(const udp_stats&)> done);

} // namespace weir::server
