// Replies, the error-to-reply-code mapping, address formatting and the UDP header.
#include "socks/proto/error.hpp"
#include "socks/proto/socks4.hpp"
#include "socks/proto/socks5.hpp"
#include "test_support.hpp"

#include <cerrno>
#include <stdexcept>

#include <catch2/catch.hpp>

using namespace weir::proto;
using namespace weir::proto::test;

namespace {

const address v4{ipv4_bytes{192, 0, 2, 1}, 1080};
const address v6{ipv6_bytes{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 443};
const address named{std::string("proxy.example"), 8080};

server_handshake after_request(const bytes& wire) {
    server_handshake hs{{}};
    hs.receive(wire);
    REQUIRE(std::holds_alternative<request_event>(hs.next_event()));
    return hs;
}

} // namespace

TEST_CASE("SOCKS4 replies", "[socks4][reply]") {
    const auto hs = after_request(hex("04 01 00 50 01 02 03 04 00"));
    CHECK(hs.protocol() == version::socks4);
    CHECK(hs.reply(reply_code::succeeded, v4) == hex("00 5A 04 38 C0 00 02 01"));
    CHECK(hs.reply(reply_code::connection_refused, v4) == hex("00 5B 04 38 C0 00 02 01"));
    CHECK(hs.reply(reply_code::general_failure, address{}) == hex("00 5B 00 00 00 00 00 00"));
    CHECK(hs.reply(reply_code::succeeded, v6) == hex("00 5A 00 00 00 00 00 00"));
    CHECK(hs.reply(reply_code::succeeded, named) == hex("00 5A 00 00 00 00 00 00"));
    CHECK(socks4::encode_reply(false, v4) == hex("00 5B 04 38 C0 00 02 01"));
}

TEST_CASE("SOCKS5 replies", "[socks5][reply]") {
    const auto hs = after_request(hex("05 01 00 05 01 00 01 01 02 03 04 00 50"));
    CHECK(hs.protocol() == version::socks5);
    CHECK(hs.reply(reply_code::succeeded, v4) == hex("05 00 00 01 C0 00 02 01 04 38"));
    CHECK(hs.reply(reply_code::connection_refused, address{}) ==
          hex("05 05 00 01 00 00 00 00 00 00"));
    CHECK(hs.reply(reply_code::succeeded, v6) ==
          hex("05 00 00 04 20 01 0D B8 00 00 00 00 00 00 00 00 00 00 00 01 01 BB"));
    CHECK(hs.reply(reply_code::succeeded, named) ==
          hex("05 00 00 03 0D") + ascii("proxy.example") + hex("1F 90"));
    const address longest{std::string(255, 'x'), 1};
    CHECK(hs.reply(reply_code::succeeded, longest) ==
          hex("05 00 00 03 FF") + repeat(255, 'x') + hex("00 01"));
    CHECK_THROWS_AS(hs.reply(reply_code::succeeded, address{std::string(256, 'x'), 1}),
                    std::length_error);
}

TEST_CASE("reply() before the protocol is known is a logic error", "[reply]") {
    const server_handshake hs{{}};
    CHECK_FALSE(hs.protocol().has_value());
    CHECK_THROWS_AS(hs.reply(reply_code::succeeded, v4), std::logic_error);
}

TEST_CASE("to_reply_code maps every error to one SOCKS5 code", "[errors]") {
    struct row {
        std::error_code ec;
        reply_code code;
    };
    const row rows[] = {
        {{}, reply_code::succeeded},
        {errc::host_not_found, reply_code::host_unreachable},
        {errc::connect_timeout, reply_code::host_unreachable},
        {errc::resolver_busy, reply_code::general_failure},
        {errc::not_allowed, reply_code::not_allowed},
        {errc::not_a_host_name, reply_code::not_allowed},
        {errc::verifier_busy, reply_code::general_failure},
        {errc::command_not_supported, reply_code::command_not_supported},
        {errc::address_type_not_supported, reply_code::address_type_not_supported},
        {errc::bad_version, reply_code::general_failure},
        {errc::bad_reserved, reply_code::general_failure},
        {errc::empty_domain, reply_code::general_failure},
        {errc::bad_domain, reply_code::general_failure},
        {errc::auth_failed, reply_code::general_failure},
        {std::make_error_code(std::errc::connection_refused), reply_code::connection_refused},
        {std::make_error_code(std::errc::network_unreachable), reply_code::network_unreachable},
        {std::make_error_code(std::errc::host_unreachable), reply_code::host_unreachable},
        {std::make_error_code(std::errc::timed_out), reply_code::host_unreachable},
        {std::make_error_code(std::errc::permission_denied), reply_code::not_allowed},
        {std::make_error_code(std::errc::operation_not_permitted), reply_code::not_allowed},
        {std::make_error_code(std::errc::broken_pipe), reply_code::general_failure},
        {{ECONNREFUSED, std::system_category()}, reply_code::connection_refused},
        {{ENETUNREACH, std::system_category()}, reply_code::network_unreachable},
        {{EHOSTUNREACH, std::system_category()}, reply_code::host_unreachable},
        {{ETIMEDOUT, std::system_category()}, reply_code::host_unreachable},
        {{EACCES, std::system_category()}, reply_code::not_allowed},
        {{EPERM, std::system_category()}, reply_code::not_allowed},
        {{ECONNRESET, std::system_category()}, reply_code::general_failure},
        {{ECONNREFUSED, std::iostream_category()}, reply_code::general_failure},
    };
    for (const auto& r : rows) {
        CAPTURE(r.ec.category().name(), r.ec.value(), r.ec.message());
        CHECK(static_cast<int>(to_reply_code(r.ec)) == static_cast<int>(r.code));
    }
}

TEST_CASE("The weir error category names every errc", "[errors]") {
    CHECK(error_category().name() == std::string("weir"));
    for (int v = static_cast<int>(errc::bad_version); v <= static_cast<int>(errc::http_request);
         ++v) {
        CAPTURE(v);
        const std::error_code ec = static_cast<errc>(v);
        CHECK(&ec.category() == &error_category());
        CHECK(errc_name(ec) != "?");
        CHECK_FALSE(ec.message().empty());
        CHECK(ec.message() != "unknown weir error");
    }
    CHECK(std::error_code(99, error_category()).message() == "unknown weir error");
    CHECK(make_error_code(errc::auth_failed).message() == "authentication failed");
}

TEST_CASE("Addresses format for logs", "[address]") {
    const auto v6s = [](std::initializer_list<std::uint8_t> b, std::uint16_t port) {
        ipv6_bytes ip{};
        std::copy(b.begin(), b.end(), ip.begin());
        return to_string(address{ip, port});
    };
    CHECK(to_string(v4) == "192.0.2.1:1080");
    CHECK(to_string(address{}) == "0.0.0.0:0");
    CHECK(to_string(address{ipv4_bytes{255, 255, 255, 255}, 65535}) == "255.255.255.255:65535");
    CHECK(to_string(v6) == "[2001:db8::1]:443");
    CHECK(v6s({}, 0) == "[::]:0");
    CHECK(v6s({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 1) == "[::1]:1");
    CHECK(v6s({0xfe, 0x80}, 1) == "[fe80::]:1");
    CHECK(v6s({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1}, 1) ==
          "[2001:db8::1:0:0:1]:1");
    CHECK(v6s({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1}, 1) ==
          "[2001:db8:0:1:1:1:1:1]:1");
    CHECK(v6s({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0}, 1) ==
          "[2001:db8:0:0:1::]:1");
    CHECK(v6s({0xAB, 0xCD, 0x0E, 0xF0, 0, 1, 0, 0x10, 0x01, 0, 0, 0, 0, 0, 0xff, 0xff}, 1) ==
          "[abcd:ef0:1:10:100::ffff]:1");
    CHECK(v6s({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1}, 80) ==
          "[::ffff:192.0.2.1]:80");
    CHECK(to_string(named) == "proxy.example:8080");
    CHECK(to_string(address{std::string("a\nb\\c\x7f\xff d", 9), 1}) ==
          "a\\x0ab\\x5cc\\x7f\\xff d:1");
    CHECK(host_to_string(v4) == "192.0.2.1");
    CHECK(host_to_string(v6) == "2001:db8::1");
    CHECK(host_to_string(address{std::string("x\ty"), 1}) == "x\\x09y");
}

TEST_CASE("A domain in a log keeps spaces, escapes control bytes, backslash, non-ASCII",
          "[address]") {
    const auto domain = [](std::string_view name) {
        return host_to_string(address{std::string(name), 1});
    };
    CHECK(domain(std::string_view("\x00\x01\x1f\x7f", 4)) == "\\x00\\x01\\x1f\\x7f");
    CHECK(domain("a b'\"~!") == "a b'\"~!");
    CHECK(domain("a\\x41") == "a\\x5cx41");
    CHECK(domain("caf\xc3\xa9\x80\xff") == "caf\\xc3\\xa9\\x80\\xff");
    CHECK(to_string(address{std::string("x y\t"), 80}) == "x y\\x09:80");
}

TEST_CASE("Decoders report bytes used and stop at the message's end", "[socks4][socks5]") {
    std::error_code ec;
    request_event r;
    CHECK(socks4::decode_request(hex("04 01 00 50 01 02 03 04 00 ff"), 255, r, ec) == 9);
    CHECK(socks5::decode_request(hex("05 01 00 01 01 02 03 04 00 50 ff"), r, ec) == 10);
    std::span<const std::uint8_t> methods;
    const auto greeting = hex("05 02 00 02 05");
    CHECK(socks5::decode_greeting(greeting, methods, ec) == 4);
    CHECK(bytes(methods.begin(), methods.end()) == hex("00 02"));
    CHECK(socks5::choose_method(methods, true) == 0x02);
    CHECK(socks5::choose_method(methods, false) == 0x00);
    CHECK(socks5::choose_method(hex("01 03"), false) == 0xFF);
    CHECK_FALSE(ec);
    CHECK(socks4::decode_request(hex("05"), 255, r, ec) == 0);
    CHECK(ec == errc::bad_version);
}
