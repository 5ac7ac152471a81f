#include "auth/policy.hpp"
#include "tests/unit/auth/test_ip.hpp"

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

using namespace weir::auth;

namespace {

using test::ip;

/// A CONNECT from 192.0.2.7 on socks5://0.0.0.0:1088 to `destination` (an IP
/// literal or a name) on `port`, without a user.
request_facts facts(std::string_view destination, std::uint16_t port = 443) {
    request_facts f;
    f.client = ip("192.0.2.7");
    f.listener = "socks5://0.0.0.0:1088";
    if (const auto a = ip_address::parse(destination))
        f.destination_address = *a;
    else
        f.destination_name = std::string(destination);
    f.port = port;
    return f;
}

/// "match", "no match" or "undetermined" for `allow CLAUSES` against `f`.
std::string match(std::string_view clauses, const request_facts& f) {
    const policy p({parse_rule("allow " + std::string(clauses))}, action::deny);
    switch (p.check(f).result) {
    case verdict::allow:
        return "match";
    case verdict::deny:
        return "no match";
    case verdict::undetermined:
        return "undetermined";
    }
    return "?";
}

std::vector<rule> rules(std::initializer_list<std::string_view> texts) {
    std::vector<rule> out;
    for (const auto text : texts)
        out.push_back(parse_rule(text));
    return out;
}

/// "allow by rule 2", "deny by default", "undetermined at rule 1".
std::string outcome(const policy& p, const request_facts& f) {
    const auto d = p.check(f);
    const auto where =
        d.rule_number == 0 ? std::string("default") : "rule " + std::to_string(d.rule_number);
    switch (d.result) {
    case verdict::allow:
        return "allow by " + where;
    case verdict::deny:
        return "deny by " + where;
    case verdict::undetermined:
        return "undetermined at " + where;
    }
    return "?";
}

} // namespace

TEST_CASE("from matches the client address, IPv4-mapped or not", "[policy]") {
    auto f = facts("example.com");
    CHECK(match("from any", f) == "match");
    CHECK(match("from 192.0.2.0/24", f) == "match");
    CHECK(match("from 192.0.2.7", f) == "match");
    CHECK(match("from 192.0.2.8", f) == "no match");
    CHECK(match("from ::/0", f) == "no match");
    f.client = ip("::ffff:192.0.2.7");
    CHECK(match("from 192.0.2.0/24", f) == "match");
    f.client = ip("2001:db8::7");
    CHECK(match("from 2001:db8::/32", f) == "match");
    CHECK(match("from 0.0.0.0/0", f) == "no match");
}

TEST_CASE("listener matches the URL without regard to case", "[policy]") {
    const auto f = facts("example.com");
    CHECK(match("listener socks5://0.0.0.0:1088", f) == "match");
    CHECK(match("listener SOCKS5://0.0.0.0:1088", f) == "match");
    CHECK(match("listener socks5://[::]:1088", f) == "no match");
    CHECK(match("listener socks://0.0.0.0:1088", f) == "no match");
}

TEST_CASE("user matches only the authenticated user, exactly", "[policy]") {
    auto f = facts("example.com");
    CHECK(match("user alice", f) == "no match");
    f.user = "alice";
    CHECK(match("user alice", f) == "match");
    CHECK(match("user Alice", f) == "no match");
    CHECK(match("user alic", f) == "no match");
}

TEST_CASE("to matches addresses, exact names and suffixes", "[policy]") {
    const std::vector<std::tuple<std::string, std::string, std::string>> table = {
        {"to any", "example.com", "match"},
        {"to any", "10.1.2.3", "match"},
        {"to 10.0.0.0/8", "10.1.2.3", "match"},
        {"to 10.0.0.0/8", "::ffff:10.1.2.3", "match"},
        {"to 10.0.0.0/8", "11.1.2.3", "no match"},
        {"to 10.0.0.0/8", "example.com", "undetermined"},
        {"to ::1", "::1", "match"},
        {"to host.example", "host.example", "match"},
        {"to host.example", "HOST.Example.", "match"},
        {"to host.example", "a.host.example", "no match"},
        {"to host.example", "host.example..", "no match"},
        {"to host.example", "host.examplex", "no match"},
        {"to host.example", "10.1.2.3", "no match"},
        {"to .example", "example", "match"},
        {"to .example", "a.example", "match"},
        {"to .example", "a.b.EXAMPLE.", "match"},
        {"to .example", "badexample", "no match"},
        {"to .example", "example.com", "no match"},
        {"to .example", ".example", "match"},
        {"to .example", "", "no match"},
        {"to .example", "10.1.2.3", "no match"},
        {"to .corp.example.", "x.corp.example", "match"},
        {"to .corp.example", "corp.example.", "match"},
        {"to .corp.example", "xcorp.example", "no match"},
    };
    for (const auto& [clause, destination, expected] : table) {
        CAPTURE(clause, destination);
        CHECK(match(clause, facts(destination)) == expected);
    }
}

TEST_CASE("a name and an address can both be known: each kind of to checks its own", "[policy]") {
    auto f = facts("db.corp.example");
    f.destination_address = ip("10.1.2.3");
    CHECK(match("to .corp.example", f) == "match");
    CHECK(match("to 10.0.0.0/8", f) == "match");
    CHECK(match("to 192.168.0.0/16", f) == "no match");
}

TEST_CASE("port ranges are inclusive at both ends", "[policy]") {
    const std::vector<std::tuple<std::string, std::uint16_t, std::string>> table = {
        {"port 443", 443, "match"},        {"port 443", 444, "no match"},
        {"port 443", 442, "no match"},     {"port 1-1024", 0, "no match"},
        {"port 1-1024", 1, "match"},       {"port 1-1024", 1024, "match"},
        {"port 1-1024", 1025, "no match"}, {"port 65535", 65535, "match"},
        {"port 1-65535", 65535, "match"},  {"port 1-65535", 0, "no match"},
    };
    for (const auto& [clause, port, expected] : table) {
        CAPTURE(clause, port);
        CHECK(match(clause, facts("example.com", port)) == expected);
    }
}

TEST_CASE("command matches any listed command", "[policy]") {
    auto f = facts("example.com");
    CHECK(match("command connect", f) == "match");
    CHECK(match("command bind,udp", f) == "no match");
    f.command = request_command::udp;
    CHECK(match("command bind,udp", f) == "match");
    f.command = request_command::bind;
    CHECK(match("command connect,bind", f) == "match");
    CHECK(match("command udp", f) == "no match");
}

TEST_CASE("clauses are ANDed", "[policy]") {
    auto f = facts("10.1.2.3", 443);
    f.user = "alice";
    CHECK(match("user alice to 10.0.0.0/8 port 443", f) == "match");
    CHECK(match("user alice to 10.0.0.0/8 port 80", f) == "no match");
    CHECK(match("user bob to 10.0.0.0/8 port 443", f) == "no match");
    CHECK(match("user alice to 11.0.0.0/8 port 443", f) == "no match");
    // A clause that fails for sure wins over one that cannot be decided yet.
    CHECK(match("user bob to 10.0.0.0/8", facts("example.com")) == "no match");
}

TEST_CASE("the first matching rule wins, the default action ends the list", "[policy]") {
    const policy p(rules({"deny to 169.254.0.0/16", "allow from 192.0.2.0/24 port 443",
                          "deny port 443", "allow"}),
                   action::deny);
    CHECK(outcome(p, facts("169.254.169.254")) == "deny by rule 1");
    CHECK(outcome(p, facts("8.8.8.8")) == "allow by rule 2");
    auto other_client = facts("8.8.8.8");
    other_client.client = ip("198.51.100.1");
    CHECK(outcome(p, other_client) == "deny by rule 3");
    other_client.port = 80;
    CHECK(outcome(p, other_client) == "allow by rule 4");

    CHECK(outcome(policy({}, action::allow), facts("8.8.8.8")) == "allow by default");
    CHECK(outcome(policy({}, action::deny), facts("8.8.8.8")) == "deny by default");
    const policy users_only(rules({"allow user alice"}), action::deny);
    CHECK(outcome(users_only, facts("8.8.8.8")) == "deny by default");
}

TEST_CASE("an IP rule before the deciding rule leaves a name undetermined", "[policy]") {
    const policy p(rules({"allow to 10.0.0.0/8", "deny"}), action::deny);
    CHECK(outcome(p, facts("intranet.example")) == "undetermined at rule 1");
    CHECK(outcome(p, facts("10.1.2.3")) == "allow by rule 1");
    CHECK(outcome(p, facts("8.8.8.8")) == "deny by rule 2");
    auto resolved = facts("intranet.example");
    resolved.destination_address = ip("10.1.2.3");
    CHECK(outcome(p, resolved) == "allow by rule 1");
    resolved.destination_address = ip("8.8.8.8");
    CHECK(outcome(p, resolved) == "deny by rule 2");

    // The same with the default action in place of the last rule.
    CHECK(outcome(policy(rules({"allow to 10.0.0.0/8"}), action::deny), facts("a.example")) ==
          "undetermined at rule 1");
    // A name rule decides before any address is known.
    const policy names(rules({"allow to .corp.example", "deny to 10.0.0.0/8", "allow"}),
                       action::deny);
    CHECK(outcome(names, facts("db.corp.example")) == "allow by rule 1");
    CHECK(outcome(names, facts("example.com")) == "undetermined at rule 2");
}

TEST_CASE("undecided rules with the deciding action do not hold the answer back", "[policy]") {
    const policy denies(rules({"deny to 10.0.0.0/8", "deny to .evil.example", "allow"}),
                        action::deny);
    CHECK(outcome(denies, facts("x.evil.example")) == "deny by rule 2");
    CHECK(outcome(denies, facts("good.example")) == "undetermined at rule 1");
    const policy presets(private_destination_rules(true), action::deny);
    CHECK(outcome(presets, facts("example.com")) == "deny by default");
    const policy open(private_destination_rules(false), action::allow);
    CHECK(outcome(open, facts("example.com")) == "undetermined at rule 1");
}

TEST_CASE("without a destination (UDP ASSOCIATE), to and port clauses are undetermined",
          "[policy]") {
    auto udp = facts("0.0.0.0", 0);
    udp.destination_address.reset();
    udp.destination_unknown = true;
    udp.command = request_command::udp;
    // Each datagram's destination decides later: the association is not refused.
    const policy dns(rules({"allow to any port 53", "deny"}), action::deny);
    CHECK(outcome(dns, udp) == "undetermined at rule 1");
    CHECK(outcome(policy(rules({"allow to .corp.example", "deny"}), action::deny), udp) ==
          "undetermined at rule 1");
    CHECK(outcome(policy(rules({"deny to 10.0.0.0/8", "allow"}), action::deny), udp) ==
          "undetermined at rule 1");
    // What needs no destination still decides at once.
    CHECK(outcome(policy(rules({"deny command udp", "allow"}), action::allow), udp) ==
          "deny by rule 1");
    CHECK(outcome(policy(rules({"allow to any", "deny"}), action::deny), udp) == "allow by rule 1");
    CHECK(outcome(policy(rules({"deny from 192.0.2.0/24 port 53", "allow"}), action::deny), udp) ==
          "undetermined at rule 1");
    CHECK(outcome(policy(rules({"deny from 198.51.100.0/24", "allow"}), action::deny), udp) ==
          "allow by rule 2");
    // A datagram's destination, once known, decides.
    auto datagram = facts("192.0.2.53", 53);
    datagram.command = request_command::udp;
    CHECK(outcome(dns, datagram) == "allow by rule 1");
    datagram.port = 54;
    CHECK(outcome(dns, datagram) == "deny by rule 2");
}

TEST_CASE("decisions name the rule for the log", "[policy]") {
    const policy p(rules({"allow user alice", "deny to 169.254.0.0/16", "allow"}), action::deny);
    const auto d = p.check(facts("169.254.169.254"));
    CHECK(d.result == verdict::deny);
    CHECK(d.rule_number == 2);
    CHECK(d.rule_text == "deny to 169.254.0.0/16");
    CHECK(describe(d) == "rule 2 'deny to 169.254.0.0/16'");
    CHECK(describe(policy({}, action::deny).check(facts("x.example"))) ==
          "the default action 'deny'");
    CHECK(describe(policy({}, action::allow).check(facts("x.example"))) ==
          "the default action 'allow'");
    const policy preset(private_destination_rules(false), action::allow);
    CHECK(describe(preset.check(facts("::1"))) == "rule 2 'deny to ::1' (preset)");
}
