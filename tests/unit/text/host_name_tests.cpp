#include "text/host_name.hpp"

#include <string>
#include <vector>

#include <catch2/catch.hpp>

using namespace weir::text;

TEST_CASE("host names: labels of letters, digits, '-' and '_'", "[host_name]") {
    const std::vector<std::string> names = {
        "example.com",  "EXAMPLE.com", "a",      "localhost", "x-1.y_2.example",
        "example.com.", "127.1",       "10.0.0", "1",         "-a-.b"};
    for (const auto& name : names) {
        CAPTURE(name);
        CHECK(is_host_name(name));
    }
    CHECK(is_host_name(std::string(63, 'a') + ".example"));
}

TEST_CASE("not host names", "[host_name]") {
    const std::vector<std::string> names = {
        "",          ".",   "..",   "example.com..", ".example.com",
        "a..b",      "a b", "a\tb", "a\\112b",       "caf\xc3\xa9",
        "*.example", "a/b", "a:80", "[::1]",         std::string(64, 'a') + ".example"};
    for (const auto& name : names) {
        CAPTURE(name);
        CHECK_FALSE(is_host_name(name));
    }
    CHECK_FALSE(is_host_name(std::string("a\0b", 3)));
}

TEST_CASE("host names are at most 253 bytes, a trailing dot aside", "[host_name]") {
    const std::string label(63, 'a');
    const std::string longest = label + '.' + label + '.' + label + '.' + std::string(61, 'b');
    REQUIRE(longest.size() == 253);
    CHECK(is_host_name(longest));
    CHECK(is_host_name(longest + '.'));
    CHECK_FALSE(is_host_name(longest + 'b'));
    CHECK_FALSE(is_host_name(longest + "b."));
}
