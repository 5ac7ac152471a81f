// Valid handshakes: each input is fed whole, split at every offset (and every
// pair of offsets when short), and one byte at a time; every way must give the
// same event log, the same reply bytes and the same leftover.
#include "test_support.hpp"

#include <catch2/catch.hpp>

using namespace weir::proto;
using namespace weir::proto::test;

namespace {

const server_handshake::options defaults{};
const server_handshake::options password{.require_password = true};

} // namespace

TEST_CASE("SOCKS4 CONNECT without USERID", "[socks4][split]") {
    check_every_split(defaults, hex("04 01 00 50 7f 00 00 01 00"),
                      {"request socks4 connect 127.0.0.1:80 userid="});
}

TEST_CASE("SOCKS4 CONNECT with USERID and pipelined data", "[socks4][split]") {
    const auto wire = hex("04 01 1f 90 c0 00 02 01") + ascii("fred") + hex("00") + ascii("GET /");
    check_every_split(
        defaults, wire,
        {"request socks4 connect 192.0.2.1:8080 userid=fred", "remaining 47 45 54 20 2F"});
}

TEST_CASE("SOCKS4 BIND is passed on as a request", "[socks4][split]") {
    check_every_split(defaults, hex("04 02 00 15 c0 00 02 01 00"),
                      {"request socks4 bind 192.0.2.1:21 userid="});
}

TEST_CASE("SOCKS4a CONNECT to a hostname", "[socks4a][split]") {
    const auto wire = hex("04 01 01 bb 00 00 00 01") + ascii("fred") + hex("00") +
                      ascii("example.com") + hex("00 16 03 01");
    check_every_split(defaults, wire,
                      {"request socks4 connect example.com:443 userid=fred", "remaining 16 03 01"});
}

TEST_CASE("SOCKS4a with an empty USERID", "[socks4a][split]") {
    const auto wire = hex("04 01 00 50 00 00 00 ff 00") + ascii("a.b") + hex("00");
    check_every_split(defaults, wire, {"request socks4 connect a.b:80 userid="});
}

TEST_CASE("SOCKS4 to 0.0.0.0 is plain SOCKS4, not SOCKS4a", "[socks4][split]") {
    check_every_split(defaults, hex("04 01 00 50 00 00 00 00 00 61 62"),
                      {"request socks4 connect 0.0.0.0:80 userid=", "remaining 61 62"});
}

TEST_CASE("SOCKS5 no-auth CONNECT to IPv4", "[socks5][split]") {
    check_every_split(defaults, hex("05 01 00  05 01 00 01 7f 00 00 01 00 50"),
                      {"out 05 00", "request socks5 connect 127.0.0.1:80"});
}

TEST_CASE("SOCKS5 no-auth CONNECT to IPv6", "[socks5][split]") {
    const auto wire = hex("05 02 02 00  05 01 00 04 20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 01"
                          "01 bb  aa");
    check_every_split(defaults, wire,
                      {"out 05 00", "request socks5 connect [2001:db8::1]:443", "remaining AA"});
}

TEST_CASE("SOCKS5 CONNECT to a domain parses at every split point", "[socks5][split]") {
    const auto wire = hex("05 01 00  05 01 00 03 0b") + ascii("example.com") + hex("01 bb  16 03");
    check_every_split(defaults, wire,
                      {"out 05 00", "request socks5 connect example.com:443", "remaining 16 03"});
}

TEST_CASE("SOCKS5 BIND and UDP ASSOCIATE are passed on as requests", "[socks5][split]") {
    check_every_split(defaults, hex("05 01 00  05 02 00 01 00 00 00 00 00 00"),
                      {"out 05 00", "request socks5 bind 0.0.0.0:0"});
    check_every_split(defaults, hex("05 01 00  05 03 00 01 0a 00 00 01 13 88"),
                      {"out 05 00", "request socks5 udp_associate 10.0.0.1:5000"});
}

TEST_CASE("SOCKS5 picks the method it wants among several", "[socks5][split]") {
    const auto wire = hex("05 03 80 02 00  05 01 00 01 01 02 03 04 00 50");
    check_every_split(defaults, wire, {"out 05 00", "request socks5 connect 1.2.3.4:80"});
    const auto creds = hex("01 01") + ascii("u") + hex("01") + ascii("p");
    check_every_split(
        password, hex("05 03 80 02 00") + creds + hex("05 01 00 01 01 02 03 04 00 50"),
        {"out 05 02", "credentials u:p", "out 01 00", "request socks5 connect 1.2.3.4:80"});
}

TEST_CASE("SOCKS5 with username and password", "[socks5][auth][split]") {
    const auto wire = hex("05 01 02") + hex("01 05") + ascii("alice") + hex("06") +
                      ascii("secret") + hex("05 01 00 03 0b") + ascii("example.com") + hex("00 50");
    check_every_split(password, wire,
                      {"out 05 02", "credentials alice:secret", "out 01 00",
                       "request socks5 connect example.com:80"});
}

TEST_CASE("SOCKS5 pipelined greeting, credentials, request and data", "[socks5][auth][split]") {
    const auto wire = hex("05 01 02") + hex("01 05") + ascii("alice") + hex("06") +
                      ascii("secret") + hex("05 01 00 01 c0 00 02 07 00 50") +
                      ascii("GET / HTTP/1.0\r\n\r\n");
    check_every_split(password, wire,
                      {"out 05 02", "credentials alice:secret", "out 01 00",
                       "request socks5 connect 192.0.2.7:80",
                       "remaining " + show(ascii("GET / HTTP/1.0\r\n\r\n"))});
}

TEST_CASE("SOCKS5 rejected credentials queue 01 01 then fail", "[socks5][auth][split]") {
    const auto wire = hex("05 01 02  01 01 61 01 62  05 01 00 01 7f 00 00 01 00 50");
    check_every_split(
        password, wire,
        {"out 05 02", "credentials a:b", "out 01 01", "error auth_failed reply (none)"}, false);
}

TEST_CASE("An incomplete handshake asks for more data", "[socks5][split]") {
    const auto wire = hex("05 01 00  05 01 00 03 0b") + ascii("exam");
    check_every_split(defaults, wire, {"out 05 00", "need_data"});
    check_every_split(defaults, hex("04 01 00 50 01 02 03 04") + ascii("fred"), {"need_data"});
    check_every_split(password, hex("05 01 02 01 05") + ascii("ali"), {"out 05 02", "need_data"});
}
