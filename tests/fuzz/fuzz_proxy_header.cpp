// libFuzzer target: weir::proto::proxy_header_decoder, the PROXY protocol
// header (v1 text, v2 binary) a load balancer sends before the client's bytes.
//
// Input: the bytes from the connection's start. Checked on the way: fed whole,
// one byte at a time, and cut in two at a point the input chooses, the decoder
// gives the same event; a header is at most 107 (v1) or 1024 (v2) bytes, starts
// with its version's prefix, and the bytes after it are handed on exactly; a
// v1 header ends in CRLF; a v2 header's addresses are its bytes; an error is
// one of the codec's; 1024 bytes always decide.

#include "socks/proto/proxy_protocol.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <variant>
#include <vector>

namespace {

using namespace weir::proto;
using bytes = std::vector<std::uint8_t>;

void require(bool ok, const char* what) {
    if (ok) return;
    std::fprintf(stderr, "fuzz_proxy_header: broken invariant: %s\n", what);
    std::abort();
}

struct outcome {
    proxy_event event;
    bytes remaining;
    bool operator==(const outcome&) const = default;
};

outcome feed(std::span<const std::uint8_t> in, std::size_t chunk) {
    proxy_header_decoder d;
    proxy_event ev = proxy_need_data{};
    for (std::size_t at = 0; at < in.size(); at += chunk) {
        d.receive(in.subspan(at, std::min(chunk, in.size() - at)));
        ev = d.next_event();
    }
    const auto rest = d.remaining();
    return {ev, bytes(rest.begin(), rest.end())};
}

outcome feed_cut(std::span<const std::uint8_t> in, std::size_t cut) {
    proxy_header_decoder d;
    d.receive(in.first(cut));
    (void)d.next_event();
    d.receive(in.subspan(cut));
    const auto ev = d.next_event();
    const auto rest = d.remaining();
    return {ev, bytes(rest.begin(), rest.end())};
}

void check_header(std::span<const std::uint8_t> in, const proxy_header_event& h,
                  const bytes& remaining) {
    require(h.size <= in.size(), "the header is within the input");
    require(remaining.size() == in.size() - h.size &&
                std::equal(remaining.begin(), remaining.end(), in.subspan(h.size).begin()),
            "the bytes after the header are handed on exactly");
    require(h.source.has_value() == h.destination.has_value(), "both addresses or none");
    if (h.version == 1) {
        require(h.size <= proxy_v1_max_size, "a v1 line is at most 107 bytes");
        require(in[0] == 'P' && in[h.size - 2] == '\r' && in[h.size - 1] == '\n',
                "a v1 line is PROXY ... CRLF");
        return;
    }
    require(h.version == 2, "version 1 or 2");
    require(h.size >= proxy_v2_fixed_size && h.size <= proxy_v2_max_size, "a v2 header's size");
    require(h.size == proxy_v2_fixed_size + (std::size_t{in[14]} << 8 | in[15]), "LEN counts");
    if (h.is_local()) return;
    require(in[12] == 0x21, "addresses only for PROXY");
    const auto* v4 = std::get_if<ipv4_bytes>(&h.source->host);
    if (v4 != nullptr) {
        require(in[13] == 0x11, "IPv4 addresses from family 0x11");
        require(std::equal(v4->begin(), v4->end(), in.subspan(16).begin()),
                "the source is its bytes");
        require(h.source->port == (in[24] << 8 | in[25]), "the source port is its bytes");
    } else {
        require(in[13] == 0x21, "IPv6 addresses from family 0x21");
        const auto& v6 = std::get<ipv6_bytes>(h.source->host);
        require(std::equal(v6.begin(), v6.end(), in.subspan(16).begin()),
                "the source is its bytes");
        require(h.destination->port == (in[50] << 8 | in[51]), "the port is its bytes");
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::span<const std::uint8_t> in(data, size);
    const auto whole = feed(in, std::max<std::size_t>(size, 1));
    require(feed(in, 1) == whole, "one byte at a time gives the same");
    if (size > 0) require(feed_cut(in, data[0] % (size + 1)) == whole, "a cut gives the same");
    if (const auto* h = std::get_if<proxy_header_event>(&whole.event)) {
        check_header(in, *h, whole.remaining);
    } else if (const auto* e = std::get_if<proxy_error_event>(&whole.event)) {
        require(e->error.category() == proxy_error_category(), "a codec error");
        require(whole.remaining.empty(), "nothing handed on after an error");
    } else {
        require(size < proxy_v2_max_size, "a decision within 1024 bytes");
    }
    return 0;
}
