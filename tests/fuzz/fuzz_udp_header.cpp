// libFuzzer target: weir::proto::decode_udp_datagram, the header of a UDP
// ASSOCIATE datagram from the client, and encode_udp_header on what it gives.
//
// Input: the datagram, as the client sends it. Checked on the way: a decoded
// header and DATA add up to the datagram, DATA is a view at the header's end;
// the header built for an IP destination (and the one append_udp_header builds
// for a domain) is the input's, FRAG aside, and decodes to the same
// destination; one byte fewer is DATA one byte shorter, or a truncated header;
// and the allocating socks5::decode_udp_header agrees on every input.

#include "socks/proto/socks5.hpp"
#include "socks/proto/udp.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

namespace {

using namespace weir::proto;
using bytes = std::vector<std::uint8_t>;

void require(bool ok, const char* what) {
    if (ok) return;
    std::fprintf(stderr, "fuzz_udp_header: broken invariant: %s\n", what);
    std::abort();
}

/// Length of the header, from the decoded destination (an independent model).
std::size_t header_size(const udp_destination& d) {
    // RSV FRAG ATYP ADDR PORT
    if (const auto* name = std::get_if<std::string_view>(&d.host)) return 4 + 1 + name->size() + 2;
    return 4 + (std::holds_alternative<ipv4_bytes>(d.host) ? 4U : 16U) + 2;
}

/// The header we would build for the same destination, FRAG 0.
bytes rebuilt_header(const udp_destination& d) {
    if (d.is_domain()) {
        bytes out{0x00, 0x00, 0x00}; // RSV FRAG, then ATYP ADDR PORT
        socks5::append_address(out, to_address(d));
        return out;
    }
    udp_header_buffer buffer{};
    const std::size_t n = std::visit(
        [&](const auto& host) -> std::size_t {
            if constexpr (std::is_same_v<std::decay_t<decltype(host)>, std::string_view>) {
                return 0;
            } else {
                return encode_udp_header(buffer, host, d.port);
            }
        },
        d.host);
    return {buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(n)};
}

void check_decoded(std::span<const std::uint8_t> in, const udp_datagram& d) {
    require(d.header_size == header_size(d.destination), "header size fits the address");
    require(d.header_size + d.data.size() == in.size(), "header + DATA == datagram");
    require(d.data.data() == in.data() + d.header_size, "DATA is a view at the header's end");
    require(d.frag == in[2], "FRAG as sent");
    require(in[0] == 0 && in[1] == 0, "RSV is zero");
    if (const auto* name = std::get_if<std::string_view>(&d.destination.host)) {
        require(!name->empty() && name->size() <= 255, "domain size");
        require(name->find('\0') == std::string_view::npos, "no NUL in a domain");
        require(static_cast<const void*>(name->data()) == in.data() + 5, "domain is a view");
    }

    // Built again (FRAG 0) it is the input's header, and decodes the same.
    bytes header = rebuilt_header(d.destination);
    bytes expected(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(d.header_size));
    expected[2] = 0;
    require(header == expected, "the rebuilt header is the input's, FRAG aside");
    udp_datagram again;
    require(!decode_udp_datagram(header, again), "a rebuilt header decodes");
    require(again.destination == d.destination && again.frag == 0 && again.data.empty(),
            "a rebuilt header decodes to the same destination");
}

// One byte fewer, in a buffer of exactly that size: DATA one byte shorter, or a
// header cut short.
void check_one_fewer(std::span<const std::uint8_t> in, const udp_datagram& d) {
    const bytes shorter(in.begin(), in.end() - 1);
    udp_datagram cut;
    const auto ec = decode_udp_datagram(shorter, cut);
    if (d.data.empty()) {
        require(ec == errc::truncated_datagram, "a header cut short is truncated");
        return;
    }
    require(!ec, "DATA cut short still decodes");
    require(cut.header_size == d.header_size && cut.data.size() + 1 == d.data.size(),
            "DATA cut short is one byte shorter");
}

// socks5::decode_udp_header (allocating, returns 0 without an error for a cut
// header) decodes the same datagrams to the same results.
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::span<const std::uint8_t> in(data, size);
    udp_datagram d;
    const auto ec = decode_udp_datagram(in, d);
    if (ec) {
        require(ec == errc::truncated_datagram || ec == errc::bad_reserved ||
                    ec == errc::address_type_not_supported || ec == errc::empty_domain ||
                    ec == errc::bad_domain,
                "a known error");
    } else {
        check_decoded(in, d);
        check_one_fewer(in, d);
    }
    return 0;
}
