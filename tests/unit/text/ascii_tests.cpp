#include "text/ascii.hpp"

#include <string>
#include <string_view>

#include <catch2/catch.hpp>

using namespace weir::text;
using namespace std::string_view_literals;

TEST_CASE("control bytes are 0x00-0x1f and DEL", "[ascii]") {
    CHECK(is_control('\0'));
    CHECK(is_control('\t'));
    CHECK(is_control('\n'));
    CHECK(is_control('\x1f'));
    CHECK(is_control('\x7f'));
    CHECK_FALSE(is_control(' '));
    CHECK_FALSE(is_control('~'));
    CHECK_FALSE(is_control('\x80'));
    CHECK_FALSE(is_control('\xff'));
}

TEST_CASE("lowercase touches ASCII letters only", "[ascii]") {
    CHECK(lower('A') == 'a');
    CHECK(lower('Z') == 'z');
    CHECK(lower('a') == 'a');
    CHECK(lower('@') == '@'); // just below 'A'
    CHECK(lower('[') == '['); // just above 'Z'
    CHECK(lower('\xc3') == '\xc3');
    CHECK(lowercase("Proxy.EXAMPLE:1080") == "proxy.example:1080");
    CHECK(lowercase("CAF\xc3\x89") == "caf\xc3\x89"); // UTF-8 É stays
    CHECK(lowercase("") == "");
    CHECK(lowercase("a\0B"sv) == std::string("a\0b", 3));
}

TEST_CASE("equal ignoring case", "[ascii]") {
    CHECK(equal_ignoring_case("socks5://0.0.0.0:1088", "SOCKS5://0.0.0.0:1088"));
    CHECK(equal_ignoring_case("", ""));
    CHECK_FALSE(equal_ignoring_case("abc", "abd"));
    CHECK_FALSE(equal_ignoring_case("abc", "ab"));
    CHECK_FALSE(equal_ignoring_case("@", "`")); // 0x40 and 0x60 are not a letter pair
    CHECK_FALSE(equal_ignoring_case("\xc3\xa9", "\xc3\x89"));
    static_assert(equal_ignoring_case("Host", "hOST"));
}
