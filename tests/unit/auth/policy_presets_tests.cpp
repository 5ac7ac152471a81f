#include "auth/policy.hpp"

#include <stdexcept>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

using namespace weir::auth;

namespace {

/// The verdict of `private_destination_rules(with_private)` then `allow`, for
/// a CONNECT to the address `destination`.
verdict preset_verdict(std::string_view destination, bool with_private) {
    request_facts f;
    f.client = *ip_address::parse("192.0.2.7");
    f.destination_address = ip_address::parse(destination);
    if (!f.destination_address) throw std::invalid_argument("bad test address");
    f.port = 80;
    return policy(private_destination_rules(with_private), action::allow).check(f).result;
}

std::string file_error(std::string_view text) {
    try {
        parse_rules_file(text, "rules.txt");
    } catch (const rule_error& e) {
        return e.what();
    }
    return "(parsed)";
}

} // namespace

TEST_CASE("the private-destination presets deny what they say", "[policy][preset]") {
    for (const std::string always :
         {"127.0.0.1", "127.255.255.254", "::1", "::ffff:127.0.0.1", "169.254.169.254",
          "::ffff:169.254.169.254", "fe80::1", "febf::1", "0.0.0.0", "0.1.2.3",
          "::", "::ffff:0.0.0.0", "224.0.0.1", "239.255.255.255", "ff02::1", "255.255.255.255",
          // IPv4 embedded in IPv6: compatible, translated, NAT64 and 6to4 forms
          "::127.0.0.1", "::2", "::ffff:0:127.0.0.1", "64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe",
          "2002:7f00:1::", "2002:a9fe:a9fe:1::5"}) {
        CAPTURE(always);
        CHECK(preset_verdict(always, false) == verdict::deny);
        CHECK(preset_verdict(always, true) == verdict::deny);
    }
    for (const std::string private_range :
         {"10.1.1.1", "172.16.0.1", "172.31.255.255", "192.168.1.1", "100.64.0.1",
          "100.127.255.255", "fd00::1", "fc00::1", "::ffff:10.1.1.1", "64:ff9b::a01:101",
          "2002:c0a8:101::1"}) {
        CAPTURE(private_range);
        CHECK(preset_verdict(private_range, false) == verdict::allow);
        CHECK(preset_verdict(private_range, true) == verdict::deny);
    }
    for (const std::string public_address :
         {"8.8.8.8", "1.1.1.1", "172.32.0.1", "172.15.255.255", "100.128.0.1", "11.0.0.1",
          "2001:4860:4860::8888", "fec0::1", "223.255.255.255", "255.255.255.254",
          "64:ff9b::808:808", "2002:808:808::1", "64:ff9b:1::7f00:1"}) {
        CAPTURE(public_address);
        CHECK(preset_verdict(public_address, true) == verdict::allow);
    }
}

TEST_CASE("preset rules have readable texts and say where they come from", "[policy][preset]") {
    const auto basic = private_destination_rules(false);
    const auto full = private_destination_rules(true);
    REQUIRE(basic.size() == 9);
    REQUIRE(full.size() == 14);
    CHECK(basic[0].text() == "deny to 127.0.0.0/8");
    CHECK(basic[2].text() == "deny to 169.254.0.0/16");
    CHECK(basic[8].text() == "deny to 255.255.255.255");
    CHECK(full[13].text() == "deny to fc00::/7");
    for (const auto& r : full) {
        CAPTURE(r.text());
        CHECK(r.origin == "preset");
        CHECK(r.act == action::deny);
    }
}

TEST_CASE("a rules file holds one rule a line, with comments and blank lines", "[policy][file]") {
    const auto rules = parse_rules_file("# who may go where\n"
                                        "\n"
                                        "allow from 10.0.0.0/8 to any port 443   # office\r\n"
                                        "   deny to 169.254.0.0/16\n"
                                        "\t# indented comment\n"
                                        "allow user a#b\n"
                                        "deny",
                                        "rules.txt");
    REQUIRE(rules.size() == 4);
    CHECK(rules[0].text() == "allow from 10.0.0.0/8 to any port 443");
    CHECK(rules[0].origin == "rules.txt:3");
    CHECK(rules[1].text() == "deny to 169.254.0.0/16");
    CHECK(rules[1].origin == "rules.txt:4");
    CHECK(rules[2].user == "a#b");
    CHECK(rules[3].text() == "deny");
    CHECK(rules[3].origin == "rules.txt:7");

    const policy p(rules, action::allow);
    request_facts f;
    f.destination_address = ip_address::parse("169.254.169.254");
    CHECK(describe(p.check(f)) == "rule 2 'deny to 169.254.0.0/16' (rules.txt:4)");

    CHECK(parse_rules_file("", "empty").empty());
    CHECK(parse_rules_file("\n\n# only comments\n", "empty").empty());
}

TEST_CASE("a bad line in a rules file is named by source and line", "[policy][file]") {
    CHECK(file_error("allow\n\nallow form 10.0.0.0/8\n") ==
          "rules.txt:3: rule 'allow form 10.0.0.0/8': unknown word 'form' at word 2 (expected "
          "from, listener, user, to, port, command)");
    CHECK(file_error("deny to 10.0.0.1/8 # typo\r\n") ==
          "rules.txt:1: rule 'deny to 10.0.0.1/8': host bits set in '10.0.0.1/8' at word 3 (the "
          "network is 10.0.0.0/8)");
}
