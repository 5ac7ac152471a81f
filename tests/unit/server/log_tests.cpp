#include "log/log.hpp"

#include <chrono>
#include <string>

#include <catch2/catch.hpp>

using namespace weir;

TEST_CASE("log text from the network stays on one line", "[log]") {
    CHECK(log::printable("example.com") == "example.com");
    CHECK(log::printable("a b\nc\\") == "a\\x20b\\x0ac\\x5c");
    CHECK(log::printable(std::string("\x00\xff", 2)) == "\\x00\\xff");
}

TEST_CASE("a tally logs its first event at once, then one line per interval with the count",
          "[log]") {
    using namespace std::chrono_literals;
    log::tally t(60s);
    const std::chrono::steady_clock::time_point start{1000s};
    const auto first = t.count(start);
    REQUIRE(first);
    CHECK((first->since_last == 1 && first->total == 1));
    CHECK_FALSE(t.count(start + 1s));
    CHECK_FALSE(t.count(start + 59s));
    const auto later = t.count(start + 60s); // the two above, and this one
    REQUIRE(later);
    CHECK((later->since_last == 3 && later->total == 4));
    CHECK_FALSE(t.count(start + 61s));
    const auto next = t.count(start + 125s);
    REQUIRE(next);
    CHECK((next->since_last == 2 && next->total == 6));
}
