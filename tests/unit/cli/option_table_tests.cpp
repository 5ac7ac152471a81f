#include "cli/config_file.hpp"
#include "cli/option_table.hpp"

#include <set>
#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

using namespace weir::cli;

namespace {

const option_decl& decl(std::string_view name) {
    for (const auto& d : option_table())
        if (d.name == name) return d;
    FAIL("no option " << name);
    throw;
}

// What apply() says about this value of option `name`; "ok" when it takes it.
std::string refusal(std::string_view name, const std::string& value) {
    auto o = default_options();
    try {
        decl(name).apply(o, {value});
    } catch (const option_error& e) {
        return e.what();
    }
    return "ok";
}

} // namespace

TEST_CASE("options: each name once, each in a --help group, each shown", "[options]") {
    std::set<std::string_view> names;
    const auto& groups = option_groups();
    for (const auto& d : option_table()) {
        CAPTURE(d.name);
        CHECK(names.insert(d.name).second);
        CHECK(std::find(groups.begin(), groups.end(), d.group) != groups.end());
        CHECK(d.value_name.empty() == (d.kind == option_kind::flag));
        CHECK(d.apply != nullptr);
        CHECK(d.show != nullptr);
    }
    CHECK(names.count("drain-timeout") == 1);
    CHECK(names.count("log-format") == 1);
    CHECK(names.count("metrics") == 1);
}

TEST_CASE("options: the variable is WEIR_ and the name in capitals", "[options]") {
    CHECK(env_name("listen") == "WEIR_LISTEN");
    CHECK(env_name("idle-timeout") == "WEIR_IDLE_TIMEOUT");
    CHECK(env_name("max-handshakes-per-client") == "WEIR_MAX_HANDSHAKES_PER_CLIENT");
    CHECK(env_name("config") == "WEIR_CONFIG");
}

TEST_CASE("options: every default, written to a config file, reads back the same", "[options]") {
    const auto defaults = default_options();
    for (const auto& d : option_table()) {
        const auto shown = d.show(defaults);
        if (shown.empty() || shown == "[]") continue; // not set
        CAPTURE(d.name, shown);
        const auto entries = parse_config(std::string(d.name) + " = " + shown + "\n");
        REQUIRE(entries.size() == 1);
        auto o = default_options();
        d.apply(o, entries[0].values);
        CHECK(d.show(o) == shown);
    }
}

TEST_CASE("options: values out of range or of the wrong kind say what is accepted", "[options]") {
    const std::pair<std::pair<std::string_view, std::string>, std::string> cases[] = {
        {{"idle-timeout", "1 hour"},
         "\"1 hour\" is not a duration (a number of seconds, or with a unit: 500ms, 90s, 15m, "
         "1h)"},
        {{"idle-timeout", "9000h"}, "\"9000h\" is out of range (0s to 8760h)"},
        {{"handshake-timeout", "0"}, "\"0\" is out of range (1ms to 24h)"},
        {{"connect-timeout", "25h"}, "\"25h\" is out of range (1ms to 24h)"},
        {{"login-block-time", "500ms"}, "\"500ms\" is out of range (1s to 8760h)"},
        {{"drain-timeout", "2d"},
         "\"2d\" is not a duration (a number of seconds, or with a unit: 500ms, 90s, 15m, 1h)"},
        {{"pipe-size", "1k"},
         "\"1k\" is not a size (a number of bytes, or with a unit: 64K, 1M, 1G (binary: KiB, "
         "MiB, GiB))"},
        {{"pipe-size", "4095"}, "\"4095\" is out of range (4KiB to 64MiB)"},
        {{"pipe-size", "65M"}, "\"65M\" is out of range (4KiB to 64MiB)"},
        {{"threads", "many"}, "\"many\" is not a whole number"},
        {{"threads", "-1"}, "\"-1\" is not a whole number"},
        {{"threads", "1025"}, "\"1025\" is out of range (0 to 1024)"},
        {{"max-sessions", "99999999999999999999"},
         "\"99999999999999999999\" is out of range (0 to 18446744073709551615)"},
        {{"login-block-after", "0"}, "\"0\" is out of range (1 to 1000000)"},
        {{"relay", "teleport"}, "\"teleport\" is not one of splice, copy"},
        {{"log-level", "trace"}, "\"trace\" is not one of debug, info, warn, error"},
        {{"log-format", "xml"}, "\"xml\" is not one of text, json"},
        {{"deny-private-ranges", "maybe"}, "\"maybe\" is not true or false"},
        {{"listen", "http://127.0.0.1:1"},
         "'http://127.0.0.1:1': unknown scheme 'http' (expected socks4, socks5 or socks)"},
        {{"metrics", "127.0.0.1"},
         "\"127.0.0.1\" is not HOST:PORT (no port; HOST an IPv4 address, [IPv6] or localhost)"},
        {{"metrics", "127.0.0.1:65536"},
         "\"127.0.0.1:65536\" is not HOST:PORT (the port must be 0 to 65535; HOST an IPv4 "
         "address, [IPv6] or localhost)"},
        {{"metrics", "::1:9100"},
         "\"::1:9100\" is not HOST:PORT (bad host; HOST an IPv4 address, [IPv6] or localhost)"},
        {{"metrics", "example.com:9100"},
         "\"example.com:9100\" is not HOST:PORT (bad host; HOST an IPv4 address, [IPv6] or "
         "localhost)"},
        {{"users", ""}, "the value is empty"},
        {{"idle-timeout", "0"}, "ok"},
        {{"pipe-budget", "0"}, "ok"},
        {{"metrics", "[::1]:9100"}, "ok"},
        {{"metrics", "localhost:0"}, "ok"},
        {{"metrics", "0.0.0.0:9100"}, "ok"}, // refused later, without --metrics-allow-remote
    };
    for (const auto& [option, expected] : cases) {
        CAPTURE(option.first, option.second);
        CHECK(refusal(option.first, option.second) == expected);
    }
}

TEST_CASE("options: values land in the fields the server reads", "[options]") {
    using namespace std::chrono_literals;
    auto o = default_options();
    decl("idle-timeout").apply(o, {"15m"});
    decl("drain-timeout").apply(o, {"1.5"});
    decl("login-block-time").apply(o, {"2m"});
    decl("pipe-size").apply(o, {"64K"});
    decl("pipe-budget").apply(o, {"1GiB"});
    decl("log-format").apply(o, {"json"});
    decl("no-login-throttle").apply(o, {"true"});
    decl("rule").apply(o, {"deny to 10.0.0.0/8", "allow"});
    CHECK(o.config.relay.idle_timeout == 15min);
    CHECK(o.config.drain_timeout == 1500ms);
    CHECK(o.config.throttle.block_for == 120s);
    CHECK(o.config.relay.pipe_size == 65536);
    CHECK(o.config.relay.pipe_budget == std::size_t{1} << 30);
    CHECK(o.log_format == weir::log::format::json);
    CHECK_FALSE(o.config.throttle_logins);
    CHECK(o.access.rules == std::vector<std::string>{"deny to 10.0.0.0/8", "allow"});
}

TEST_CASE("options: metrics off loopback needs --metrics-allow-remote", "[options]") {
    auto o = default_options();
    CHECK_NOTHROW(check_combination(o));
    for (const std::string local : {"127.0.0.1:9100", "[::1]:9100", "localhost:9100"}) {
        o.metrics = local;
        CHECK_NOTHROW(check_combination(o));
    }
    o.metrics = "0.0.0.0:9100";
    CHECK_THROWS_WITH(check_combination(o),
                      "--metrics 0.0.0.0:9100 would serve metrics to the network; give "
                      "--metrics-allow-remote to mean it");
    o.metrics = "[::]:9100";
    CHECK_THROWS_AS(check_combination(o), option_error);
    o.metrics_allow_remote = true;
    CHECK_NOTHROW(check_combination(o));
}
