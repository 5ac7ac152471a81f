#include "socks/server/connector.hpp"

#include "io/portable_error.hpp"
#include "io/task.hpp"
#include "log/log.hpp"
#include "socks/server/address_conversion.hpp"
#include "socks/server/resolver.hpp"

#include <cerrno>
#include <sys/socket.h>
#include <variant>

namespace weir::server {
namespace {

using asio::ip::tcp;

// connect(2) by hand: Asio's async_connect polls the socket once more before
// asking for SO_ERROR, a system call per session that tells nothing new.
io::task<std::error_code> connect_one(io::tcp_socket& out, const tcp::endpoint& ep,
                                      io::deadline& dl) {
    std::error_code ec;
    out.close(ec);
    out.open(ep.protocol(), ec);
    if (!ec) out.native_non_blocking(true, ec);
    if (ec) co_return io::portable(ec);
    if (::connect(out.native_handle(), ep.data(), static_cast<socklen_t>(ep.size())) != 0) {
        if (errno != EINPROGRESS) co_return std::error_code(errno, std::system_category());
        std::tie(ec) = co_await out.async_wait(tcp::socket::wait_write, dl.bind(io::use_tuple));
        if (ec) co_return io::portable(ec);
        int error = 0;
        socklen_t size = sizeof error;
        if (::getsockopt(out.native_handle(), SOL_SOCKET, SO_ERROR, &error, &size) != 0)
            error = errno;
        if (error != 0) co_return std::error_code(error, std::system_category());
    }
    out.set_option(tcp::no_delay(true), ec);
    co_return io::portable(ec);
}

} // namespace

io::task<std::error_code> connect_target(io::tcp_socket& out, const proto::address& target,
                                         lookup_queue lookups, io::deadline& dl,
                                         const address_filter& allowed,
                                         tcp::endpoint* connected_to) {
    std::vector<tcp::endpoint> endpoints;
    if (const auto literal = to_endpoint(target)) {
        endpoints.push_back(*literal); // a literal address needs no lookup
    } else {
        auto result = co_await resolve(lookups.pool, std::string(lookups.client_key),
                                       std::get<std::string>(target.host), target.port, dl.slot());
        if (result.error) co_return io::portable(result.error);
        endpoints = std::move(result.endpoints);
    }
    std::erase_if(endpoints, [&](const tcp::endpoint& ep) { return !allowed(ep.address()); });
    if (endpoints.empty()) co_return proto::errc::not_allowed;
    std::error_code ec = proto::errc::host_not_found;
    for (const auto& ep : endpoints) {
        // A deadline that passed between two steps cancelled no operation: check it.
        if (dl.expired()) {
            ec = std::make_error_code(std::errc::operation_canceled);
            break;
        }
        ec = co_await connect_one(out, ep, dl);
        if (log::enabled(log::level::debug))
            log::debug("connect {}: tried {}: {}", log::printable(proto::to_string(target)),
                       proto::to_string(to_proto(ep)), ec ? ec.message() : "connected");
        if (!ec) {
            if (connected_to != nullptr) *connected_to = ep;
            break;
        }
        if (ec == std::errc::operation_canceled) break;
    }
    if (ec) {
        std::error_code ignored;
        out.close(ignored);
    }
    co_return ec;
}

} // namespace weir::server
