#pragma once

#include "socks/relay/relay.hpp"
#include "socks/server/listen_url.hpp"

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
    std::size_t resolver_threads = 8;  ///< concurrent getaddrinfo calls
    std::size_t resolver_queue = 4096; ///< lookups waiting beyond that fail with 0x01
    std::size_t auth_threads = 2;      ///< concurrent Argon2id verifications (64 MiB each)
    std::size_t auth_queue = 1024;
    int listen_backlog = 1024;
};

} // namespace weir::server
