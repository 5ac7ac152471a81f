#pragma once

#include "io/task.hpp"
#include "socks/server/session.hpp"

namespace weir::server {

/// BIND (RFC 1928 section 4; SOCKS4 CD 2): opens a listening socket on the
/// local address that faces the expected peer (DST.ADDR, or the addresses its
/// name resolves to that the rules allow), replies with that address and
/// port, accepts one connection from the expected peer within the bind
/// timeout (any other peer is refused and logged), replies with the peer's
/// address and port, and hands both connections to the relay.
io::task<void> run_bind(session& s);

} // namespace weir::server
