#include "socks/server/listen_url.hpp"

#include <string>
#include <utility>

#include <catch2/catch.hpp>

using namespace weir::server;

TEST_CASE("listen URLs parse with the documented defaults", "[listen_url]") {
    CHECK(parse_listen_url("socks5://127.0.0.1:1088") ==
          listen_spec{scheme::socks5, "127.0.0.1", 1088, auth_mode::password});
    CHECK(parse_listen_url("socks://127.0.0.1:1080") ==
          listen_spec{scheme::socks, "127.0.0.1", 1080, auth_mode::none});
    CHECK(parse_listen_url("socks4://0.0.0.0:0") ==
          listen_spec{scheme::socks4, "0.0.0.0", 0, auth_mode::none});
    CHECK(parse_listen_url("socks5://[::1]:9?auth=none") ==
          listen_spec{scheme::socks5, "::1", 9, auth_mode::none});
    CHECK(parse_listen_url("socks5://[::]:65535?auth=password") ==
          listen_spec{scheme::socks5, "::", 65535, auth_mode::password});
    CHECK(parse_listen_url("socks://localhost:1080").host == "127.0.0.1");
}

TEST_CASE("proxy_protocol is off unless asked for, alone or with auth", "[listen_url]") {
    CHECK_FALSE(parse_listen_url("socks5://127.0.0.1:1088").proxy_protocol);
    CHECK_FALSE(parse_listen_url("socks5://127.0.0.1:1088?proxy_protocol=false").proxy_protocol);
    const auto alone = parse_listen_url("socks5://127.0.0.1:1088?proxy_protocol=true");
    CHECK(alone.proxy_protocol);
    CHECK(alone.auth == auth_mode::password); // socks5's default stays
    const auto both = parse_listen_url("socks5://127.0.0.1:0?proxy_protocol=true&auth=none");
    CHECK(both.proxy_protocol);
    CHECK(both.auth == auth_mode::none);
    CHECK(parse_listen_url("socks://[::1]:1080?auth=none&proxy_protocol=true") ==
          parse_listen_url("socks://[::1]:1080?proxy_protocol=true&auth=none"));
    // Rules name a listener by its URL without the query.
    CHECK(to_url(both) == "socks5://127.0.0.1:0");
    for (const auto& d : default_listeners())
        CHECK_FALSE(d.proxy_protocol);
}

TEST_CASE("listen URLs that are wrong say why", "[listen_url]") {
    const std::pair<std::string, std::string> cases[] = {
        {"127.0.0.1:1080", "expected SCHEME://HOST:PORT"},
        {"http://127.0.0.1:1080", "unknown scheme 'http'"},
        {"socks5://127.0.0.1", "expected HOST:PORT"},
        {"socks5://127.0.0.1:65536", "bad port '65536'"},
        {"socks5://127.0.0.1:", "bad port ''"},
        {"socks5://127.0.0.1:8x", "bad port '8x'"},
        {"socks5://example.com:1080", "bad host 'example.com'"},
        {"socks5://::1:1080", "bad host"},
        {"socks5://[::1:1080", "expected [IPv6]:PORT"},
        {"socks5://[127.0.0.1]:1080", "bad IPv6 address"},
        {"socks5://127.0.0.1:1080?auth=maybe", "unknown query 'auth=maybe'"},
        {"socks4://127.0.0.1:1080?auth=password", "auth=password needs scheme socks5"},
        {"socks://127.0.0.1:1080?auth=password", "auth=password needs scheme socks5"},
        {"socks5://127.0.0.1:1080?proxy_protocol=yes", "unknown query 'proxy_protocol=yes'"},
        {"socks5://127.0.0.1:1080?proxy_protocol", "unknown query 'proxy_protocol'"},
        {"socks5://127.0.0.1:1080?auth=none&auth=none", "unknown query 'auth=none'"},
        {"socks5://127.0.0.1:1080?proxy_protocol=true&proxy_protocol=true",
         "unknown query 'proxy_protocol=true'"},
        {"socks5://127.0.0.1:1080?auth=none&", "unknown query ''"},
        {"socks5://127.0.0.1:1080?auth=none;proxy_protocol=true",
         "unknown query 'auth=none;proxy_protocol=true'"},
    };
    for (const auto& [url, message] : cases) {
        CAPTURE(url);
        try {
            parse_listen_url(url);
            FAIL("accepted");
        } catch (const listen_url_error& e) {
            CHECK_THAT(e.what(), Catch::Contains(message) && Catch::Contains(url));
        }
    }
}

TEST_CASE("listen URLs print back with brackets for IPv6", "[listen_url]") {
    CHECK(to_url(parse_listen_url("socks5://[::1]:1088")) == "socks5://[::1]:1088");
    CHECK(to_url(parse_listen_url("socks://127.0.0.1:1080")) == "socks://127.0.0.1:1080");
    const auto defaults = default_listeners();
    REQUIRE(defaults.size() == 4);
    CHECK(to_url(defaults[0]) == "socks://127.0.0.1:1080");
    CHECK(defaults[0].auth == auth_mode::none);
    CHECK(to_url(defaults[1]) == "socks://[::1]:1080");
    CHECK(defaults[1].auth == auth_mode::none);
    CHECK(defaults[1].optional);
    CHECK(to_url(defaults[2]) == "socks5://0.0.0.0:1088");
    CHECK_FALSE(defaults[2].optional);
    CHECK(to_url(defaults[3]) == "socks5://[::]:1088");
    CHECK(defaults[3].auth == auth_mode::password);
    CHECK(defaults[3].optional);
}

TEST_CASE("localhost stands for both loopback addresses", "[listen_url]") {
    const auto both = parse_listen_urls("socks5://localhost:1080?auth=none");
    REQUIRE(both.size() == 2);
    CHECK(to_url(both[0]) == "socks5://127.0.0.1:1080");
    CHECK(to_url(both[1]) == "socks5://[::1]:1080");
    for (const auto& spec : both) {
        CHECK(spec.auth == auth_mode::none);
        CHECK(spec.localhost);
    }
    CHECK_FALSE(both[0].optional); // 127.0.0.1 must bind
    CHECK(both[1].optional);       // ::1 may be missing (no IPv6)
    const auto one = parse_listen_urls("socks://127.0.0.1:1080");
    REQUIRE(one.size() == 1);
    CHECK_FALSE(one[0].localhost);
    CHECK(parse_listen_urls("socks://[::1]:1080").size() == 1);
    CHECK_THROWS_AS(parse_listen_urls("socks://localhost"), listen_url_error);
}
