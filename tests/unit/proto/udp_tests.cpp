// The UDP ASSOCIATE datagram header (RFC 1928 section 7): decoded in place,
// built into a fixed buffer.
#include "socks/proto/socks5.hpp"
#include "socks/proto/udp.hpp"
#include "test_support.hpp"

#include <string>
#include <string_view>

#include <catch2/catch.hpp>

using namespace weir::proto;
using namespace weir::proto::test;

namespace {

const ipv4_bytes loopback4{127, 0, 0, 1};
const ipv6_bytes doc6{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};

// Headers of valid datagrams, with the destination each names.
const auto ipv4_header = hex("00 00 00 01 7F 00 00 01 00 35");
const auto ipv6_header = hex("00 00 00 04 20 01 0D B8 00 00 00 00 00 00 00 00 00 00 00 01 01 BB");
const auto domain_header = hex("00 00 00 03 0B") + ascii("example.com") + hex("01 BB");

const address ipv4_destination{loopback4, 53};
const address ipv6_destination{doc6, 443};
const address domain_destination{std::string("example.com"), 443};

const std::string longest_name(255, 'x');
const auto longest_header = hex("00 00 00 03 FF") + ascii(longest_name) + hex("FF FF");

bytes built(const auto& source, std::uint16_t port) {
    udp_header_buffer buffer{};
    const std::size_t n = encode_udp_header(buffer, source, port);
    return {buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(n)};
}

// A decoded datagram, or the error, for CHECKs that show what went wrong.
struct decoded {
    std::error_code ec;
    udp_datagram d;
};

decoded decode(std::span<const std::uint8_t> datagram) {
    decoded out;
    out.ec = decode_udp_datagram(datagram, out.d);
    return out;
}

// Checks that `datagram` decodes to `destination`, `frag`, and DATA as the
// bytes after `header_size`, in place.
void check_decodes(const bytes& datagram, std::size_t header_size, const address& destination,
                   std::uint8_t frag = 0) {
    const auto r = decode(datagram);
    REQUIRE_FALSE(r.ec);
    CHECK(to_address(r.d.destination) == destination);
    CHECK(r.d.frag == frag);
    CHECK(r.d.header_size == header_size);
    CHECK(r.d.data.data() == datagram.data() + header_size);
    CHECK(r.d.data.size() == datagram.size() - header_size);
}

} // namespace

TEST_CASE("UDP header sizes and the largest payload", "[udp]") {
    STATIC_REQUIRE(udp_header_fixed_size == 4);
    STATIC_REQUIRE(udp_header_ipv4_size == 4 + 4 + 2);
    STATIC_REQUIRE(udp_header_ipv6_size == 4 + 16 + 2);
    STATIC_REQUIRE(udp_header_max_size == 4 + 1 + 255 + 2);
    STATIC_REQUIRE(max_udp_payload == 65'535 - 20 - 8);
    STATIC_REQUIRE(std::tuple_size_v<udp_header_buffer> == 22);
    CHECK(ipv4_header.size() == udp_header_ipv4_size);
    CHECK(ipv6_header.size() == udp_header_ipv6_size);
    CHECK(longest_header.size() == udp_header_max_size);
    CHECK(make_error_code(errc::truncated_datagram).message() ==
          "UDP datagram shorter than its header");
    CHECK(errc_name(errc::truncated_datagram) == "truncated_datagram");
    CHECK(static_cast<int>(to_reply_code(errc::truncated_datagram)) ==
          static_cast<int>(reply_code::general_failure));
}

TEST_CASE("UDP reply headers are built byte for byte", "[udp]") {
    CHECK(built(loopback4, 53) == hex("00 00 00 01 7F 00 00 01 00 35"));
    CHECK(built(doc6, 443) == ipv6_header);
    CHECK(built(ipv4_bytes{}, 0) == hex("00 00 00 01 00 00 00 00 00 00"));
    CHECK(built(ipv4_bytes{255, 255, 255, 255}, 65535) == hex("00 00 00 01 FF FF FF FF FF FF"));
    CHECK(built(ipv6_bytes{}, 1) == hex("00 00 00 04") + bytes(16, 0) + hex("00 01"));

    // Only the header is written: the rest of the buffer is untouched.
    udp_header_buffer buffer;
    buffer.fill(0xEE);
    CHECK(encode_udp_header(buffer, loopback4, 53) == 10);
    CHECK(bytes(buffer.begin() + 10, buffer.end()) == bytes(12, 0xEE));
}

TEST_CASE("UDP datagrams round trip: IPv4, IPv6, domain", "[udp]") {
    const auto payload = ascii("payload");

    SECTION("IPv4") {
        CHECK(built(loopback4, 53) == ipv4_header);
        check_decodes(ipv4_header + payload, 10, ipv4_destination);
    }
    SECTION("IPv6") {
        CHECK(built(doc6, 443) == ipv6_header);
        check_decodes(ipv6_header + payload, 22, ipv6_destination);
    }
    SECTION("domain") {
        check_decodes(domain_header + payload, 18, domain_destination);
    }
    SECTION("domain of 255 bytes, port 65535") {
        check_decodes(longest_header + payload, 262, address{longest_name, 65535});
    }
    SECTION("decoded, rebuilt, decoded again") {
        for (const auto& header : {ipv4_header, ipv6_header}) {
            const auto first = decode(header + payload);
            REQUIRE_FALSE(first.ec);
            const auto rebuilt = std::visit(
                [&](const auto& host) -> bytes {
                    if constexpr (std::is_same_v<std::decay_t<decltype(host)>, std::string_view>) {
                        FAIL("an IP header decodes to an IP");
                        return {};
                    } else {
                        return built(host, first.d.destination.port);
                    }
                },
                first.d.destination.host);
            CHECK(rebuilt == header);
            const auto second = decode(rebuilt);
            REQUIRE_FALSE(second.ec);
            CHECK(second.d.destination == first.d.destination);
        }
    }
}

TEST_CASE("A UDP domain is a view into the datagram; to_address copies it", "[udp]") {
    auto datagram = domain_header + ascii("data");
    const auto r = decode(datagram);
    REQUIRE_FALSE(r.ec);
    REQUIRE(r.d.destination.is_domain());
    const auto name = std::get<std::string_view>(r.d.destination.host);
    CHECK(name == "example.com");
    CHECK(static_cast<const void*>(name.data()) == static_cast<const void*>(datagram.data() + 5));
    CHECK(r.d.destination.port == 443);

    const auto owned = to_address(r.d.destination);
    datagram[5] = 'E';
    CHECK(name == "Example.com");
    CHECK(owned == domain_destination);
    CHECK_FALSE(udp_destination{loopback4, 53}.is_domain());
}

TEST_CASE("UDP DATA is a view at the header's end, never a copy", "[udp]") {
    SECTION("a few bytes") {
        const auto datagram = ipv6_header + ascii("hello");
        const auto r = decode(datagram);
        REQUIRE_FALSE(r.ec);
        CHECK(r.d.data.data() == datagram.data() + 22);
        CHECK(r.d.data.size() == 5);
        CHECK(bytes(r.d.data.begin(), r.d.data.end()) == ascii("hello"));
    }
    SECTION("zero bytes is a valid datagram") {
        for (const auto& header : {ipv4_header, ipv6_header, domain_header, longest_header}) {
            const auto r = decode(header);
            REQUIRE_FALSE(r.ec);
            CHECK(r.d.header_size == header.size());
            CHECK(r.d.data.empty());
            CHECK(r.d.data.data() == header.data() + header.size());
        }
    }
    SECTION("the largest IPv4 payload, 65,507 bytes, passes whole") {
        bytes datagram = ipv4_header;
        datagram.resize(ipv4_header.size() + max_udp_payload, 0xAB);
        datagram.back() = 0xCD;
        const auto r = decode(datagram);
        REQUIRE_FALSE(r.ec);
        CHECK(r.d.data.size() == 65'507);
        CHECK(r.d.data.data() == datagram.data() + 10);
        CHECK(r.d.data.back() == 0xCD);
        CHECK(to_address(r.d.destination) == ipv4_destination);
    }
}

TEST_CASE("UDP FRAG is reported as sent, never judged", "[udp]") {
    for (unsigned frag = 0; frag <= 0xFF; ++frag) {
        CAPTURE(frag);
        auto datagram = ipv4_header + ascii("x");
        datagram[2] = static_cast<std::uint8_t>(frag);
        check_decodes(datagram, 10, ipv4_destination, static_cast<std::uint8_t>(frag));
    }
}

TEST_CASE("UDP RSV other than 0x0000 is rejected, every value", "[udp][errors]") {
    for (unsigned rsv = 1; rsv <= 0xFFFF; ++rsv) {
        auto datagram = ipv4_header;
        datagram[0] = static_cast<std::uint8_t>(rsv >> 8);
        datagram[1] = static_cast<std::uint8_t>(rsv & 0xFF);
        if (decode(datagram).ec != errc::bad_reserved) {
            CAPTURE(rsv);
            FAIL("RSV accepted or the wrong error");
        }
    }
}

TEST_CASE("UDP ATYP: only 1, 3 and 4", "[udp][errors]") {
    for (unsigned atyp = 0; atyp <= 0xFF; ++atyp) {
        CAPTURE(atyp);
        // Long enough for any address type: a domain of length 1, "\x01".
        const auto datagram = hex("00 00 00") + bytes{static_cast<std::uint8_t>(atyp)} +
                              hex("01 01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00");
        const auto r = decode(datagram);
        if (atyp == 1 || atyp == 3 || atyp == 4) {
            CHECK_FALSE(r.ec);
        } else {
            CHECK(r.ec == errc::address_type_not_supported);
        }
    }
}

namespace {

struct malformed {
    const char* name;
    bytes datagram;
    errc error;
};

const malformed cases[] = {
    // RSV FRAG ATYP
    {"empty", {}, errc::truncated_datagram},
    {"RSV only", hex("00 00"), errc::truncated_datagram},
    {"no ATYP", hex("00 00 00"), errc::truncated_datagram},
    {"no ATYP, RSV not zero", hex("01 00 00"), errc::truncated_datagram},
    {"RSV 00 01", hex("00 01 00 01 7F 00 00 01 00 35"), errc::bad_reserved},
    {"RSV 01 00", hex("01 00 00 01 7F 00 00 01 00 35"), errc::bad_reserved},
    {"RSV FF FF", hex("FF FF 00 01 7F 00 00 01 00 35"), errc::bad_reserved},
    {"RSV not zero and ATYP 7: RSV first", hex("00 01 00 07"), errc::bad_reserved},
    {"SOCKS5 request sent as a datagram", hex("05 01 00 01 7F 00 00 01 00 35"), errc::bad_reserved},
    {"ATYP 0", hex("00 00 00 00 7F 00 00 01 00 35"), errc::address_type_not_supported},
    {"ATYP 2", hex("00 00 00 02 7F 00 00 01 00 35"), errc::address_type_not_supported},
    {"ATYP 5, nothing after", hex("00 00 00 05"), errc::address_type_not_supported},
    {"ATYP FF", hex("00 00 00 FF 7F 00 00 01 00 35"), errc::address_type_not_supported},
    // IPv4
    {"IPv4 address missing", hex("00 00 00 01"), errc::truncated_datagram},
    {"IPv4 address cut", hex("00 00 00 01 7F 00 00"), errc::truncated_datagram},
    {"IPv4 port missing", hex("00 00 00 01 7F 00 00 01"), errc::truncated_datagram},
    {"IPv4 port cut", hex("00 00 00 01 7F 00 00 01 00"), errc::truncated_datagram},
    // IPv6
    {"IPv6 address cut", hex("00 00 00 04 20 01 0D B8 00 00 00 00 00 00 00 00 00 00 00"),
     errc::truncated_datagram},
    {"IPv6 port cut", hex("00 00 00 04") + bytes(16, 0) + hex("01"), errc::truncated_datagram},
    {"IPv6 header sized as IPv4", hex("00 00 00 04 7F 00 00 01 00 35"), errc::truncated_datagram},
    // domain
    {"domain length missing", hex("00 00 00 03"), errc::truncated_datagram},
    {"domain length 0", hex("00 00 00 03 00 00 35"), errc::empty_domain},
    {"domain length 0, nothing after", hex("00 00 00 03 00"), errc::empty_domain},
    {"domain cut", hex("00 00 00 03 0B") + ascii("example"), errc::truncated_datagram},
    {"domain longer than the datagram", hex("00 00 00 03 FF") + ascii("example.com") + hex("01 BB"),
     errc::truncated_datagram},
    {"domain longer than the datagram, its port's 00 read as the name",
     hex("00 00 00 03 FF") + ascii("example.com") + hex("00 35"), errc::bad_domain},
    {"domain port cut", hex("00 00 00 03 01 61 00"), errc::truncated_datagram},
    {"domain with a NUL", hex("00 00 00 03 03 61 00 62 00 35"), errc::bad_domain},
    {"domain of one NUL", hex("00 00 00 03 01 00 00 35"), errc::bad_domain},
    {"domain ending in a NUL", hex("00 00 00 03 02 61 00 00 35") + ascii("data"), errc::bad_domain},
    {"domain with a NUL, port missing", hex("00 00 00 03 02 61 00"), errc::bad_domain},
    {"domain with a NUL, then cut", hex("00 00 00 03 20 61 00 62"), errc::bad_domain},
};

} // namespace

TEST_CASE("Malformed UDP datagrams give the exact error", "[udp][errors]") {
    for (const auto& m : cases) {
        SECTION(m.name) {
            udp_datagram out;
            out.frag = 0x42;
            out.header_size = 777;
            const auto ec = decode_udp_datagram(m.datagram, out);
            CHECK(errc_name(ec) == errc_name(m.error));
            // `out` is left as it was.
            CHECK(out.frag == 0x42);
            CHECK(out.header_size == 777);
            CHECK(out.data.empty());
            CHECK(out.destination == udp_destination{});
        }
    }
}

TEST_CASE("Every UDP datagram cut short is an error or a shorter DATA, never more",
          "[udp][errors][split]") {
    const auto payload = ascii("hello");
    const bytes headers[] = {ipv4_header, ipv6_header, domain_header, longest_header};
    for (const auto& header : headers) {
        const auto whole = header + payload;
        const auto expected = decode(whole);
        REQUIRE_FALSE(expected.ec);
        for (std::size_t size = 0; size <= whole.size(); ++size) {
            CAPTURE(show(header), size);
            // Exactly `size` bytes on the heap: a read past them is an ASan error.
            const bytes cut(whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(size));
            const auto r = decode(cut);
            if (size < header.size()) {
                REQUIRE(r.ec == errc::truncated_datagram);
                continue;
            }
            REQUIRE_FALSE(r.ec);
            REQUIRE(r.d.destination.port == expected.d.destination.port);
            REQUIRE(to_address(r.d.destination) == to_address(expected.d.destination));
            REQUIRE(r.d.header_size == header.size());
            REQUIRE(r.d.data.data() == cut.data() + header.size());
            REQUIRE(r.d.data.size() == size - header.size());
        }
    }
}
