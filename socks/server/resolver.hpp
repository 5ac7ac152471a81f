#pragma once

#include "io/task.hpp"
#include "socks/server/offload_pool.hpp"

#include <cstdint>
#include <string>
#include <system_error>
#include <vector>

#include <asio/awaitable.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/ip/tcp.hpp>

namespace weir::server {

struct resolve_result {
    std::error_code error; ///< errc::host_not_found, resolver_busy, operation_aborted
    std::vector<asio::ip::tcp::endpoint> endpoints;
};

/// Resolves a host name with getaddrinfo on the bounded resolver pool, so a
/// slow lookup holds up neither an I/O thread nor other lookups (unlike
/// Asio's async_resolve, which serializes them on one hidden thread).
/// The lookup waits under client `key` (class normal), so one client's
/// lookups take turns with everyone else's. A cancellation emitted on
/// `cancel` stops the wait at once. Returns IPv6 and IPv4 addresses in
/// getaddrinfo's order, duplicates removed.
io::task<resolve_result> resolve(offload_pool& pool, std::string key, std::string host,
                                 std::uint16_t port, asio::cancellation_slot cancel = {});

/// The blocking lookup itself (runs on a pool thread; exposed for tests).
resolve_result resolve_blocking(const std::string& host, std::uint16_t port);

} // namespace weir::server
