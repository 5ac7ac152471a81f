#include "socks/server/admission.hpp"
#include "socks/server/login_throttle.hpp"
#include "socks/server/session.hpp"

#include <chrono>
#include <vector>

#include <asio/ip/address.hpp>
#include <catch2/catch.hpp>

using namespace weir::server;
using namespace std::chrono_literals;

TEST_CASE("admission: total, per-client and handshake limits", "[limits]") {
    admission a({3, 2, 0});
    admission::ticket t1, t2, t3, t4;
    CHECK(a.admit("10.0.0.1", t1) == refusal::none);
    CHECK(a.admit("10.0.0.1", t2) == refusal::none);
    CHECK(a.admit("10.0.0.1", t3) == refusal::client_sessions);
    CHECK(a.admit("10.0.0.2", t3) == refusal::none);
    CHECK(a.sessions() == 3);
    CHECK(a.admit("10.0.0.3", t4) == refusal::sessions);
    t1 = admission::ticket{}; // a session ends: its places are free again
    CHECK(a.sessions() == 2);
    CHECK(a.admit("10.0.0.1", t4) == refusal::none);
    CHECK(a.sessions() == 3);
}

TEST_CASE("admission: handshake places are freed when the handshake ends", "[limits]") {
    admission a({0, 0, 2});
    admission::ticket t1, t2, t3;
    REQUIRE(a.admit("c", t1) == refusal::none);
    REQUIRE(a.admit("c", t2) == refusal::none);
    CHECK(a.handshakes() == 2);
    CHECK(a.admit("c", t3) == refusal::handshakes);
    t1.handshake_done();
    t1.handshake_done(); // idempotent
    CHECK(a.handshakes() == 1);
    CHECK(a.admit("c", t3) == refusal::none);
    { auto moved = std::move(t3); } // destroyed while still in its handshake
    CHECK(a.handshakes() == 1);
    CHECK(a.sessions() == 2);
}

TEST_CASE("admission: without a per-client limit one client may hold any number", "[limits]") {
    admission a({0, 0, 0});
    std::vector<admission::ticket> tickets(1000);
    for (auto& t : tickets)
        REQUIRE(a.admit("10.0.0.1", t) == refusal::none);
    CHECK(a.sessions() == 1000);
    CHECK(a.handshakes() == 1000);
    CHECK(tickets.front().client() == "10.0.0.1");
    tickets.clear();
    CHECK(a.sessions() == 0);
    CHECK(a.handshakes() == 0);
}

TEST_CASE("login_throttle: free failures, growing delay, block, success clears", "[throttle]") {
    login_throttle::options o;
    o.free_failures = 2;
    o.base_delay = 100ms;
    o.max_delay = 400ms;
    o.block_after = 6;
    o.block_for = 60s;
    login_throttle t(o);
    const auto t0 = login_throttle::clock::now();
    CHECK_FALSE(t.blocked("a", t0)); // nothing on record
    t.succeeded("a");
    CHECK(t.size() == 0);
    CHECK(t.failed("a", t0) == 0ms);
    CHECK(t.failed("a", t0) == 0ms);
    CHECK(t.failed("a", t0) == 100ms);
    CHECK(t.failed("a", t0) == 200ms);
    CHECK(t.failed("a", t0) == 400ms);
    CHECK_FALSE(t.blocked("a", t0));
    CHECK(t.failed("a", t0) == 400ms); // capped; the 6th failure blocks
    CHECK(t.blocked("a", t0));
    CHECK(t.blocked("a", t0 + 59s));
    CHECK_FALSE(t.blocked("a", t0 + 61s));
    CHECK_FALSE(t.blocked("b", t0));
    t.failed("b", t0);
    t.succeeded("b");
    CHECK(t.size() == 1); // only "a" is remembered
}

TEST_CASE("login_throttle: quiet clients are forgotten, memory is bounded", "[throttle]") {
    login_throttle::options o;
    o.free_failures = 0;
    o.base_delay = 10ms;
    o.forget_after = 60s;
    o.capacity = 100;
    login_throttle t(o);
    const auto t0 = login_throttle::clock::now();
    CHECK(t.failed("a", t0) == 10ms);
    CHECK(t.failed("a", t0 + 61s) == 10ms); // the first failure was forgotten
    for (int i = 0; i < 1000; ++i)
        t.failed(std::to_string(i), t0 + 62s);
    CHECK(t.size() <= 100);
}

TEST_CASE("login_throttle: connection checks drop quiet records, never a block", "[throttle]") {
    login_throttle::options o;
    o.block_after = 2;
    o.block_for = 600s;
    o.forget_after = 60s;
    login_throttle t(o);
    const auto t0 = login_throttle::clock::now();
    t.failed("quiet", t0);
    t.failed("blocked", t0);
    t.failed("blocked", t0);
    CHECK(t.size() == 2);
    CHECK_FALSE(t.blocked("other", t0 + 30s)); // a sweep: nobody quiet for 60 s yet
    CHECK(t.size() == 2);
    CHECK_FALSE(t.blocked("other", t0 + 80s)); // within a minute of the last sweep: none
    CHECK(t.size() == 2);
    CHECK(t.blocked("blocked", t0 + 91s)); // a sweep: "quiet" goes, "blocked" stays
    CHECK(t.size() == 1);
    CHECK_FALSE(t.blocked("blocked", t0 + 601s)); // its block is over
    CHECK(t.size() == 0);                         // and it is forgotten in the same sweep
    CHECK_FALSE(t.blocked("quiet", t0 + 700s));
}

TEST_CASE("client keys: IPv4 address, IPv6 /64, mapped IPv4 as IPv4", "[limits]") {
    CHECK(client_key(asio::ip::make_address("192.0.2.7")) == "192.0.2.7");
    CHECK(client_key(asio::ip::make_address("2001:db8:1:2:3:4:5:6")) == "2001:db8:1:2::/64");
    CHECK(client_key(asio::ip::make_address("::ffff:192.0.2.7")) == "192.0.2.7");
}
