#include "socks/server/login_throttle.hpp"

#include <chrono>
#include <string>

#include <catch2/catch.hpp>

using namespace weir::server;
using namespace std::chrono_literals;

namespace {

// Two free failures, then 100, 200, 400, 400 ms; the 6th failure blocks for a minute.
login_throttle::options small() {
    login_throttle::options o;
    o.free_failures = 2;
    o.base_delay = 100ms;
    o.max_delay = 400ms;
    o.block_after = 6;
    o.block_for = 60s;
    return o;
}

std::string nth(std::string_view prefix, int i) {
    std::string s(prefix);
    s += std::to_string(i);
    return s;
}

} // namespace

TEST_CASE("login_throttle: free failures, growing delay, block", "[throttle]") {
    login_throttle t(small());
    const auto t0 = login_throttle::clock::now();
    CHECK_FALSE(t.blocked("a", t0)); // nothing on record
    t.succeeded("a", "alice");
    CHECK(t.size() == 0);
    CHECK(t.failed("a", "alice", t0).delay == 0ms);
    CHECK(t.failed("a", "alice", t0).delay == 0ms);
    CHECK(t.failed("a", "alice", t0).delay == 100ms);
    CHECK(t.failed("a", "alice", t0).delay == 200ms);
    const auto fifth = t.failed("a", "alice", t0);
    CHECK(fifth.delay == 400ms);
    CHECK_FALSE(fifth.blocked);
    CHECK_FALSE(t.blocked("a", t0));
    const auto sixth = t.failed("a", "alice", t0); // capped; the 6th failure blocks
    CHECK(sixth.delay == 400ms);
    CHECK(sixth.blocked);
    CHECK(t.blocked("a", t0));
    CHECK(t.blocked("a", t0 + 59s));
    CHECK_FALSE(t.blocked("a", t0 + 61s));
    CHECK_FALSE(t.blocked("b", t0));
    t.failed("b", "bob", t0);
    t.succeeded("b", "bob");
    CHECK(t.size() == 1); // only "a" is remembered
}

TEST_CASE("login_throttle: a success under one name forgives no other name's failures",
          "[throttle]") {
    login_throttle t(small());
    const auto t0 = login_throttle::clock::now();
    CHECK(t.failed("c", "bob", t0).delay == 0ms);
    CHECK(t.failed("c", "bob", t0).delay == 0ms);
    t.succeeded("c", "alice"); // a client with one good password keeps guessing bob's
    CHECK(t.has_failures("c"));
    CHECK(t.failed("c", "bob", t0).delay == 100ms);
    t.succeeded("c", "alice");
    CHECK(t.failed("c", "bob", t0).delay == 200ms);
    t.succeeded("c", "alice");
    CHECK(t.failed("c", "bob", t0).delay == 400ms);
    t.succeeded("c", "alice");
    const auto sixth = t.failed("c", "bob", t0);
    CHECK(sixth.delay == 400ms);
    CHECK(sixth.blocked); // at block_after failures in all, successes or not
    CHECK(t.blocked("c", t0));
}

TEST_CASE("login_throttle: a success forgives its own name's failures only", "[throttle]") {
    login_throttle t(small());
    const auto t0 = login_throttle::clock::now();
    CHECK(t.failed("c", "alice", t0).delay == 0ms);
    CHECK(t.failed("c", "alice", t0).delay == 0ms);
    CHECK(t.failed("c", "bob", t0).delay == 100ms);
    CHECK(t.failed("c", "bob", t0).delay == 200ms);
    t.succeeded("c", "bob"); // bob mistyped twice, then got it right
    CHECK(t.has_failures("c"));
    CHECK(t.failed("c", "carol", t0).delay == 100ms); // alice's two still count
    t.succeeded("c", "alice");
    t.succeeded("c", "alice"); // nothing left under alice
    CHECK(t.has_failures("c"));
    CHECK(t.failed("c", "dave", t0).delay == 0ms); // carol's only: two failures in all
    t.succeeded("c", "carol");
    t.succeeded("c", "dave");
    CHECK_FALSE(t.has_failures("c"));
    CHECK(t.size() == 0); // nothing left to remember
    CHECK(t.failed("c", "bob", t0).delay == 0ms);
}

TEST_CASE("login_throttle: a success never lifts a block", "[throttle]") {
    auto o = small();
    o.block_after = 3;
    login_throttle t(o);
    const auto t0 = login_throttle::clock::now();
    CHECK_FALSE(t.failed("c", "alice", t0).blocked);
    CHECK_FALSE(t.failed("c", "bob", t0).blocked);
    CHECK(t.failed("c", "alice", t0).blocked);
    t.succeeded("c", "alice"); // a queued check that finished late
    t.succeeded("c", "bob");
    CHECK(t.blocked("c", t0 + 1s));
    CHECK(t.has_failures("c"));
    CHECK(t.failed("c", "alice", t0 + 2s).blocked); // failures while blocked: still blocked
    CHECK(t.blocked("c", t0 + 61s));                // ... for block_for after the last one
    CHECK_FALSE(t.blocked("c", t0 + 63s));
    t.succeeded("c", "alice"); // the block is over, its failures still count
    CHECK(t.failed("c", "carol", t0 + 64s).blocked);
}

TEST_CASE("login_throttle: has_failures", "[throttle]") {
    login_throttle::options o = small();
    o.forget_after = 60s;
    login_throttle t(o);
    const auto t0 = login_throttle::clock::now();
    CHECK_FALSE(t.has_failures("c"));
    t.failed("c", "alice", t0);
    CHECK(t.has_failures("c"));
    CHECK_FALSE(t.has_failures("d"));
    t.succeeded("d", "alice");
    CHECK(t.has_failures("c"));
    t.succeeded("c", "alice");
    CHECK_FALSE(t.has_failures("c"));
    t.failed("c", "alice", t0);
    CHECK_FALSE(t.blocked("x", t0 + 61s)); // a sweep forgets the quiet client
    CHECK_FALSE(t.has_failures("c"));
}

TEST_CASE("login_throttle: a full table keeps blocked clients, evicts a quiet one", "[throttle]") {
    login_throttle::options o;
    o.block_after = 2;
    o.block_for = 600s;
    o.forget_after = 900s;
    o.capacity = 2;
    login_throttle t(o);
    const auto t0 = login_throttle::clock::now();
    t.failed("blocked", "u", t0);
    CHECK(t.failed("blocked", "u", t0).blocked);
    t.failed("recent", "u", t0 + 10s);
    t.failed("new", "u", t0 + 20s); // full: "recent" goes, though "blocked" is older
    CHECK(t.size() == 2);
    CHECK(t.blocked("blocked", t0 + 20s));
    CHECK_FALSE(t.has_failures("recent"));
    CHECK(t.has_failures("new"));

    CHECK(t.failed("new", "u", t0 + 30s).blocked);
    t.failed("newest", "u", t0 + 40s); // every client is blocked: the oldest goes
    CHECK(t.size() == 2);
    CHECK_FALSE(t.blocked("blocked", t0 + 40s));
    CHECK(t.blocked("new", t0 + 40s));
    CHECK(t.has_failures("newest"));
}

TEST_CASE("login_throttle: quiet clients are forgotten, memory is bounded", "[throttle]") {
    login_throttle::options o;
    o.free_failures = 0;
    o.base_delay = 10ms;
    o.forget_after = 60s;
    o.capacity = 100;
    login_throttle t(o);
    const auto t0 = login_throttle::clock::now();
    CHECK(t.failed("a", "u", t0).delay == 10ms);
    CHECK(t.failed("a", "u", t0 + 61s).delay == 10ms); // the first failure was forgotten
    for (int i = 0; i < 1000; ++i)
        for (int name = 0; name < 10; ++name)
            t.failed(std::to_string(i), nth("u", name), t0 + 62s);
    CHECK(t.size() <= 100);
}

TEST_CASE("login_throttle: failures beyond the first few names are never forgiven", "[throttle]") {
    login_throttle::options o;
    o.free_failures = 0;
    o.base_delay = 10ms;
    o.max_delay = 100s;
    o.block_after = 100;
    login_throttle t(o);
    const auto t0 = login_throttle::clock::now();
    const int names = static_cast<int>(login_throttle::names_per_client) + 2;
    for (int i = 0; i < names; ++i) // 10, 20, 40, ... ms
        t.failed("c", nth("u", i), t0);
    for (int i = static_cast<int>(login_throttle::names_per_client); i < names; ++i)
        t.succeeded("c", nth("u", i)); // no room was left to remember these names
    CHECK(t.failed("c", "other", t0).delay == 10ms * (1 << names));
    t.succeeded("c", "u0"); // the first names are remembered
    t.succeeded("c", "u1");
    CHECK(t.failed("c", "other", t0).delay == 10ms * (1 << (names - 1)));
}

TEST_CASE("login_throttle: connection checks drop quiet records, never a block", "[throttle]") {
    login_throttle::options o;
    o.block_after = 2;
    o.block_for = 600s;
    o.forget_after = 60s;
    login_throttle t(o);
    const auto t0 = login_throttle::clock::now();
    t.failed("quiet", "u", t0);
    t.failed("blocked", "u", t0);
    t.failed("blocked", "u", t0);
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
