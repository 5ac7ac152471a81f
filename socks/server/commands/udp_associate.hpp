#pragma once

#include "io/task.hpp"
#include "socks/server/session.hpp"

namespace weir::server {

/// UDP ASSOCIATE (RFC 1928 section 7): a UDP relay socket on the local
/// address the control connection arrived on, named in the reply; then the
/// association (udp_association.hpp) lives as long as the control connection.
/// The client is held to the address and port it named when it named its
/// own address, else to the control connection's address and the port of its
/// first datagram.
io::task<void> run_udp_associate(session& s);

} // namespace weir::server
