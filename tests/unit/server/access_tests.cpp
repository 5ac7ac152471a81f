#include "auth/ip.hpp"
#include "auth/policy.hpp"
#include "auth/rule.hpp"
#include "socks/server/access.hpp"
#include "socks/server/listen_url.hpp"

#include <vector>

#include <catch2/catch.hpp>

using namespace weir;
using namespace weir::server;

TEST_CASE("a listener without a password on a public address needs client rules", "[access]") {
    const std::vector<auth::rule> none;
    CHECK_NOTHROW(check_not_open_proxy(parse_listen_url("socks://127.0.0.2:1080"), none));
    CHECK_NOTHROW(check_not_open_proxy(parse_listen_url("socks5://[::1]:1080?auth=none"), none));
    CHECK_NOTHROW(check_not_open_proxy(parse_listen_url("socks5://0.0.0.0:1080"), none));
    CHECK_THROWS_WITH(check_not_open_proxy(parse_listen_url("socks://0.0.0.0:1080"), none),
                      Catch::Contains("open proxy") &&
                          Catch::Contains("--rule 'allow from 192.168.1.0/24'") &&
                          Catch::Contains("socks5://0.0.0.0:1080"));
    CHECK_THROWS_WITH(check_not_open_proxy(parse_listen_url("socks5://[::]:1080?auth=none"), none),
                      Catch::Contains("socks5://[::]:1080"));
    const auto open = parse_listen_url("socks://0.0.0.0:1080");
    // Rules that do not restrict clients do not count.
    CHECK_THROWS(check_not_open_proxy(open, {auth::parse_rule("allow from any")}));
    CHECK_THROWS(check_not_open_proxy(open, {auth::parse_rule("deny from 10.0.0.0/8")}));
    CHECK_THROWS(check_not_open_proxy(
        open, {auth::parse_rule("allow from 10.0.0.0/8 listener socks://0.0.0.0:9")}));
    CHECK_NOTHROW(check_not_open_proxy(open, {auth::parse_rule("allow from 10.0.0.0/8")}));
    CHECK_NOTHROW(check_not_open_proxy(
        open, {auth::parse_rule("allow from 10.0.0.0/8 listener socks://0.0.0.0:1080")}));
}

TEST_CASE("listener policies: presets off the loopback, default deny when open", "[access]") {
    access_config cfg;
    const auto rules = std::vector{auth::parse_rule("allow from 10.0.0.0/8")};
    auto facts = [](const char* client, const char* dest) {
        auth::request_facts f;
        f.client = *auth::ip_address::parse(client);
        f.destination_address = auth::ip_address::parse(dest);
        f.port = 80;
        return f;
    };
    const auto local = parse_listen_url("socks://127.0.0.1:1080");
    const auto local_policy = policy_for(local, to_url(local), {}, cfg);
    CHECK(local_policy.check(facts("127.0.0.1", "127.0.0.1")).result == auth::verdict::allow);

    const auto open = parse_listen_url("socks://0.0.0.0:1080");
    const auto open_policy = policy_for(open, to_url(open), rules, cfg);
    CHECK(open_policy.check(facts("10.1.1.1", "192.0.2.1")).result == auth::verdict::allow);
    CHECK(open_policy.check(facts("192.0.2.9", "192.0.2.1")).result == auth::verdict::deny);

    const auto pw = parse_listen_url("socks5://0.0.0.0:1088");
    const auto pw_policy = policy_for(pw, to_url(pw), {}, cfg);
    CHECK(pw_policy.check(facts("192.0.2.9", "192.0.2.1")).result == auth::verdict::allow);
    CHECK(pw_policy.check(facts("192.0.2.9", "127.0.0.1")).result == auth::verdict::deny);
    CHECK(pw_policy.check(facts("192.0.2.9", "169.254.169.254")).result == auth::verdict::deny);
    CHECK(pw_policy.check(facts("192.0.2.9", "10.0.0.1")).result == auth::verdict::allow);

    cfg.deny_private_everywhere = true;
    cfg.deny_private_ranges = true;
    const auto strict = policy_for(local, to_url(local), {}, cfg);
    CHECK(strict.check(facts("127.0.0.1", "127.0.0.1")).result == auth::verdict::deny);
    CHECK(strict.check(facts("127.0.0.1", "10.0.0.1")).result == auth::verdict::deny);
}

TEST_CASE("a rule naming a localhost listener holds on both loopback addresses", "[access]") {
    const auto rules = std::vector{auth::parse_rule("deny listener socks://localhost:1080")};
    auth::request_facts f;
    f.client = *auth::ip_address::parse("127.0.0.1");
    f.destination_address = auth::ip_address::parse("192.0.2.1");
    f.port = 80;
    for (const auto& spec : parse_listen_urls("socks://localhost:1080")) {
        CAPTURE(to_url(spec));
        f.listener = to_url(spec);
        CHECK(policy_for(spec, to_url(spec), rules, access_config{}).check(f).result ==
              auth::verdict::deny);
    }
    const auto other = parse_listen_url("socks://127.0.0.1:1081");
    f.listener = to_url(other);
    CHECK(policy_for(other, to_url(other), rules, access_config{}).check(f).result ==
          auth::verdict::allow);
    // On a host without IPv6 only 127.0.0.1 is bound: the rule still names a listener.
    CHECK_NOTHROW(check_listeners(rules, {"socks://127.0.0.1:1080"}));
    CHECK_NOTHROW(check_listeners(rules, {"socks://[::1]:1080"}));
    CHECK_THROWS_WITH(check_listeners(rules, {"socks://127.0.0.1:1081"}),
                      Catch::Contains("no listener socks://127.0.0.1:1080") &&
                          Catch::Contains("the listeners are: socks://127.0.0.1:1081"));
}
