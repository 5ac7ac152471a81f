// Malformed handshakes: each must give one exact error and one exact reply,
// however the bytes are split.
#include "test_support.hpp"

#include <random>

#include <catch2/catch.hpp>

using namespace weir::proto;
using namespace weir::proto::test;

namespace {

const server_handshake::options defaults{};
const server_handshake::options password{.require_password = true};
const server_handshake::options socks4_only{.socks5 = false};
const server_handshake::options socks5_only{.socks4 = false};
const server_handshake::options small_cap{.max_socks4_field = 4};

const auto socks4_reject = hex("00 5B 00 00 00 00 00 00");
// Written out in full: a change to the text must change this test too.
const auto http_400 = ascii("HTTP/1.1 400 Bad Request\r\n"
                            "Content-Type: text/plain\r\n"
                            "Content-Length: 159\r\n"
                            "Connection: close\r\n"
                            "\r\n"
                            "This is a SOCKS proxy (weir), not an HTTP proxy.\n"
                            "Point your client at it as socks5h://HOST:PORT (curl: -x "
                            "socks5h://HOST:PORT or --socks5-hostname HOST:PORT).\n");
const auto socks5_greeting = hex("05 01 00");

bytes socks5_error(std::uint8_t code) {
    return hex("05") + bytes{code} + hex("00 01 00 00 00 00 00 00");
}

struct malformed {
    const char* name;
    server_handshake::options opts;
    bytes wire;
    errc error;
    bytes reply;
    std::vector<std::string> before = {}; // what the log shows before the error
};

const std::vector<std::string> greeted{"out 05 00"};
const std::vector<std::string> asked_password{"out 05 02"};
const std::vector<std::string> authenticated{"out 05 02", "credentials a:b", "out 01 00"};

const malformed cases[] = {
    // first byte
    {"TLS ClientHello", defaults, hex("16 03 01 02 00"), errc::bad_version, {}},
    {"HTTP request", defaults, ascii("GET / HTTP/1.1\r\n"), errc::http_request, http_400},
    {"G, then not a method", defaults, ascii("GX"), errc::bad_version, {}},
    {"GE, then not a method", defaults, ascii("GEX / HTTP/1.1\r\n"), errc::bad_version, {}},
    {"GET without its space", defaults, ascii("GET/"), errc::bad_version, {}},
    {"lowercase method", defaults, ascii("get / HTTP/1.1\r\n"), errc::bad_version, {}},
    {"a letter no method starts with", defaults, ascii("X"), errc::bad_version, {}},
    {"zero byte", defaults, hex("00"), errc::bad_version, {}},
    {"SOCKS4 disabled", socks5_only, hex("04 01 00 50 01 02 03 04 00"), errc::protocol_not_enabled,
     socks4_reject},
    {"SOCKS5 disabled", socks4_only, socks5_greeting, errc::protocol_not_enabled, hex("05 FF")},
    // SOCKS4 / SOCKS4a
    {"SOCKS4 command 0", defaults, hex("04 00 00 50 01 02 03 04 00"), errc::command_not_supported,
     socks4_reject},
    {"SOCKS4 command 3", defaults, hex("04 03"), errc::command_not_supported, socks4_reject},
    {"SOCKS4 USERID over the cap", small_cap,
     hex("04 01 00 50 01 02 03 04") + ascii("fredx") + hex("00"), errc::field_too_long,
     socks4_reject},
    {"SOCKS4 USERID over the cap, no NUL", small_cap,
     hex("04 01 00 50 01 02 03 04") + ascii("fredx"), errc::field_too_long, socks4_reject},
    {"SOCKS4a hostname over the cap, no NUL", small_cap,
     hex("04 01 00 50 00 00 00 01 00") + ascii("a.b.c"), errc::field_too_long, socks4_reject},
    {"SOCKS4a empty hostname", defaults, hex("04 01 00 50 00 00 00 01 00 00"), errc::empty_domain,
     socks4_reject},
    // SOCKS5 greeting
    {"NMETHODS 0", defaults, hex("05 00"), errc::no_methods, hex("05 FF")},
    {"no-auth listener, password offered", defaults, hex("05 01 02"), errc::no_acceptable_method,
     hex("05 FF")},
    {"password listener, no-auth offered", password, hex("05 02 00 01"), errc::no_acceptable_method,
     hex("05 FF")},
    // RFC 1929
    {"auth VER 5", password, hex("05 01 02 05 01 61 01 62"), errc::bad_auth_version, hex("01 01"),
     asked_password},
    {"ULEN 0", password, hex("05 01 02 01 00 01 62"), errc::empty_username, hex("01 01"),
     asked_password},
    {"PLEN 0", password, hex("05 01 02 01 01 61 00"), errc::empty_password, hex("01 01"),
     asked_password},
    // SOCKS5 request
    {"request VER 4", defaults, socks5_greeting + hex("04 01 00 01 01 02 03 04 00 50"),
     errc::bad_version, socks5_error(0x01), greeted},
    {"command 0", defaults, socks5_greeting + hex("05 00 00 01 01 02 03 04 00 50"),
     errc::command_not_supported, socks5_error(0x07), greeted},
    {"command 4", defaults, socks5_greeting + hex("05 04 00 01 01 02 03 04 00 50"),
     errc::command_not_supported, socks5_error(0x07), greeted},
    {"RSV 1", defaults, socks5_greeting + hex("05 01 01 01 01 02 03 04 00 50"), errc::bad_reserved,
     socks5_error(0x01), greeted},
    {"ATYP 0", defaults, socks5_greeting + hex("05 01 00 00"), errc::address_type_not_supported,
     socks5_error(0x08), greeted},
    {"ATYP 2", defaults, socks5_greeting + hex("05 01 00 02 01 02 03 04 00 50"),
     errc::address_type_not_supported, socks5_error(0x08), greeted},
    {"ATYP 5", defaults, socks5_greeting + hex("05 01 00 05"), errc::address_type_not_supported,
     socks5_error(0x08), greeted},
    {"domain length 0", defaults, socks5_greeting + hex("05 01 00 03 00 00 50"), errc::empty_domain,
     socks5_error(0x01), greeted},
    {"domain with a NUL", defaults, socks5_greeting + hex("05 01 00 03 04 61 00 62 63 00 50"),
     errc::bad_domain, socks5_error(0x01), greeted},
    {"domain with a NUL, not all arrived", defaults, socks5_greeting + hex("05 01 00 03 20 00"),
     errc::bad_domain, socks5_error(0x01), greeted},
    {"request after auth: RSV 1", password,
     hex("05 01 02 01 01 61 01 62 05 01 01 01 01 02 03 04 00 50"), errc::bad_reserved,
     socks5_error(0x01), authenticated},
};

std::vector<std::string> expected_log(const malformed& m) {
    auto log = m.before;
    const auto reply = m.reply.empty() ? std::string("(none)") : show(m.reply);
    log.push_back("error " + errc_name(m.error) + " reply " + reply);
    return log;
}

} // namespace

TEST_CASE("Malformed handshakes give the exact error and reply",
          "[socks4][socks5][errors][split]") {
    for (const auto& m : cases) {
        SECTION(m.name) {
            check_every_split(m.opts, m.wire, expected_log(m));
        }
    }
}

TEST_CASE("An HTTP request line gets a plain-text 400, however it is split", "[http][errors]") {
    const std::vector<std::string> refused{"error http_request reply " + show(http_400)};
    const auto get = ascii("GET http://x/ HTTP/1.1\r\nHost: x\r\nUser-Agent: curl/7.88.1\r\n"
                           "Accept: */*\r\nProxy-Connection: Keep-Alive\r\n\r\n");
    const auto connect = ascii("CONNECT example.com:443 HTTP/1.1\r\n");
    const server_handshake::options listeners[] = {defaults, password, socks4_only, socks5_only};
    for (const auto& opts : listeners) {
        check_every_split(opts, get, refused);
        check_every_split(opts, connect, refused);
        for (const char* method :
             {"GET ", "POST ", "PUT ", "HEAD ", "DELETE ", "OPTIONS ", "PATCH ", "TRACE "}) {
            CAPTURE(method);
            check_every_split(opts, ascii(method) + ascii("/ HTTP/1.0\r\n\r\n"), refused);
        }
    }
}

TEST_CASE("The HTTP 400 is decided on the method and its space, no later", "[http][errors]") {
    // Up to the space the codec waits; the space decides, whatever follows.
    const auto connect = std::string("CONNECT ");
    for (std::size_t n = 1; n < connect.size(); ++n) {
        CAPTURE(n);
        CHECK(drive(defaults, {ascii(connect.substr(0, n))}) ==
              std::vector<std::string>{"need_data"});
    }
    CHECK(drive(defaults, {ascii("PUT ")}) ==
          std::vector<std::string>{"error http_request reply " + show(http_400)});
    // "P" may start POST, PUT or PATCH: only a byte that fits none of them refuses.
    CHECK(drive(defaults, {ascii("PO")}) == std::vector<std::string>{"need_data"});
    CHECK(drive(defaults, {ascii("PA")}) == std::vector<std::string>{"need_data"});
    CHECK(drive(defaults, {ascii("PX")}) ==
          std::vector<std::string>{"error bad_version reply (none)"});

    // The reply is a well-formed response whose Content-Length is its body's.
    server_handshake hs{defaults};
    hs.receive(ascii("DELETE /secret?token=abc HTTP/1.1\r\nHost: evil.example\r\n\r\n"));
    const auto e = hs.next_event();
    REQUIRE(std::holds_alternative<error_event>(e));
    const auto& err = std::get<error_event>(e);
    CHECK(err.error == errc::http_request);
    CHECK(err.error.message() == "an HTTP request on a SOCKS port");
    CHECK(static_cast<int>(to_reply_code(err.error)) ==
          static_cast<int>(reply_code::general_failure));
    CHECK(err.reply == http_400); // nothing the client sent comes back
    const std::string text(err.reply.begin(), err.reply.end());
    const auto head_end = text.find("\r\n\r\n");
    REQUIRE(head_end != std::string::npos);
    CHECK(text.size() - head_end - 4 == 159);
    CHECK_FALSE(hs.protocol().has_value());
    CHECK(hs.take_output().empty());
    CHECK(hs.take_remaining().empty());
}

TEST_CASE("An error_event carries the errc and reply bytes, and repeats", "[socks5][errors]") {
    server_handshake hs{defaults};
    hs.receive(hex("05 01 00 05 01 00 03 00 00 50"));
    for (int i = 0; i < 2; ++i) {
        const auto e = hs.next_event();
        REQUIRE(std::holds_alternative<error_event>(e));
        const auto& err = std::get<error_event>(e);
        CHECK(err.error == errc::empty_domain);
        CHECK(err.error.category().name() == std::string("weir"));
        CHECK(err.reply == hex("05 01 00 01 00 00 00 00 00 00"));
    }
    CHECK(hs.take_output() == hex("05 00"));
    CHECK(hs.take_remaining().empty());
}

TEST_CASE("SOCKS4 fields at the cap are accepted, one more byte is rejected", "[socks4][limits]") {
    const auto head = hex("04 01 00 50 01 02 03 04");
    const auto head4a = hex("04 01 00 50 00 00 00 01");
    const auto cap = std::string(255, 'u');
    check_every_split(defaults, head + ascii(cap) + hex("00"),
                      {"request socks4 connect 1.2.3.4:80 userid=" + cap});
    check_every_split(defaults, head + ascii(cap) + ascii("u"),
                      {"error field_too_long reply " + show(socks4_reject)});
    check_every_split(defaults, head + ascii(cap), {"need_data"});

    const auto host = std::string(255, 'h');
    check_every_split(defaults, head4a + ascii(cap) + hex("00") + ascii(host) + hex("00"),
                      {"request socks4 connect " + host + ":80 userid=" + cap});
    check_every_split(defaults, head4a + hex("00") + ascii(host) + ascii("h"),
                      {"error field_too_long reply " + show(socks4_reject)});
    check_every_split(defaults, head4a + hex("00") + ascii(host), {"need_data"});

    check_every_split(small_cap, head4a + ascii("fred") + hex("00") + ascii("a.bc") + hex("00"),
                      {"request socks4 connect a.bc:80 userid=fred"});
}

TEST_CASE("SOCKS5 accepts 255-byte domains, usernames and passwords", "[socks5][limits]") {
    const auto name = std::string(255, 'n');
    check_every_split(defaults, hex("05 01 00 05 01 00 03 ff") + ascii(name) + hex("01 bb"),
                      {"out 05 00", "request socks5 connect " + name + ":443"});

    const auto user = std::string(255, 'u');
    const auto pass = std::string(255, 'p');
    const auto wire = hex("05 01 02 01 ff") + ascii(user) + hex("ff") + ascii(pass) +
                      hex("05 01 00 01 01 02 03 04 00 50");
    check_every_split(password, wire,
                      {"out 05 02", "credentials " + user + ":" + pass, "out 01 00",
                       "request socks5 connect 1.2.3.4:80"});
}

TEST_CASE("No request is parsed before auth_result(), even when buffered", "[socks5][auth]") {
    server_handshake hs{password};
    hs.receive(hex("05 01 02 01 01 61 01 62  05 01 00 01 7f 00 00 01 00 50  aa bb"));
    const auto e = hs.next_event();
    REQUIRE(std::holds_alternative<credentials_event>(e));
    CHECK(hs.take_output() == hex("05 02"));
    CHECK_FALSE(hs.has_remaining()); // not before the request is out
    CHECK(hs.take_remaining().empty());
    CHECK_THROWS_AS(hs.next_event(), std::logic_error);
    CHECK(hs.take_output().empty());

    hs.auth_result(true);
    CHECK(hs.take_output() == hex("01 00"));
    const auto r = hs.next_event();
    REQUIRE(std::holds_alternative<request_event>(r));
    CHECK(to_string(std::get<request_event>(r).destination) == "127.0.0.1:80");
    CHECK(hs.take_remaining() == hex("aa bb"));
    CHECK_THROWS_AS(hs.auth_result(true), std::logic_error);
}

TEST_CASE("auth_result(false) queues 01 01 and then yields auth_failed", "[socks5][auth]") {
    server_handshake hs{password};
    hs.receive(hex("05 01 02 01 01 61 01 62  05 01 00 01 7f 00 00 01 00 50"));
    REQUIRE(std::holds_alternative<credentials_event>(hs.next_event()));
    CHECK(hs.take_output() == hex("05 02"));
    hs.auth_result(false);
    CHECK(hs.take_output() == hex("01 01"));
    for (int i = 0; i < 2; ++i) {
        const auto e = hs.next_event();
        REQUIRE(std::holds_alternative<error_event>(e));
        CHECK(std::get<error_event>(e).error == errc::auth_failed);
        CHECK(std::get<error_event>(e).reply.empty());
    }
    CHECK(hs.take_output().empty());
    CHECK(hs.take_remaining().empty());
}

TEST_CASE("auth_result() without credentials is a logic error", "[socks5][auth]") {
    server_handshake hs{password};
    CHECK_THROWS_AS(hs.auth_result(true), std::logic_error);
    hs.receive(hex("05 01 02"));
    CHECK(std::holds_alternative<need_data>(hs.next_event()));
    CHECK_THROWS_AS(hs.auth_result(true), std::logic_error);
}

TEST_CASE("Bytes received after the request come out of take_remaining()", "[socks5]") {
    server_handshake hs{defaults};
    hs.receive(hex("05 01 00 05 01 00 01 7f 00 00 01 00 50 aa"));
    REQUIRE(std::holds_alternative<request_event>(hs.next_event()));
    hs.receive(hex("bb"));
    REQUIRE(std::holds_alternative<request_event>(hs.next_event()));
    CHECK(hs.has_remaining());
    CHECK(hs.take_remaining() == hex("aa bb"));
    CHECK_FALSE(hs.has_remaining());
    hs.receive(hex("cc dd"));
    CHECK(hs.has_remaining());
    CHECK(hs.take_remaining() == hex("cc dd"));
    CHECK_FALSE(hs.has_remaining());
    CHECK(hs.take_remaining().empty());
    CHECK(hs.take_output() == hex("05 00"));
}

TEST_CASE("Mutated handshakes give the same log however they are split",
          "[socks4][socks5][split]") {
    const bytes seeds[] = {
        hex("05 01 02 01 05") + ascii("alice") + hex("06") + ascii("secret") +
            hex("05 01 00 03 0b") + ascii("example.com") + hex("00 50 aa"),
        hex("05 02 00 02 05 01 00 04 20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 01 01 bb"),
        hex("04 01 01 bb 00 00 00 01") + ascii("fred") + hex("00") + ascii("a.example") +
            hex("00 16"),
    };
    std::mt19937 rng(1928); // fixed seed: the same inputs on every run
    for (int round = 0; round < 300; ++round) {
        bytes wire = seeds[rng() % 3];
        for (int flips = 0; flips < 3; ++flips) {
            wire[rng() % wire.size()] = static_cast<std::uint8_t>(rng());
        }
        const auto opts = rng() % 2 ? defaults : password;
        const auto whole = drive(opts, {wire});
        CAPTURE(round, show(wire), whole);
        for (std::size_t at = 0; at <= wire.size(); ++at) {
            CAPTURE(at);
            REQUIRE(drive(opts, split_at(wire, at)) == whole);
        }
        REQUIRE(drive(opts, one_byte_each(wire)) == whole);
    }
}
