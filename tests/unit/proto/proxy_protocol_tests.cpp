// The PROXY protocol header (haproxy's doc/proxy-protocol.txt), v1 and v2:
// every split point, one byte at a time, the malformed inputs with the error
// each gives, the longest legal v1 line; the bytes after the header kept.
#include "socks/proto/proxy_protocol.hpp"
#include "test_support.hpp"

#include <string>
#include <vector>

#include <catch2/catch.hpp>

using namespace weir::proto;
using namespace weir::proto::test;

namespace {

// What the decoder says after the chunks, one line:
//   "header v1 192.0.2.7:4242 -> 198.51.100.1:1080 size 52 remaining 05 01 00"
//   "local v2 size 16 remaining (none)"
//   "error <message>"            "need_data"
std::string drive(const std::vector<bytes>& chunks) {
    proxy_header_decoder d;
    proxy_event ev = proxy_need_data{};
    for (const auto& chunk : chunks) {
        d.receive(chunk);
        ev = d.next_event();
    }
    if (chunks.empty()) ev = d.next_event();
    if (const auto* e = std::get_if<proxy_error_event>(&ev)) {
        CHECK(d.remaining().empty());
        return "error " + e->error.message();
    }
    const auto* h = std::get_if<proxy_header_event>(&ev);
    if (h == nullptr) return "need_data";
    const bytes rest(d.remaining().begin(), d.remaining().end());
    const std::string tail =
        " size " + std::to_string(h->size) + " remaining " + (rest.empty() ? "(none)" : show(rest));
    if (h->is_local()) return "local v" + std::to_string(h->version) + tail;
    return "header v" + std::to_string(h->version) + " " + to_string(*h->source) + " -> " +
           to_string(*h->destination) + tail;
}

// `wire` gives `expected` whole, split at every offset, and one byte at a time.
void check_every_split(const bytes& wire, const std::string& expected) {
    CHECK(drive({wire}) == expected);
    for (std::size_t at = 0; at <= wire.size(); ++at) {
        CAPTURE(at);
        CHECK(drive(split_at(wire, at)) == expected);
    }
    CHECK(drive(one_byte_each(wire)) == expected);
}

// A SOCKS5 greeting and CONNECT that follow the header in the same segment.
const auto socks = hex("05 01 00  05 01 00 01 7F 00 00 01 00 50");
const std::string socks_text = "05 01 00 05 01 00 01 7F 00 00 01 00 50";

const auto v2_sig = hex("0D 0A 0D 0A 00 0D 0A 51 55 49 54 0A");

} // namespace

TEST_CASE("PROXY v1 TCP4 then SOCKS5 bytes, at every split point", "[proxy][split]") {
    const auto line = ascii("PROXY TCP4 192.0.2.7 198.51.100.1 4242 1080\r\n");
    check_every_split(line + socks, "header v1 192.0.2.7:4242 -> 198.51.100.1:1080 size 45 "
                                    "remaining " +
                                        socks_text);
    check_every_split(line, "header v1 192.0.2.7:4242 -> 198.51.100.1:1080 size 45 "
                            "remaining (none)");
}

TEST_CASE("PROXY v1 TCP6 then SOCKS bytes, at every split point", "[proxy][split]") {
    const auto line = ascii("PROXY TCP6 2001:db8::7 ::ffff:192.0.2.1 0 65535\r\n");
    check_every_split(line + socks, "header v1 [2001:db8::7]:0 -> [::ffff:192.0.2.1]:65535 "
                                    "size 49 remaining " +
                                        socks_text);
}

TEST_CASE("PROXY v1 UNKNOWN is the real peer, with or without the rest", "[proxy][split]") {
    check_every_split(ascii("PROXY UNKNOWN\r\n") + socks,
                      "local v1 size 15 remaining " + socks_text);
    check_every_split(ascii("PROXY UNKNOWN whatever is here\r\n"),
                      "local v1 size 32 remaining (none)");
}

TEST_CASE("the longest legal PROXY v1 lines", "[proxy][limits]") {
    // The spec's worst case, 107 bytes: UNKNOWN with two full IPv6 addresses.
    const std::string full6 = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
    const auto worst = ascii("PROXY UNKNOWN " + full6 + " " + full6 + " 65535 65535\r\n");
    REQUIRE(worst.size() == 107);
    check_every_split(worst + hex("05"), "local v1 size 107 remaining 05");
    // 108 bytes: refused, at the 107th byte (a CR there cannot end the line in time).
    const auto over = ascii("PROXY UNKNOWN " + full6 + " " + full6 + " 65535 655350\r\n");
    CHECK(drive({over}) == "error PROXY v1 line longer than 107 bytes");
    CHECK(drive({bytes(over.begin(), over.begin() + 107)}) ==
          "error PROXY v1 line longer than 107 bytes");
    CHECK(drive({bytes(over.begin(), over.begin() + 106)}) == "need_data");
    // The longest TCP6 line, 104 bytes.
    const auto tcp6 = ascii("PROXY TCP6 " + full6 + " " + full6 + " 65535 65535\r\n");
    REQUIRE(tcp6.size() == 104);
    check_every_split(tcp6, "header v1 [ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535 -> "
                            "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535 size 104 "
                            "remaining (none)");
}

TEST_CASE("PROXY v2 PROXY over IPv4 then SOCKS bytes, at every split point", "[proxy][split]") {
    const auto header = v2_sig + hex("21 11 00 0C  C0 00 02 07  C6 33 64 01  10 92  04 38");
    check_every_split(header + socks, "header v2 192.0.2.7:4242 -> 198.51.100.1:1080 size 28 "
                                      "remaining " +
                                          socks_text);
}

TEST_CASE("PROXY v2 PROXY over IPv6 with TLVs, at every split point", "[proxy][split]") {
    // Addresses, then two TLVs (ALPN "h2", a NOOP of 3 bytes): skipped.
    const auto header = v2_sig + hex("21 21 00 2F") +
                        hex("20 01 0D B8 00 00 00 00 00 00 00 00 00 00 00 07") +
                        hex("20 01 0D B8 00 00 00 00 00 00 00 00 00 00 00 01") +
                        hex("10 92 04 38") + hex("01 00 02 68 32") + hex("04 00 03 00 00 00");
    check_every_split(header + socks, "header v2 [2001:db8::7]:4242 -> [2001:db8::1]:1080 "
                                      "size 63 remaining " +
                                          socks_text);
}

TEST_CASE("PROXY v2 IPv4 with a TLV, and nothing after", "[proxy][split]") {
    const auto header =
        v2_sig + hex("21 11 00 11  C0 00 02 07  C6 33 64 01  10 92  04 38  02 00 02 61 62");
    check_every_split(header, "header v2 192.0.2.7:4242 -> 198.51.100.1:1080 size 33 "
                              "remaining (none)");
}

TEST_CASE("PROXY v2 LOCAL is the real peer, its addresses and TLVs skipped", "[proxy][split]") {
    check_every_split(v2_sig + hex("20 00 00 00") + socks,
                      "local v2 size 16 remaining " + socks_text);
    check_every_split(v2_sig + hex("20 11 00 0F  7F 00 00 01  7F 00 00 01  00 01 00 02  04 00 00") +
                          socks,
                      "local v2 size 31 remaining " + socks_text);
    // PROXY with family UNSPEC: the spec lets the receiver use the real peer.
    check_every_split(v2_sig + hex("21 00 00 00"), "local v2 size 16 remaining (none)");
}

TEST_CASE("bytes after a header are handed on, also when they come later", "[proxy]") {
    proxy_header_decoder d;
    d.receive(ascii("PROXY UNKNOWN\r\n"));
    REQUIRE(std::holds_alternative<proxy_header_event>(d.next_event()));
    CHECK(d.remaining().empty());
    d.receive(hex("05 01"));
    CHECK(show(bytes(d.remaining().begin(), d.remaining().end())) == "05 01");
    CHECK(std::holds_alternative<proxy_header_event>(d.next_event())); // the same event again
}

TEST_CASE("malformed PROXY headers and the error each gives", "[proxy][errors]") {
    struct row {
        bytes wire;
        std::string error;
    };
    const std::string v1_too_long = "PROXY v1 line longer than 107 bytes";
    const std::vector<row> table = {
        // Neither version, decided by the first byte that differs.
        {hex("05 01 00"), "no PROXY protocol header"},
        {hex("04 01 00 50"), "no PROXY protocol header"},
        {ascii("GET / HTTP/1.1\r\n"), "no PROXY protocol header"},
        {ascii("PROXX"), "no PROXY protocol header"},
        {ascii("proxy TCP4"), "no PROXY protocol header"},
        {ascii("PROXY\r\n"), "no PROXY protocol header"},
        {hex("0D 0A 0D 0A 00 0D 0A 51 55 49 54 0B"), "no PROXY protocol header"},
        {hex("0D 0A 0A"), "no PROXY protocol header"},
        // v1
        {ascii("PROXY TCP4 192.0.2.7 198.51.100.1 4242 1080\n"),
         "PROXY v1 line does not end in CRLF"},
        {ascii("PROXY TCP4 192.0.2.7 198.51.100.1 4242 1080\rX"),
         "PROXY v1 line does not end in CRLF"},
        {ascii("PROXY TCP4 192.0.2.7\t198.51.100.1 4242 1080\r\n"),
         "PROXY v1 line holds a byte outside printable ASCII"},
        {ascii("PROXY UNKNOWN ") + hex("C3 A9"),
         "PROXY v1 line holds a byte outside printable ASCII"},
        {ascii("PROXY ") + repeat(101, 'A'), v1_too_long},
        {ascii("PROXY TCP5 192.0.2.7 198.51.100.1 4242 1080\r\n"),
         "PROXY v1 protocol is not TCP4, TCP6 or UNKNOWN"},
        {ascii("PROXY tcp4 192.0.2.7 198.51.100.1 4242 1080\r\n"),
         "PROXY v1 protocol is not TCP4, TCP6 or UNKNOWN"},
        {ascii("PROXY UNKNOWNX\r\n"), "PROXY v1 protocol is not TCP4, TCP6 or UNKNOWN"},
        {ascii("PROXY \r\n"), "PROXY v1 protocol is not TCP4, TCP6 or UNKNOWN"},
        {ascii("PROXY  TCP4 192.0.2.7 198.51.100.1 4242 1080\r\n"),
         "PROXY v1 protocol is not TCP4, TCP6 or UNKNOWN"},
        {ascii("PROXY TCP4\r\n"), "PROXY v1 line does not have 4 single-spaced fields"},
        {ascii("PROXY TCP4 192.0.2.7 198.51.100.1 4242\r\n"),
         "PROXY v1 line does not have 4 single-spaced fields"},
        {ascii("PROXY TCP4 192.0.2.7  198.51.100.1 4242 1080\r\n"),
         "PROXY v1 line does not have 4 single-spaced fields"},
        {ascii("PROXY TCP4 192.0.2.7 198.51.100.1 4242 1080 \r\n"),
         "PROXY v1 line does not have 4 single-spaced fields"},
        {ascii("PROXY TCP4 192.0.2.7 198.51.100.1 4242 1080 9\r\n"),
         "PROXY v1 line does not have 4 single-spaced fields"},
        {ascii("PROXY TCP4 2001:db8::7 198.51.100.1 4242 1080\r\n"),
         "PROXY v1 address is not of the named family"},
        {ascii("PROXY TCP6 192.0.2.7 2001:db8::1 4242 1080\r\n"),
         "PROXY v1 address is not of the named family"},
        {ascii("PROXY TCP4 192.0.2.07 198.51.100.1 4242 1080\r\n"),
         "PROXY v1 address is not of the named family"},
        {ascii("PROXY TCP4 192.0.2.256 198.51.100.1 4242 1080\r\n"),
         "PROXY v1 address is not of the named family"},
        {ascii("PROXY TCP6 [2001:db8::7] 2001:db8::1 4242 1080\r\n"),
         "PROXY v1 address is not of the named family"},
        {ascii("PROXY TCP4 192.0.2.7 198.51.100.1 04242 1080\r\n"),
         "PROXY v1 port is not a decimal 0 to 65535"},
        {ascii("PROXY TCP4 192.0.2.7 198.51.100.1 4242 65536\r\n"),
         "PROXY v1 port is not a decimal 0 to 65535"},
        {ascii("PROXY TCP4 192.0.2.7 198.51.100.1 +4242 1080\r\n"),
         "PROXY v1 port is not a decimal 0 to 65535"},
        {ascii("PROXY TCP4 192.0.2.7 198.51.100.1 00 1080\r\n"),
         "PROXY v1 port is not a decimal 0 to 65535"},
        // v2, each fixed byte judged as soon as it is there
        {v2_sig + hex("11"), "PROXY v2 version is not 2"},
        {v2_sig + hex("31 11 00 0C"), "PROXY v2 version is not 2"},
        {v2_sig + hex("22"), "PROXY v2 command is neither LOCAL nor PROXY"},
        {v2_sig + hex("2F 11 00 0C"), "PROXY v2 command is neither LOCAL nor PROXY"},
        {v2_sig + hex("21 12"), "PROXY v2 address family is not TCP over IPv4 or IPv6"},
        {v2_sig + hex("21 22"), "PROXY v2 address family is not TCP over IPv4 or IPv6"},
        {v2_sig + hex("21 31"), "PROXY v2 address family is not TCP over IPv4 or IPv6"},
        {v2_sig + hex("21 41"), "PROXY v2 address family is not TCP over IPv4 or IPv6"},
        {v2_sig + hex("21 11 03 F1"), "PROXY v2 header longer than 1024 bytes"},
        {v2_sig + hex("20 00 FF FF"), "PROXY v2 header longer than 1024 bytes"},
        {v2_sig + hex("21 11 00 0B"), "PROXY v2 length too short for its addresses"},
        {v2_sig + hex("21 21 00 0C"), "PROXY v2 length too short for its addresses"},
    };
    for (const auto& r : table) {
        CAPTURE(show(r.wire));
        CHECK(drive({r.wire}) == "error " + r.error);
        CHECK(drive(one_byte_each(r.wire)) == "error " + r.error);
    }
}

TEST_CASE("the longest legal PROXY v2 header, and one byte over", "[proxy][limits]") {
    // LEN 1008: 12 address bytes and a 993-byte TLV (3 + 993), 1024 bytes in all.
    const auto header = v2_sig +
                        hex("21 11 03 F0  C0 00 02 07  C6 33 64 01  10 92  04 38  04 03 E1") +
                        repeat(993, 'x');
    REQUIRE(header.size() == proxy_v2_max_size);
    CHECK(drive({header + socks}) == "header v2 192.0.2.7:4242 -> 198.51.100.1:1080 size 1024 "
                                     "remaining " +
                                         socks_text);
    CHECK(drive(one_byte_each(header)) == "header v2 192.0.2.7:4242 -> 198.51.100.1:1080 "
                                          "size 1024 remaining (none)");
    CHECK(drive({bytes(header.begin(), header.end() - 1)}) == "need_data");
}

TEST_CASE("a prefix of either version waits for more", "[proxy]") {
    CHECK(drive({}) == "need_data");
    CHECK(drive({ascii("PROX")}) == "need_data");
    CHECK(drive({ascii("PROXY TCP4 192.0.2.7")}) == "need_data");
    CHECK(drive({ascii("PROXY TCP4 192.0.2.7 198.51.100.1 4242 1080\r")}) == "need_data");
    CHECK(drive({hex("0D 0A 0D 0A 00")}) == "need_data");
    CHECK(drive({v2_sig + hex("21 11 00")}) == "need_data");
    CHECK(drive({v2_sig + hex("21 11 00 0C C0 00 02 07")}) == "need_data");
}

TEST_CASE("a failed decoder stays failed and keeps nothing", "[proxy]") {
    proxy_header_decoder d;
    d.receive(hex("05 01 00"));
    const auto first = d.next_event();
    REQUIRE(std::holds_alternative<proxy_error_event>(first));
    d.receive(ascii("PROXY UNKNOWN\r\n"));
    CHECK(d.next_event() == first);
    CHECK(d.remaining().empty());
}
