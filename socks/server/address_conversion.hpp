#pragma once

#include "auth/ip.hpp"
#include "socks/proto/address.hpp"

#include <optional>

#include <asio/ip/address.hpp>
#include <asio/ip/tcp.hpp>

namespace weir::server {

// Addresses between Asio, the codec and the access policy: the one place
// that knows all three types.

/// An endpoint as the codec writes it in a reply (IPv4 or IPv6 literal).
proto::address to_proto(const asio::ip::tcp::endpoint& ep);

/// An address and port as the codec writes them (a UDP socket's, say).
proto::address to_proto(const asio::ip::address& a, std::uint16_t port);

/// A literal address of the codec as an endpoint; nullopt for a domain name.
std::optional<asio::ip::tcp::endpoint> to_endpoint(const proto::address& a);

/// An Asio address as the policy matches it.
auth::ip_address to_policy(const asio::ip::address& a);

/// A literal address of the codec as the policy matches it; nullopt for a domain name.
std::optional<auth::ip_address> to_policy(const proto::address& a);

} // namespace weir::server
