#pragma once

#include "io/task.hpp"
#include "socks/server/session.hpp"

namespace weir::server {

/// CONNECT (RFC 1928 section 4; SOCKS4 CD 1): resolves the target, connects to
/// the first of its addresses the rules allow, replies with the address the
/// connection is bound to, forwards the bytes the client sent early, and hands
/// both connections to the relay.
io::task<void> run_connect(session& s);

} // namespace weir::server
