#include "socks/server/resolver.hpp"

#include "socks/server/task.hpp"

#include <algorithm>
#include <cstring>
#include <netdb.h>
#include <sys/socket.h>

#include <asio/bind_cancellation_slot.hpp>

namespace weir::server {

resolve_result resolve_blocking(const std::string& host, std::uint16_t port) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    addrinfo* list = nullptr;
    const int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &list);
    resolve_result result;
    if (rc != 0 || list == nullptr) {
        result.error = proto::errc::host_not_found;
        return result;
    }
    for (const addrinfo* ai = list; ai != nullptr; ai = ai->ai_next) {
        asio::ip::tcp::endpoint ep;
        if (ai->ai_family == AF_INET || ai->ai_family == AF_INET6) {
            std::memcpy(ep.data(), ai->ai_addr, ai->ai_addrlen);
            ep.port(port);
            if (std::find(result.endpoints.begin(), result.endpoints.end(), ep) ==
                result.endpoints.end())
                result.endpoints.push_back(ep);
        }
    }
    ::freeaddrinfo(list);
    if (result.endpoints.empty()) result.error = proto::errc::host_not_found;
    return result;
}

task<resolve_result> resolve(offload_pool& pool, std::string host, std::uint16_t port,
                             asio::cancellation_slot cancel) {
    // A named job, not a temporary in the co_await expression: GCC 12 mis-copies
    // lambda temporaries with init-captures there.
    auto job = [h = std::move(host), port] { return resolve_blocking(h, port); };
    auto [ec, result] = co_await pool.async_run<resolve_result>(
        std::move(job), asio::bind_cancellation_slot(cancel, use_tuple));
    if (ec) result.error = ec;
    co_return result;
}

} // namespace weir::server
