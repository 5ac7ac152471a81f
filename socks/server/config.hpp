#pragma once

#include "socks/relay/relay_options.hpp"
#include "socks/server/listen_url.hpp"
#include "socks/server/login_throttle.hpp"

#include <chrono>
#include <cstddef>
#include <vector>

namespace weir::server {

/// Everything the server needs, after the command line, config file and
/// environment have been merged (cli/ builds it).
struct config {
    std::vector<listen_spec> listeners = default_listeners();
    std::size_t threads = 0; ///< I/O threads; 0 = one per core
    relay::relay_options relay;
    std::chrono::steady_clock::duration handshake_timeout = std::chrono::seconds(10);
    std::chrono::steady_clock::duration connect_timeout = std::chrono::seconds(10);
    /// BIND: how long the listening socket waits for the peer, after the first reply.
    std::chrono::steady_clock::duration bind_timeout = std::chrono::seconds(60);
    /// SIGTERM/SIGINT: how long sessions in flight may go on once accepting stopped.
    std::chrono::steady_clock::duration drain_timeout = std::chrono::seconds(30);
    std::size_t resolver_threads = 8;  ///< concurrent getaddrinfo calls
    std::size_t resolver_queue = 4096; ///< lookups waiting beyond that fail with 0x01
    std::size_t auth_threads = 2;      ///< concurrent Argon2id verifications (64 MiB each)
    std::size_t auth_queue = 1024;
    int listen_backlog = 1024;
    std::size_t max_sessions = 0;              ///< 0: derived from the open-file limit
    std::size_t max_sessions_per_client = 512; ///< per IPv4 address or IPv6 /64; 0: unlimited
    /// Whether max_sessions_per_client holds clients on loopback addresses too
    /// (every local process is one such client); cli/ sets it when the
    /// operator set the limit.
    bool cap_loopback_clients = false;
    std::size_t max_handshakes = 2048;          ///< sessions still negotiating; 0: unlimited
    std::size_t max_handshakes_per_client = 64; ///< of those, per client; 0: unlimited
    bool throttle_logins = true;
    login_throttle::options throttle; ///< slow down, then block, password guessers
};

} // namespace weir::server
