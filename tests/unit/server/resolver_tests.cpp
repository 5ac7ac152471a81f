#include "socks/proto/error.hpp"
#include "socks/server/resolver.hpp"

#include <asio/ip/address.hpp>
#include <asio/ip/tcp.hpp>
#include <catch2/catch.hpp>

using namespace weir;
using namespace weir::server;
using asio::ip::tcp;

TEST_CASE("resolver: numeric and localhost names resolve, with the port", "[resolver]") {
    auto r = resolve_blocking("127.0.0.1", 8080);
    REQUIRE_FALSE(r.error);
    REQUIRE(r.endpoints.size() == 1);
    CHECK(r.endpoints[0] == tcp::endpoint(asio::ip::make_address("127.0.0.1"), 8080));
    auto local = resolve_blocking("localhost", 443);
    REQUIRE_FALSE(local.error);
    REQUIRE_FALSE(local.endpoints.empty());
    for (const auto& ep : local.endpoints) {
        CHECK(ep.address().is_loopback());
        CHECK(ep.port() == 443);
    }
    CHECK(resolve_blocking("bad name with spaces", 80).error == proto::errc::host_not_found);
}
