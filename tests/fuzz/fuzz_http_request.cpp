// libFuzzer target: weir::proto::http_request_parser, the HTTP/1.x request
// head, with the default limits and with small ones (so that inputs reach them).
//
// Input: bytes as a client sends them. Checked on the way: the same event and
// the same leftover bytes whether the input comes whole, cut in two at every
// offset, or one byte at a time as room() allows; a head keeps to its limits
// and its grammar (tokens, visible-ASCII target, values without control bytes
// or surrounding whitespace), and written out again in canonical form it
// parses to the same head; an error has one of the statuses the parser names.

#include "socks/proto/http_request.hpp"

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace {

using namespace weir::proto;
using bytes = std::vector<std::uint8_t>;

void require(bool ok, const char* what) {
    if (ok) return;
    std::fprintf(stderr, "fuzz_http_request: broken invariant: %s\n", what);
    std::abort();
}

struct outcome {
    http_event event;
    bytes remaining;
};

bool same(const outcome& a, const outcome& b) {
    if (a.event.index() != b.event.index() || a.remaining != b.remaining) return false;
    if (const auto* e = std::get_if<http_error>(&a.event))
        return *e == std::get<http_error>(b.event);
    if (const auto* h = std::get_if<http_request_head>(&a.event)) {
        const auto& g = std::get<http_request_head>(b.event);
        return h->method == g.method && h->target == g.target && h->version == g.version &&
               h->fields == g.fields && h->content_length == g.content_length &&
               h->chunked == g.chunked;
    }
    return true;
}

// Feeds `in` cut at each offset of `cuts` (ascending); the rest after a decision
// counts as remaining, as a reader that stops there would leave it.
outcome parse(const http_request_parser::options& opts, std::span<const std::uint8_t> in,
              const std::vector<std::size_t>& cuts) {
    http_request_parser p{opts};
    std::size_t from = 0;
    http_event e = need_data{};
    for (std::size_t i = 0; i <= cuts.size() && std::holds_alternative<need_data>(e); ++i) {
        require(p.room() > 0, "room while undecided");
        const std::size_t to = i < cuts.size() ? cuts[i] : in.size();
        p.receive(in.subspan(from, to - from));
        from = to;
        e = p.next_event();
    }
    auto rest = p.take_remaining();
    if (!std::holds_alternative<http_request_head>(e))
        rest.clear();
    else
        rest.insert(rest.end(), in.begin() + static_cast<std::ptrdiff_t>(from), in.end());
    return {std::move(e), std::move(rest)};
}

bool is_tchar(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_token(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), is_tchar);
}

void check_head(const http_request_parser::options& opts, const http_request_head& h) {
    require(is_token(h.method), "the method is a token");
    require(!h.target.empty() && h.target.size() <= opts.max_target, "target size");
    require(
        std::all_of(h.target.begin(), h.target.end(), [](char c) { return c > 0x20 && c < 0x7f; }),
        "the target is visible ASCII");
    require(h.fields.size() <= opts.max_fields, "field count");
    for (const auto& f : h.fields) {
        require(is_token(f.name), "a field name is a token");
        for (const char c : f.value) {
            const auto b = static_cast<unsigned char>(c);
            require(b == '\t' || (b >= 0x20 && b != 0x7f), "no control byte in a value");
        }
        require(f.value.empty() || (f.value.front() != ' ' && f.value.front() != '\t' &&
                                    f.value.back() != ' ' && f.value.back() != '\t'),
                "values are trimmed");
    }
    require(!(h.chunked && h.content_length), "never both framings");
}

// The head in canonical form: one SP, CRLF, no whitespace around values.
bytes canonical(const http_request_head& h) {
    std::string s = h.method + " " + h.target +
                    (h.version == http_version::http_1_0 ? " HTTP/1.0\r\n" : " HTTP/1.1\r\n");
    for (const auto& f : h.fields)
        s += f.name + ":" + f.value + "\r\n";
    s += "\r\n";
    return {s.begin(), s.end()};
}

void check(const http_request_parser::options& opts, std::span<const std::uint8_t> in) {
    const auto whole = parse(opts, in, {});
    // Every offset of a short input, 64 spread over a long one.
    const std::size_t stride = std::max<std::size_t>(1, in.size() / 64);
    for (std::size_t at = 0; at <= in.size(); at += stride)
        require(same(parse(opts, in, {at}), whole), "a split changes nothing");
    // One byte at a time: room() is never 0 while the parser wants data.
    std::vector<std::size_t> each(in.size());
    for (std::size_t i = 0; i < in.size(); ++i)
        each[i] = i + 1;
    require(same(parse(opts, in, each), whole), "one byte at a time changes nothing");

    if (const auto* e = std::get_if<http_error>(&whole.event)) {
        const auto s = e->status;
        require(s == 400 || s == 414 || s == 431 || s == 501 || s == 505, "a known status");
        require(!e->reason.empty(), "a reason");
        return;
    }
    if (const auto* h = std::get_if<http_request_head>(&whole.event)) {
        check_head(opts, *h);
        require(whole.remaining.size() < in.size(), "the head took bytes");
        const auto again = canonical(*h);
        require(again.size() <= in.size() - whole.remaining.size(), "canonical is no longer");
        require(same(parse(opts, again, {}), {*h, {}}), "the canonical head parses the same");
        return;
    }
    require(in.size() <= opts.max_head, "undecided only within max_head");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::span<const std::uint8_t> in(data, size);
    check(http_request_parser::options{}, in);
    check(http_request_parser::options{.max_head = 64, .max_fields = 3, .max_target = 12}, in);
    return 0;
}
