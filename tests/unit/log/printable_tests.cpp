#include "log/log.hpp"

#include <string>
#include <string_view>

#include <catch2/catch.hpp>

using namespace weir;
using namespace std::string_view_literals;

TEST_CASE("printable escapes all but printable ASCII, and spaces and backslashes too", "[log]") {
    CHECK(log::printable("") == "");
    CHECK(log::printable("user@example.com") == "user@example.com");
    CHECK(log::printable("!\"#$%&'()*+,-./09:;<=>?@AZ[]^_`az{|}~") ==
          "!\"#$%&'()*+,-./09:;<=>?@AZ[]^_`az{|}~");
    CHECK(log::printable("\x00\x01\t\n\r\x1f\x7f"sv) == "\\x00\\x01\\x09\\x0a\\x0d\\x1f\\x7f");
    CHECK(log::printable("a b") == "a\\x20b");
    CHECK(log::printable("a\\x41") == "a\\x5cx41"); // an escape in the output is always ours
    CHECK(log::printable("caf\xc3\xa9 \x80\xff") == "caf\\xc3\\xa9\\x20\\x80\\xff");
}
