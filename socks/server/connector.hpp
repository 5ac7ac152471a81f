#pragma once

#include "io/deadline.hpp"
#include "io/task.hpp"
#include "io/tcp_socket.hpp"
#include "socks/proto/address.hpp"
#include "socks/relay/relay_options.hpp"
#include "socks/server/offload_pool.hpp"

#include <functional>
#include <string>
#include <string_view>
#include <system_error>

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>

namespace weir::server {

/// Says whether an address may be connected to (the access policy).
using address_filter = std::function<bool(const asio::ip::address&)>;

/// Where one client's lookups queue: the resolver pool, under the client's key.
struct lookup_queue {
    offload_pool& pool;
    std::string_view client_key;
};

/// Resolves (domains, on `lookups`) and connects `out` to
/// `target`, trying every resolved address that `allowed` accepts, IPv6 and IPv4, in order, until
/// one answers (errc::not_allowed when it accepts none). The caller's deadline `dl` bounds it: when
/// it passes, the step stops at once with operation_canceled. On failure `out` is closed and the
/// error of the last attempt is returned (errc::host_not_found when the name did not resolve).
/// On success `*connected_to`, when given, is the address that answered.
io::task<std::error_code> connect_target(io::tcp_socket& out, const proto::address& target,
                                         lookup_queue lookups, io::deadline& dl,
                                         const address_filter& allowed,
                                         asio::ip::tcp::endpoint* connected_to = nullptr);

} // namespace weir::server
