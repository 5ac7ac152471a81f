#include "io/deadline.hpp"
#include "io/task.hpp"
#include "socks/proto/address.hpp"
#include "socks/proto/error.hpp"
#include "socks/relay/relay_options.hpp"
#include "socks/server/connector.hpp"
#include "socks/server/offload_pool.hpp"
#include "test_support.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <asio/io_context.hpp>
#include <asio/ip/address.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <catch2/catch.hpp>

using namespace weir;
using namespace weir::server;
using namespace weir::server::test;
using asio::ip::tcp;

TEST_CASE("connector: refused, connected, or every address filtered out", "[connector]") {
    asio::io_context io;
    offload_pool pool("test", 1, 8);
    tcp::acceptor open(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    std::uint16_t closed_port = 0;
    {
        tcp::acceptor closed(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
        closed_port = closed.local_endpoint().port();
    }
    const address_filter any = [](const asio::ip::address&) { return true; };
    std::vector<asio::ip::address> asked;
    const address_filter none = [&](const asio::ip::address& a) {
        asked.push_back(a);
        return false;
    };
    using results = std::array<std::error_code, 3>;
    auto [refused, ok, filtered] = run(io, [&]() -> io::task<results> {
        weir::io::tcp_socket s(io);
        io::deadline dl(io.get_executor());
        dl.expires_after(std::chrono::seconds(30));
        const auto port = open.local_endpoint().port();
        proto::address a{proto::ipv4_bytes{127, 0, 0, 1}, closed_port};
        auto e1 = co_await connect_target(s, a, {pool, "client"}, dl, any);
        proto::address b{std::string("localhost"), port};
        auto e2 = co_await connect_target(s, b, {pool, "client"}, dl, any);
        auto e3 = co_await connect_target(s, b, {pool, "client"}, dl, none);
        co_return results{e1, e2, e3};
    }());
    CHECK(refused == std::errc::connection_refused);
    CHECK(proto::to_reply_code(refused) == proto::reply_code::connection_refused);
    CHECK_FALSE(ok);
    CHECK(filtered == proto::errc::not_allowed);
    CHECK(proto::to_reply_code(filtered) == proto::reply_code::not_allowed);
    REQUIRE_FALSE(asked.empty()); // every resolved address was put to the filter
    for (const auto& a : asked)
        CHECK(a.is_loopback());
}

TEST_CASE("connector: a deadline already passed stops before connecting", "[connector]") {
    asio::io_context io;
    offload_pool pool("test", 1, 8);
    tcp::acceptor open(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    const address_filter any = [](const asio::ip::address&) { return true; };
    const auto port = open.local_endpoint().port();
    auto [ec, is_open] = run(io, [&]() -> io::task<std::pair<std::error_code, bool>> {
        weir::io::tcp_socket s(io);
        io::deadline dl(io.get_executor());
        dl.expires_after(std::chrono::milliseconds(1));
        asio::steady_timer later(io, std::chrono::milliseconds(50));
        co_await later.async_wait(io::use_task); // the deadline passes meanwhile
        CHECK(dl.expired());
        proto::address a{proto::ipv4_bytes{127, 0, 0, 1}, port};
        auto e = co_await connect_target(s, a, {pool, "client"}, dl, any);
        co_return std::pair{e, s.is_open()};
    }());
    CHECK(ec == std::errc::operation_canceled);
    CHECK_FALSE(is_open);
}
