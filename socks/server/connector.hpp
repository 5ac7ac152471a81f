#pragma once

#include "socks/proto/address.hpp"
#include "socks/server/offload_pool.hpp"

#include <chrono>
#include <functional>
#include <system_error>

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>

namespace weir::server {

/// Says whether an address may be connected to (the access policy).
using address_filter = std::function<bool(const asio::ip::address&)>;

/// Resolves (domains, on the resolver pool) and connects `out` to `target`,
/// trying every resolved address that `allowed` accepts, IPv6 and IPv4, in
/// order, until one answers (errc::not_allowed when it accepts none). The whole step is bounded by
/// `timeout`. On failure `out` is closed and the error of the last attempt is returned
/// (errc::connect_timeout when time ran out, errc::host_not_found when the name did not resolve).
asio::awaitable<std::error_code>
connect_target(asio::ip::tcp::socket& out, const proto::address& target, offload_pool& resolver,
               std::chrono::steady_clock::duration timeout, const address_filter& allowed);

} // namespace weir::server
