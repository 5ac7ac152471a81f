#include "io/timeout_service.hpp"

#include <chrono>
#include <functional>
#include <optional>

#include <asio/io_context.hpp>
#include <catch2/catch.hpp>

using namespace std::chrono_literals;
using weir::io::timeout_node;
using weir::io::timeout_service;
using clock_type = timeout_node::clock;

namespace {

/// Records when (and how often) its timeout passed.
struct probe : timeout_node {
    std::optional<clock_type::time_point> fired_at;
    int fired = 0;
    std::function<void(probe&)> then; ///< runs inside on_timeout()

    void on_timeout() override {
        fired_at = clock_type::now();
        ++fired;
        if (then) then(*this);
    }
};

} // namespace

TEST_CASE("timeouts of several lengths each fire once, never early", "[timeout]") {
    asio::io_context io;
    auto& timeouts = timeout_service::of(io.get_executor());
    probe a, b, c, d, never;
    const auto start = clock_type::now();
    timeouts.start(a, 60ms);
    timeouts.start(b, 20ms);
    timeouts.start(c, 20ms);
    timeouts.start(d, 60ms);
    timeouts.start(never, 20ms);
    timeouts.touch(d, start + 40ms); // d's period starts again later: 100 ms
    timeouts.cancel(never);
    CHECK(a.timing());
    CHECK_FALSE(never.timing());
    io.run_for(5s); // ends early: nothing is left to wait for after d

    for (const probe* p : {&a, &b, &c, &d}) {
        CHECK(p->fired == 1);
        CHECK_FALSE(p->timing());
    }
    CHECK(never.fired == 0);
    REQUIRE(a.fired_at);
    REQUIRE(b.fired_at);
    REQUIRE(c.fired_at);
    REQUIRE(d.fired_at);
    CHECK(*a.fired_at - start >= 60ms);
    CHECK(*b.fired_at - start >= 20ms);
    CHECK(*c.fired_at - start >= 20ms);
    CHECK(*d.fired_at - start >= 100ms);
}

TEST_CASE("a timeout restarted from its own expiry fires again", "[timeout]") {
    asio::io_context io;
    auto& timeouts = timeout_service::of(io.get_executor());
    probe p;
    probe other; // a new length added while the sweep runs
    p.then = [&](probe& self) {
        if (self.fired < 3) timeouts.start(self, 5ms);
        if (self.fired == 2) timeouts.start(other, 7ms);
    };
    timeouts.start(p, 5ms);
    io.run_for(5s);
    CHECK(p.fired == 3);
    CHECK(other.fired == 1);
}

TEST_CASE("a restarted or cancelled timeout does not fire for its old period", "[timeout]") {
    asio::io_context io;
    auto& timeouts = timeout_service::of(io.get_executor());
    probe restarted, cancelled, guard;
    const auto start = clock_type::now();
    timeouts.start(restarted, 10ms);
    timeouts.start(cancelled, 10ms);
    timeouts.start(restarted, 50ms); // replaces the 10 ms period
    timeouts.cancel(cancelled);
    timeouts.start(guard, 10ms); // keeps the 10 ms list alive
    io.run_for(5s);
    CHECK(guard.fired == 1);
    CHECK(cancelled.fired == 0);
    CHECK(restarted.fired == 1);
    REQUIRE(restarted.fired_at);
    CHECK(*restarted.fired_at - start >= 50ms);
}

TEST_CASE("cancelling the last timeout lets the context run out of work", "[timeout]") {
    asio::io_context io;
    auto& timeouts = timeout_service::of(io.get_executor());
    probe p;
    timeouts.start(p, 1h);
    timeouts.cancel(p);
    const auto start = clock_type::now();
    io.run_for(10s); // returns at once: no timer is left armed
    CHECK(clock_type::now() - start < 5s);
    CHECK(p.fired == 0);
}

TEST_CASE("restarting a timeout re-arms the timer only for an earlier expiry", "[timeout]") {
    asio::io_context io;
    auto& timeouts = timeout_service::of(io.get_executor());
    probe p;
    timeouts.start(p, 1h);
    CHECK(timeouts.arms() == 1);
    timeouts.start(p, 2h); // later: the armed timer will do (it fires early at worst)
    timeouts.start(p, 1h);
    CHECK(timeouts.arms() == 1);
    const auto start = clock_type::now();
    timeouts.start(p, 20ms); // earlier: armed again at once
    CHECK(timeouts.arms() == 2);
    timeouts.start(p, 60ms); // later again: fires early, finds nothing, waits on
    io.run_for(5s);
    CHECK(p.fired == 1);
    REQUIRE(p.fired_at);
    CHECK(*p.fired_at - start >= 60ms);
    CHECK(timeouts.arms() <= 3); // the early wake-up (if on time) armed it for the true expiry
}

TEST_CASE("restarting the last timeout with no length lets the context run out of work",
          "[timeout]") {
    asio::io_context io;
    auto& timeouts = timeout_service::of(io.get_executor());
    probe p;
    timeouts.start(p, 1h);
    timeouts.start(p, clock_type::duration::zero()); // no timeout: not timing
    CHECK_FALSE(p.timing());
    const auto start = clock_type::now();
    io.run_for(10s);
    CHECK(clock_type::now() - start < 5s);
    CHECK(p.fired == 0);
}

TEST_CASE("a lingering timer is not set again for the next timeout", "[timeout]") {
    // One timeout at a time, as sessions one after the other: a timer that
    // lingers is set once; one that does not is set again each time.
    const auto sets = [](bool linger) {
        asio::io_context io;
        auto& timeouts = timeout_service::of(io.get_executor());
        timeouts.linger(linger);
        probe p;
        for (int i = 0; i < 3; ++i) {
            timeouts.start(p, 1h);
            timeouts.cancel(p);
        }
        return timeouts.arms();
    };
    CHECK(sets(true) == 1);
    CHECK(sets(false) == 3);
}

TEST_CASE("a lingering timer fires once, finds nothing and is not set again", "[timeout]") {
    asio::io_context io;
    auto& timeouts = timeout_service::of(io.get_executor());
    timeouts.linger(true);
    probe p;
    const auto start = clock_type::now();
    timeouts.start(p, 20ms);
    timeouts.cancel(p);
    io.run_for(10s); // returns once the lingering wait is over: nothing set it again
    CHECK(clock_type::now() - start >= 20ms);
    CHECK(clock_type::now() - start < 5s);
    CHECK(p.fired == 0);
    CHECK(timeouts.arms() == 1);
}
