#include "auth/policy.hpp"
#include "tests/unit/auth/test_ip.hpp"

#include <stdexcept>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

using namespace weir::auth;

namespace {

using test::ip;

/// A listener reachable from other hosts: `texts`, then the default
/// `fallback`, behind the guard (the preset without private ranges, and the
/// host's own addresses).
policy guarded(std::initializer_list<std::string_view> texts, action fallback = action::allow) {
    std::vector<rule> rules;
    for (const auto text : texts)
        rules.push_back(parse_rule(text));
    return policy(std::move(rules), fallback, guard{private_destination_rules(false), true});
}

/// A CONNECT from 10.0.0.7 as bob to `address` (resolved from `name`, if given).
request_facts to(std::string_view address, std::uint16_t port = 80, std::string_view name = {}) {
    request_facts f;
    f.client = ip("10.0.0.7");
    f.user = "bob";
    f.destination_address = ip(address);
    if (!name.empty()) f.destination_name = std::string(name);
    f.port = port;
    return f;
}

const std::vector<ip_address> host = {ip("192.0.2.10"), ip("2001:db8::10")};

/// "allow by rule N", "deny by rule N 'TEXT'".
std::string outcome(const policy& p, const request_facts& f) {
    const auto d = p.check(f, host);
    if (d.result == verdict::allow) return "allow by rule " + std::to_string(d.rule_number);
    if (d.result == verdict::undetermined) return "undetermined";
    return "deny by " + describe(d);
}

} // namespace

TEST_CASE("guard: allow rules that do not name the destination do not open it", "[policy][guard]") {
    for (const auto text : {"allow from 10.0.0.0/24", "allow user bob", "allow to any",
                            "allow to 0.0.0.0/0", "allow to 126.0.0.0/7", "allow to .example",
                            "allow", "allow from any to any port 1-65535"}) {
        CAPTURE(text);
        const auto p = guarded({text});
        CHECK(outcome(p, to("127.0.0.1")) == "deny by rule 2 'deny to 127.0.0.0/8' (preset)");
        CHECK(outcome(p, to("127.0.0.1", 80, "loop.example")) ==
              "deny by rule 2 'deny to 127.0.0.0/8' (preset)");
        CHECK(outcome(p, to("169.254.169.254")) ==
              "deny by rule 4 'deny to 169.254.0.0/16' (preset)");
        CHECK(outcome(p, to("::1")) == "deny by rule 3 'deny to ::1' (preset)");
        CHECK(outcome(p, to("192.0.2.10")) ==
              "deny by rule 11 'deny to the host's own addresses' (preset)");
        CHECK(outcome(p, to("2001:db8::10")) ==
              "deny by rule 11 'deny to the host's own addresses' (preset)");
    }
    // What the rules allow elsewhere they still allow: the guard only guards.
    CHECK(outcome(guarded({"allow from 10.0.0.0/24", "deny"}), to("198.51.100.1")) ==
          "allow by rule 1");
    CHECK(outcome(guarded({"allow to .example", "deny"}), to("198.51.100.1", 80, "a.example")) ==
          "allow by rule 1");
}

TEST_CASE("guard: IPv4 embedded in IPv6 is the IPv4 address", "[policy][guard]") {
    const auto p = guarded({"allow from 10.0.0.0/24"});
    for (const auto a : {"::ffff:127.0.0.1", "::127.0.0.1", "::ffff:0:7f00:1", "64:ff9b::7f00:1",
                         "2002:7f00:1::", "2002:7f00:1:5::9"}) {
        CAPTURE(a);
        CHECK(outcome(p, to(a)) == "deny by rule 2 'deny to 127.0.0.0/8' (preset)");
    }
    CHECK(outcome(p, to("64:ff9b::c000:20a")) ==
          "deny by rule 11 'deny to the host's own addresses' (preset)");
    CHECK(outcome(p, to("2002:c000:20a::1")) ==
          "deny by rule 11 'deny to the host's own addresses' (preset)");
    CHECK(outcome(p, to("64:ff9b::c633:6401")) == "allow by rule 1"); // 198.51.100.1
    // Ordinary rules see both forms: the IPv4 address it carries, and the IPv6 as written.
    const auto rules = guarded({"deny to 198.51.100.0/24", "deny to 2002::/16", "allow"});
    CHECK(outcome(rules, to("64:ff9b::c633:6401")) == "deny by rule 1 'deny to 198.51.100.0/24'");
    CHECK(outcome(rules, to("2002:808:808::1")) == "deny by rule 2 'deny to 2002::/16'");
    CHECK(outcome(rules, to("2001:db8::1")) == "allow by rule 3");
}

TEST_CASE("guard: a rule that names the destination opens it, for what it names",
          "[policy][guard]") {
    for (const bool explicit_first : {false, true}) {
        CAPTURE(explicit_first);
        const auto p =
            explicit_first
                ? guarded({"allow to 127.0.0.1 port 8080", "allow from 10.0.0.0/24", "deny"})
                : guarded({"allow from 10.0.0.0/24", "allow to 127.0.0.1 port 8080", "deny"});
        const auto hole = explicit_first ? "allow by rule 1" : "allow by rule 2";
        CHECK(outcome(p, to("127.0.0.1", 8080)) == hole);
        CHECK(outcome(p, to("::ffff:127.0.0.1", 8080)) == hole);
        CHECK(outcome(p, to("127.0.0.1", 8080, "localhost")) == hole);
        CHECK(outcome(p, to("127.0.0.1", 22)) == "deny by rule 3 'deny'");
        CHECK(outcome(p, to("127.0.0.2", 8080)) == "deny by rule 3 'deny'");
        CHECK(outcome(p, to("169.254.169.254", 8080)) == "deny by rule 3 'deny'");
    }
    // Inside the guarded block: a network, a host name, the host's own address.
    CHECK(outcome(guarded({"allow to 127.0.0.0/8"}), to("127.3.2.1")) == "allow by rule 1");
    CHECK(outcome(guarded({"allow to 169.254.169.254 port 80"}), to("169.254.169.254")) ==
          "allow by rule 1");
    CHECK(outcome(guarded({"allow to metadata.internal"}),
                  to("169.254.169.254", 80, "metadata.internal")) == "allow by rule 1");
    CHECK(outcome(guarded({"allow to 192.0.2.10 port 80"}), to("192.0.2.10")) == "allow by rule 1");
    CHECK(outcome(guarded({"allow to 192.0.2.0/24"}), to("192.0.2.10")) ==
          "deny by rule 11 'deny to the host's own addresses' (preset)");
    // A deny rule before the hole still denies.
    CHECK(outcome(guarded({"deny from 10.0.0.7", "allow to 127.0.0.1"}), to("127.0.0.1")) ==
          "deny by rule 1 'deny from 10.0.0.7'");
}

TEST_CASE("guard: private ranges on their own, and no guard at all", "[policy][guard]") {
    const policy ranges({parse_rule("allow from 10.0.0.0/24")}, action::deny,
                        guard{private_destination_rules(true, false), false});
    CHECK(ranges.check(to("10.1.2.3")).result == verdict::deny);
    CHECK(ranges.check(to("127.0.0.1")).result == verdict::allow);
    CHECK(ranges.check(to("192.0.2.10"), host).result == verdict::allow);
    const policy none({parse_rule("allow from 10.0.0.0/24")}, action::deny);
    CHECK(none.check(to("127.0.0.1"), host).result == verdict::allow);
    CHECK(none.check(to("192.0.2.10"), host).result == verdict::allow);
}

TEST_CASE("guard: a name alone is left to its addresses", "[policy][guard]") {
    request_facts f = to("127.0.0.1", 80, "loop.example");
    f.destination_address.reset();
    CHECK(guarded({"allow to .example", "deny"}).check(f, host).result != verdict::deny);
    CHECK(guarded({"deny to .example"}).check(f, host).result == verdict::deny);
}
