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
    REQUIRE(defaults.size() == 3);
    CHECK(to_url(defaults[0]) == "socks://127.0.0.1:1080");
    CHECK(defaults[0].auth == auth_mode::none);
    CHECK(to_url(defaults[1]) == "socks5://0.0.0.0:1088");
    CHECK(to_url(defaults[2]) == "socks5://[::]:1088");
    CHECK(defaults[2].auth == auth_mode::password);
}
