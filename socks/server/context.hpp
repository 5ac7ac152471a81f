#pragma once

#include "auth/verifier.hpp"
#include "socks/server/access.hpp"
#include "socks/server/config.hpp"
#include "socks/server/host_addresses.hpp"
#include "socks/server/login_throttle.hpp"
#include "socks/server/offload_pool.hpp"

#include <atomic>

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
    /// Set when a drain's time is up and the server closes what is left:
    /// sessions ending then are logged with end=drain.
    const std::atomic<bool>& closing;
};

} // namespace weir::server
