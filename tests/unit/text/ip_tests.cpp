// RFC 5952 text of IPv6 addresses, and the dotted quad.
#include "text/ip.hpp"

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

using namespace weir::text;

namespace {

using v6 = std::array<std::uint8_t, 16>;

/// 16 bytes from 8 groups.
v6 groups(std::array<std::uint16_t, 8> g) {
    v6 out{};
    for (std::size_t i = 0; i < 8; ++i) {
        out[2 * i] = static_cast<std::uint8_t>(g[i] >> 8);
        out[2 * i + 1] = static_cast<std::uint8_t>(g[i] & 0xff);
    }
    return out;
}

} // namespace

TEST_CASE("IPv4 as a dotted quad", "[ip]") {
    CHECK(ipv4_to_string(std::array<std::uint8_t, 4>{192, 0, 2, 1}) == "192.0.2.1");
    CHECK(ipv4_to_string(std::array<std::uint8_t, 4>{0, 0, 0, 0}) == "0.0.0.0");
    CHECK(ipv4_to_string(std::array<std::uint8_t, 4>{255, 255, 255, 255}) == "255.255.255.255");
    CHECK(ipv4_to_string(std::array<std::uint8_t, 4>{10, 0, 100, 9}) == "10.0.100.9");
}

TEST_CASE("IPv6 in RFC 5952 form", "[ip]") {
    const std::vector<std::pair<v6, std::string>> table = {
        {groups({0, 0, 0, 0, 0, 0, 0, 0}), "::"},
        {groups({0, 0, 0, 0, 0, 0, 0, 1}), "::1"},
        {groups({1, 0, 0, 0, 0, 0, 0, 0}), "1::"},
        {groups({0xfe80, 0, 0, 0, 0, 0, 0, 0}), "fe80::"},
        {groups({0x2001, 0xdb8, 0, 0, 0, 0, 0, 1}), "2001:db8::1"},
        // 4.1: lowercase, no leading zeros
        {groups({0x2001, 0x0db8, 0xABCD, 0x00EF, 0x0001, 0x0010, 0x0100, 0x1000}),
         "2001:db8:abcd:ef:1:10:100:1000"},
        {groups({0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff}),
         "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
        // 4.2.2: a single zero group is not "::"
        {groups({0x2001, 0xdb8, 0, 1, 1, 1, 1, 1}), "2001:db8:0:1:1:1:1:1"},
        {groups({0, 1, 0, 1, 0, 1, 0, 1}), "0:1:0:1:0:1:0:1"},
        {groups({1, 2, 3, 4, 5, 6, 7, 0}), "1:2:3:4:5:6:7:0"},
        // 4.2.3: the longest run wins, wherever it is
        {groups({0x2001, 0, 0, 1, 0, 0, 0, 1}), "2001:0:0:1::1"},
        {groups({0x2001, 0xdb8, 0, 0, 1, 0, 0, 0}), "2001:db8:0:0:1::"},
        // ... and the leftmost on a tie
        {groups({0x2001, 0xdb8, 0, 0, 1, 0, 0, 1}), "2001:db8::1:0:0:1"},
        {groups({0, 0, 1, 0, 0, 1, 0, 0}), "::1:0:0:1:0:0"},
        {groups({1, 0, 0, 0, 1, 0, 0, 0}), "1::1:0:0:0"},
        // 5: IPv4-mapped with a dotted quad; other IPv4-in-IPv6 forms in hex
        {groups({0, 0, 0, 0, 0, 0xffff, 0xc000, 0x0201}), "::ffff:192.0.2.1"},
        {groups({0, 0, 0, 0, 0, 0xffff, 0, 0}), "::ffff:0.0.0.0"},
        {groups({0, 0, 0, 0, 0, 0, 0xc000, 0x0201}), "::c000:201"},
        {groups({0, 0, 0, 0, 0xffff, 0, 0xc000, 0x0201}), "::ffff:0:c000:201"},
        {groups({0x64, 0xff9b, 0, 0, 0, 0, 0xc000, 0x0201}), "64:ff9b::c000:201"},
        {groups({1, 0, 0, 0, 0, 0xffff, 0xc000, 0x0201}), "1::ffff:c000:201"},
    };
    for (const auto& [bytes, text] : table) {
        CAPTURE(text);
        CHECK(ipv6_to_string(bytes) == text);
    }
}

TEST_CASE("append_ipv6 and append_ipv4 add to what is there", "[ip]") {
    std::string out = "[";
    append_ipv6(out, groups({0x2001, 0xdb8, 0, 0, 0, 0, 0, 1}));
    out += "]:443 from ";
    append_ipv4(out, std::array<std::uint8_t, 4>{127, 0, 0, 1});
    CHECK(out == "[2001:db8::1]:443 from 127.0.0.1");
}
