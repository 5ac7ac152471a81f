#pragma once

#include "bench/net.hpp"
#include "bench/socks_client.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace weir::bench {

/// One client's UDP association: the control connection that keeps it alive
/// (none for direct) and a UDP socket connect()ed to the proxy's relay
/// address (or straight to the target for direct).
struct udp_client {
    unique_fd control;
    unique_fd udp;
};

/// Opens `count` associations through `proxy` (SOCKS5 greeting, credentials
/// when the URL has them, UDP ASSOCIATE 0.0.0.0:0, the reply's BND.ADDR:PORT,
/// or the proxy's address when BND.ADDR is 0.0.0.0), `window` handshakes at a
/// time, each step `timeout` seconds at most; for direct, UDP sockets
/// connected to `target`. Stops at the first failure: `error` then says why.
std::vector<udp_client> open_udp_clients(const proxy_spec& proxy, const sockaddr_in& target,
                                         std::size_t count, std::size_t window, double timeout,
                                         std::string& error);

/// The SOCKS5 UDP request header in front of every datagram to `target`
/// (RSV RSV FRAG ATYP DST.ADDR DST.PORT), empty for direct.
std::vector<std::uint8_t> udp_request_header(const proxy_spec& proxy, const sockaddr_in& target);

/// The size of the header of a datagram from the proxy (10 for IPv4, 22 for
/// IPv6, 7 + length for a name); 0 when it is malformed or shorter than that.
std::size_t udp_reply_header_size(const std::uint8_t* p, std::size_t size);

} // namespace weir::bench
