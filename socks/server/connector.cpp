#include "socks/server/connector.hpp"

#include "socks/server/resolver.hpp"

#include <variant>

#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

namespace weir::server {
namespace {

using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;
constexpr auto use_tuple = asio::experimental::as_tuple(asio::use_awaitable);

// A literal address needs no lookup.
std::vector<tcp::endpoint> literal_endpoints(const proto::address& target) {
    if (const auto* v4 = std::get_if<proto::ipv4_bytes>(&target.host))
        return {tcp::endpoint(asio::ip::address_v4(*v4), target.port)};
    if (const auto* v6 = std::get_if<proto::ipv6_bytes>(&target.host))
        return {tcp::endpoint(asio::ip::address_v6(*v6), target.port)};
    return {};
}

// Asio 1.22 reports errno values in its own "asio.system" category, which does
// not compare equal to std::errc; the codec's reply mapping expects std's.
std::error_code portable(std::error_code ec) {
    if (ec.category() == asio::error::get_system_category())
        return {ec.value(), std::system_category()};
    return ec;
}

asio::awaitable<std::error_code> connect_one(tcp::socket& out, const tcp::endpoint& ep,
                                             asio::steady_timer& deadline) {
    std::error_code ec;
    out.close(ec);
    out.open(ep.protocol(), ec);
    if (ec) co_return portable(ec);
    auto done = co_await (out.async_connect(ep, use_tuple) || deadline.async_wait(use_tuple));
    if (done.index() == 1) co_return proto::errc::connect_timeout;
    std::tie(ec) = std::get<0>(done);
    if (!ec) out.set_option(tcp::no_delay(true), ec);
    co_return portable(ec);
}

} // namespace

asio::awaitable<std::error_code> connect_target(tcp::socket& out, const proto::address& target,
                                                offload_pool& resolver,
                                                std::chrono::steady_clock::duration timeout,
                                                const address_filter& allowed) {
    asio::steady_timer deadline(co_await asio::this_coro::executor, timeout);
    auto endpoints = literal_endpoints(target);
    if (target.is_domain()) {
        auto lookup =
            co_await (resolve(resolver, std::get<std::string>(target.host), target.port) ||
                      deadline.async_wait(use_tuple));
        if (lookup.index() == 1) co_return proto::errc::connect_timeout;
        auto& result = std::get<0>(lookup);
        if (result.error) co_return result.error;
        endpoints = std::move(result.endpoints);
    }
    std::erase_if(endpoints, [&](const tcp::endpoint& ep) { return !allowed(ep.address()); });
    if (endpoints.empty()) co_return proto::errc::not_allowed;
    std::error_code ec = proto::errc::host_not_found;
    for (const auto& ep : endpoints) {
        ec = co_await connect_one(out, ep, deadline);
        if (!ec || ec == proto::errc::connect_timeout) break;
    }
    if (ec) {
        std::error_code ignored;
        out.close(ignored);
    }
    co_return ec;
}

} // namespace weir::server
