#include "cli/units.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>

#include <catch2/catch.hpp>

using namespace weir::cli;
using namespace std::chrono_literals;
using std::chrono::nanoseconds;

TEST_CASE("durations: plain seconds, fractions and the four units", "[units]") {
    const std::pair<std::string, nanoseconds> cases[] = {
        {"90", 90s},    {"0", 0s},           {"1.5", 1500ms},  {".5", 500ms},
        {"90s", 90s},   {"15m", 15min},      {"1h", 1h},       {"500ms", 500ms},
        {"0.001", 1ms}, {"2.5h", 150min},    {"0.5ms", 500us}, {"86400", 24h},
        {"007s", 7s},   {"31536000", 8760h}, {"1.", 1s},       {"0ms", 0s},
    };
    for (const auto& [text, expected] : cases) {
        CAPTURE(text);
        REQUIRE(parse_duration(text).has_value());
        CHECK(*parse_duration(text) == expected);
    }
}

TEST_CASE("durations: anything else is refused", "[units]") {
    for (const std::string text :
         {"",     "s",   "ms",  "1 hour", "1 h", " 1s", "1s ",           "-1",
          "+1",   "1e3", "inf", "nan",    "1d",  "1hm", "1.2.3",         "1,5",
          "0x10", "1S",  "1H",  "h1",     "..",  "1us", "4000000000000h"}) {
        CAPTURE(text);
        CHECK_FALSE(parse_duration(text).has_value());
    }
}

TEST_CASE("sizes: bytes and binary K, M, G with or without iB", "[units]") {
    const std::pair<std::string, std::uint64_t> cases[] = {
        {"65536", 65536},
        {"0", 0},
        {"64K", 64 << 10},
        {"64KiB", 64 << 10},
        {"1M", 1 << 20},
        {"1MiB", 1 << 20},
        {"1G", 1 << 30},
        {"1GiB", 1 << 30},
        {"4096", 4096},
        {"18446744073709551615", 18446744073709551615u},
        {"16777215G", 16777215ull << 30},
    };
    for (const auto& [text, expected] : cases) {
        CAPTURE(text);
        REQUIRE(parse_size(text).has_value());
        CHECK(*parse_size(text) == expected);
    }
}

TEST_CASE("sizes: anything else is refused", "[units]") {
    for (const std::string text :
         {"", "K", "1.5M", "64 K", "64k", "64kb", "64KB", "1T", "-1", "+1", "1e6", "0x10",
          "18446744073709551616", "17179869184G", "1Mi", "MiB1", " 1"}) {
        CAPTURE(text);
        CHECK_FALSE(parse_size(text).has_value());
    }
}

TEST_CASE("durations show in the largest unit that shows them whole", "[units]") {
    CHECK(show_duration(0s) == "0s");
    CHECK(show_duration(1h) == "1h");
    CHECK(show_duration(8760h) == "8760h");
    CHECK(show_duration(90min) == "90m");
    CHECK(show_duration(15min) == "15m");
    CHECK(show_duration(90s) == "90s");
    CHECK(show_duration(500ms) == "500ms");
    CHECK(show_duration(1ms) == "1ms");
    CHECK(show_duration(1500us) == "0.0015s");
}

TEST_CASE("what a duration or size shows parses back to it", "[units]") {
    for (const nanoseconds d : {nanoseconds(0s), nanoseconds(1h), nanoseconds(90s),
                                nanoseconds(1ms), nanoseconds(1500us), nanoseconds(123456789)}) {
        CAPTURE(d.count());
        CHECK(parse_duration(show_duration(d)) == d);
    }
    for (const std::uint64_t s :
         {0ull, 1ull, 1000ull, 4096ull, 1ull << 20, 3ull << 30, (1ull << 20) + 1}) {
        CAPTURE(s);
        CHECK(parse_size(show_size(s)) == s);
    }
}

TEST_CASE("sizes show in the largest binary unit that shows them whole", "[units]") {
    CHECK(show_size(0) == "0");
    CHECK(show_size(1000) == "1000");
    CHECK(show_size(4096) == "4KiB");
    CHECK(show_size(1 << 20) == "1MiB");
    CHECK(show_size(64 << 20) == "64MiB");
    CHECK(show_size(1ull << 30) == "1GiB");
    CHECK(show_size(1536ull << 20) == "1536MiB");
}
