#include "socks/server/address_conversion.hpp"

#include <variant>

namespace weir::server {

proto::address to_proto(const asio::ip::tcp::endpoint& ep) {
    return to_proto(ep.address(), ep.port());
}

proto::address to_proto(const asio::ip::address& address, std::uint16_t port) {
    proto::address a;
    a.port = port;
    if (address.is_v6())
        a.host = address.to_v6().to_bytes();
    else
        a.host = address.to_v4().to_bytes();
    return a;
}

std::optional<asio::ip::tcp::endpoint> to_endpoint(const proto::address& a) {
    if (const auto* v4 = std::get_if<proto::ipv4_bytes>(&a.host))
        return asio::ip::tcp::endpoint(asio::ip::address_v4(*v4), a.port);
    if (const auto* v6 = std::get_if<proto::ipv6_bytes>(&a.host))
        return asio::ip::tcp::endpoint(asio::ip::address_v6(*v6), a.port);
    return std::nullopt;
}

auth::ip_address to_policy(const asio::ip::address& a) {
    if (a.is_v4()) return auth::ip_address(a.to_v4().to_bytes());
    return auth::ip_address(a.to_v6().to_bytes());
}

std::optional<auth::ip_address> to_policy(const proto::address& a) {
    if (const auto* v4 = std::get_if<proto::ipv4_bytes>(&a.host)) return auth::ip_address(*v4);
    if (const auto* v6 = std::get_if<proto::ipv6_bytes>(&a.host)) return auth::ip_address(*v6);
    return std::nullopt;
}

} // namespace weir::server
