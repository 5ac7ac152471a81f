#include "auth/ip.hpp"
#include "tests/unit/auth/test_ip.hpp"

#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

using weir::auth::cidr;
using weir::auth::ip_address;
using weir::auth::test::ip;

TEST_CASE("addresses parse and print in canonical form", "[ip]") {
    const std::vector<std::pair<std::string, std::string>> table = {
        {"10.0.0.1", "10.0.0.1"},
        {"0.0.0.0", "0.0.0.0"},
        {"255.255.255.255", "255.255.255.255"},
        {"::", "::"},
        {"0:0:0:0:0:0:0:0", "::"},
        {"::1", "::1"},
        {"1::", "1::"},
        {"2001:DB8::1", "2001:db8::1"},
        {"2001:0db8:0000:0000:0001:0000:0000:0001", "2001:db8::1:0:0:1"},
        {"1:0:0:2:0:0:0:3", "1:0:0:2::3"},
        {"1:0:2:3:4:5:6:7", "1:0:2:3:4:5:6:7"},
        {"1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"},
        {"1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"},
        {"fe80::abcd:ef01", "fe80::abcd:ef01"},
        {"::ffff:1.2.3.4", "::ffff:1.2.3.4"},
        {"::FFFF:7f00:1", "::ffff:127.0.0.1"},
        {"1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:102:304"},
        {"::1.2.3.4", "::102:304"},
    };
    for (const auto& [text, canonical] : table) {
        CAPTURE(text);
        const auto a = ip_address::parse(text);
        REQUIRE(a);
        CHECK(a->to_string() == canonical);
        CHECK(ip_address::parse(canonical) == a);
        CHECK(a->bytes().size() == (a->is_v4() ? 4U : 16U));
    }
}

TEST_CASE("malformed addresses are refused, inet_aton shorthands included", "[ip]") {
    for (const std::string text : {"",
                                   "1.2.3",
                                   "1.2.3.4.5",
                                   "256.0.0.1",
                                   "01.2.3.4",
                                   "1.2.3.04",
                                   " 1.2.3.4",
                                   "1.2.3.4 ",
                                   "127.1",
                                   "0x7f.0.0.1",
                                   "1..2.3",
                                   "1.2.3.",
                                   ".1.2.3",
                                   "-1.2.3.4",
                                   ":",
                                   ":::",
                                   "1::2::3",
                                   "1:2:3:4:5:6:7:8:9",
                                   "1:2:3:4:5:6:7",
                                   ":1::",
                                   "::1:",
                                   "1::2:",
                                   ":1:2:3:4:5:6:7",
                                   "12345::",
                                   "g::",
                                   "::1.2.3",
                                   "1.2.3.4::",
                                   "::1.2.3.4:5",
                                   "fe80::1%eth0",
                                   "[::1]",
                                   "1:2:3:4:5:6:7:1.2.3.4",
                                   "::1:2:3:4:5:6:1.2.3.4",
                                   "::ffff:256.1.1.1",
                                   "localhost"}) {
        CAPTURE(text);
        CHECK_FALSE(ip_address::parse(text));
    }
}

TEST_CASE("IPv4-mapped IPv6 normalizes to IPv4, nothing else does", "[ip]") {
    CHECK(ip("::ffff:127.0.0.1").is_v4_mapped());
    CHECK(ip("::ffff:127.0.0.1").normalized() == ip("127.0.0.1"));
    CHECK(ip("::ffff:127.0.0.1").normalized().is_v4());
    CHECK(ip("::127.0.0.1").normalized() == ip("::127.0.0.1"));
    CHECK(ip("::1:ffff:127.0.0.1").normalized() == ip("::1:ffff:127.0.0.1"));
    CHECK(ip("10.0.0.1").normalized() == ip("10.0.0.1"));
    CHECK(ip("::ffff:0.0.0.0") != ip("0.0.0.0"));
    CHECK(ip_address() == ip("0.0.0.0"));
}

TEST_CASE("CIDR blocks parse, print, and hold what they should", "[ip][cidr]") {
    struct row {
        std::string block;
        std::string canonical;
        std::vector<std::string> inside;
        std::vector<std::string> outside;
    };
    const std::vector<row> table = {
        {"10.0.0.0/8",
         "10.0.0.0/8",
         {"10.0.0.0", "10.255.255.255", "::ffff:10.1.2.3"},
         {"11.0.0.0", "9.255.255.255", "::a01:203", "::ffff:11.0.0.0"}},
        {"10.1.128.0/17", "10.1.128.0/17", {"10.1.128.0", "10.1.255.255"}, {"10.1.127.255"}},
        {"0.0.0.0/0", "0.0.0.0/0", {"1.2.3.4", "255.255.255.255", "::ffff:1.2.3.4"}, {"::1", "::"}},
        {"::/0", "::/0", {"::1", "2001:db8::1"}, {"1.2.3.4", "::ffff:1.2.3.4"}},
        {"fe80::/10", "fe80::/10", {"fe80::1", "febf:ffff::1"}, {"fec0::1", "fe7f::1"}},
        {"::ffff:10.0.0.0/104", "10.0.0.0/8", {"10.9.9.9", "::ffff:10.9.9.9"}, {"11.0.0.1"}},
        {"::ffff:0.0.0.0/96", "0.0.0.0/0", {"8.8.8.8"}, {"::1"}},
        {"1.2.3.4/32", "1.2.3.4", {"1.2.3.4"}, {"1.2.3.5"}},
        {"1.2.3.4", "1.2.3.4", {"1.2.3.4", "::ffff:1.2.3.4"}, {"1.2.3.5"}},
        {"::1", "::1", {"::1"}, {"::2", "0.0.0.1"}},
        {"::ffff:127.0.0.1", "127.0.0.1", {"127.0.0.1"}, {"127.0.0.2"}},
        {"2001:DB8::/32", "2001:db8::/32", {"2001:db8:ffff::1"}, {"2001:db9::"}},
    };
    for (const auto& r : table) {
        CAPTURE(r.block);
        const auto block = cidr::parse(r.block);
        REQUIRE(block);
        CHECK(block->to_string() == r.canonical);
        CHECK(cidr::parse(r.canonical) == block);
        for (const auto& a : r.inside) {
            CAPTURE(a);
            CHECK(block->contains(ip(a)));
        }
        for (const auto& a : r.outside) {
            CAPTURE(a);
            CHECK_FALSE(block->contains(ip(a)));
        }
    }
}

TEST_CASE("malformed CIDR blocks say what is wrong", "[ip][cidr]") {
    using error = cidr::parse_error;
    const std::vector<std::pair<std::string, error>> table = {
        {"10.0.0.1/8", error::host_bits_set},
        {"::1/64", error::host_bits_set},
        {"10.0.0.0/33", error::bad_prefix},
        {"::/129", error::bad_prefix},
        {"10.0.0.0/08", error::bad_prefix},
        {"10.0.0.0/", error::bad_prefix},
        {"10.0.0.0/8/8", error::bad_prefix},
        {"10.0.0.0/-1", error::bad_prefix},
        {"10.0.0.0/1000", error::bad_prefix},
        {"x/8", error::bad_address},
        {"/8", error::bad_address},
        {"10.0.0/8", error::bad_address},
        {"::ffff:10.0.0.1/104", error::host_bits_set},
    };
    for (const auto& [text, expected] : table) {
        CAPTURE(text);
        auto got = error::none;
        CHECK_FALSE(cidr::parse(text, &got));
        CHECK(got == expected);
    }
}

TEST_CASE("a block built from an address and a prefix clears the host bits", "[ip][cidr]") {
    CHECK(cidr(ip("10.1.2.3"), 8).to_string() == "10.0.0.0/8");
    CHECK(cidr(ip("10.1.2.3"), 99).to_string() == "10.1.2.3");
    CHECK(cidr(ip("10.1.2.3"), 0).to_string() == "0.0.0.0/0");
    CHECK(cidr(ip("::ffff:10.1.2.3"), 104).to_string() == "10.0.0.0/8");
    CHECK(cidr(ip("fe80::1234"), 10).to_string() == "fe80::/10");
    CHECK(cidr(ip("::ffff:10.1.2.3")).to_string() == "10.1.2.3");
}
