// The HTTP/1.x request-head parser: valid heads in every split, a table of
// malformed heads with the exact status and reason each gives, and each limit
// exactly at and one past.
#include "socks/proto/http_request.hpp"
#include "test_support.hpp"

#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <catch2/catch.hpp>

using namespace weir::proto;
using namespace weir::proto::test;

namespace {

using parser_options = http_request_parser::options;
const parser_options defaults{};

// The parser's event as one line per fact, for comparisons that show what
// went wrong:
//   "request GET /metrics HTTP/1.1"
//   "field Host: example.com"              one line per field, in order
//   "content-length 5", "chunked"          when the head says so
//   "remaining hello"                      take_remaining() + chunks not yet fed
//   "error 400 bare LF"
//   "need_data"                            all chunks fed and still incomplete
std::vector<std::string> drive(const parser_options& opts, const std::vector<bytes>& chunks) {
    http_request_parser p{opts};
    std::vector<std::string> log;
    for (std::size_t i = 0; i < chunks.size(); ++i) {
        p.receive(chunks[i]);
        const auto e = p.next_event();
        if (std::holds_alternative<need_data>(e)) continue;
        if (const auto* err = std::get_if<http_error>(&e)) {
            log.push_back("error " + std::to_string(err->status) + " " + std::string(err->reason));
            REQUIRE(p.room() == 0);
            REQUIRE(std::get<http_error>(p.next_event()) == *err); // repeats
            return log;
        }
        const auto& h = std::get<http_request_head>(e);
        log.push_back("request " + h.method + " " + h.target +
                      (h.version == http_version::http_1_0 ? " HTTP/1.0" : " HTTP/1.1"));
        for (const auto& f : h.fields)
            log.push_back("field " + f.name + ": " + f.value);
        if (h.content_length) log.push_back("content-length " + std::to_string(*h.content_length));
        if (h.chunked) log.push_back("chunked");
        REQUIRE(p.room() == 0);
        auto rest = p.take_remaining();
        for (std::size_t j = i + 1; j < chunks.size(); ++j)
            rest = rest + chunks[j];
        if (!rest.empty()) log.push_back("remaining " + std::string(rest.begin(), rest.end()));
        REQUIRE(std::holds_alternative<http_request_head>(p.next_event())); // repeats
        return log;
    }
    log.push_back("need_data");
    return log;
}

// `wire` whole, cut at every offset, at every pair of offsets (when short),
// and one byte at a time: the same log each time.
void check_every_split(const parser_options& opts, const bytes& wire,
                       const std::vector<std::string>& expected) {
    REQUIRE(drive(opts, {wire}) == expected);
    for (std::size_t at = 0; at <= wire.size(); ++at) {
        CAPTURE(at);
        REQUIRE(drive(opts, split_at(wire, at)) == expected);
    }
    if (wire.size() <= 80) {
        for (std::size_t a = 0; a <= wire.size(); ++a) {
            for (std::size_t b = a; b <= wire.size(); ++b) {
                CAPTURE(a, b);
                REQUIRE(drive(opts, split_at(wire, a, b)) == expected);
            }
        }
    }
    REQUIRE(drive(opts, one_byte_each(wire)) == expected);
}

std::string text(const bytes& b) {
    return {b.begin(), b.end()};
}

} // namespace

TEST_CASE("A Prometheus scrape parses at every split point", "[http][split]") {
    const auto wire = ascii("GET /metrics HTTP/1.1\r\n"
                            "Host: 127.0.0.1:9100\r\n"
                            "User-Agent: Prometheus/2.45.0\r\n"
                            "Accept: text/plain;version=0.0.4;q=0.5,*/*;q=0.1\r\n"
                            "Accept-Encoding: gzip\r\n"
                            "X-Prometheus-Scrape-Timeout-Seconds: 10\r\n"
                            "\r\n");
    check_every_split(defaults, wire,
                      {"request GET /metrics HTTP/1.1", "field Host: 127.0.0.1:9100",
                       "field User-Agent: Prometheus/2.45.0",
                       "field Accept: text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
                       "field Accept-Encoding: gzip",
                       "field X-Prometheus-Scrape-Timeout-Seconds: 10"});
}

TEST_CASE("Bytes after the head are kept, in every split", "[http][split]") {
    SECTION("a body after Content-Length") {
        check_every_split(
            defaults, ascii("POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"),
            {"request POST /upload HTTP/1.1", "field Host: a", "field Content-Length: 5",
             "content-length 5", "remaining hello"});
    }
    SECTION("a chunked body") {
        check_every_split(
            defaults,
            ascii("PUT /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n0\r\n\r\n"),
            {"request PUT /x HTTP/1.1", "field Host: a", "field Transfer-Encoding: Chunked",
             "chunked", "remaining 0\r\n\r\n"});
    }
    SECTION("CONNECT, then the tunnel's first bytes") {
        check_every_split(
            defaults,
            ascii("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n") +
                hex("16 03 01"),
            {"request CONNECT example.com:443 HTTP/1.1", "field Host: example.com:443",
             "remaining \x16\x03\x01"});
    }
}

TEST_CASE("Values lose their surrounding whitespace, keep what is inside", "[http][split]") {
    check_every_split(defaults,
                      ascii("OPTIONS * HTTP/1.0\r\n"
                            "X-A:   spaced  out \t \r\n"
                            "X-Empty:\r\n"
                            "X-Blank: \t \r\n"
                            "x-obs-text: caf\xc3\xa9\r\n"
                            "\r\n"),
                      {"request OPTIONS * HTTP/1.0", "field X-A: spaced  out",
                       "field X-Empty: ", "field X-Blank: ", "field x-obs-text: caf\xc3\xa9"});
}

TEST_CASE("An HTTP/1.0 request needs no Host, an incomplete head needs data", "[http]") {
    CHECK(drive(defaults, {ascii("GET / HTTP/1.0\r\n\r\n")}) ==
          std::vector<std::string>{"request GET / HTTP/1.0"});
    CHECK(drive(defaults, {ascii("GET / HTTP/1.0\r\n\r")}) ==
          std::vector<std::string>{"need_data"});
    CHECK(drive(defaults, {}) == std::vector<std::string>{"need_data"});
}

TEST_CASE("Equal Content-Length values count once", "[http][framing]") {
    CHECK(drive(defaults, {ascii("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 7, 7\r\n"
                                 "content-length: 7\r\n\r\n")}) ==
          std::vector<std::string>{"request POST / HTTP/1.1", "field Host: a",
                                   "field Content-Length: 7, 7", "field content-length: 7",
                                   "content-length 7"});
    CHECK(
        drive(defaults,
              {ascii("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551615\r\n\r\n")})
            .back() == "content-length 18446744073709551615");
}

TEST_CASE("find() looks a field up by name, ASCII case ignored", "[http]") {
    http_request_parser p{defaults};
    p.receive(ascii("GET / HTTP/1.1\r\nhOsT: a\r\nX-Twice: 1\r\nx-twice: 2\r\n\r\n"));
    const auto e = p.next_event();
    const auto& h = std::get<http_request_head>(e);
    REQUIRE(h.find("Host") != nullptr);
    CHECK(h.find("Host")->value == "a");
    CHECK(h.find("X-TWICE")->value == "1");
    CHECK(h.find("Missing") == nullptr);
    CHECK_FALSE(h.content_length);
    CHECK_FALSE(h.chunked);
}

namespace {

struct malformed {
    const char* name;
    std::string wire;
    std::uint16_t status;
    std::string_view reason;
};

const std::string host = "Host: a\r\n";

const malformed cases[] = {
    // request line
    {"empty line first", "\r\nGET / HTTP/1.1\r\n", 400, "bad method"},
    {"method with a slash", "GE/T / HTTP/1.1\r\n", 400, "bad method"},
    {"method with a NUL", std::string("GE\0T / HTTP/1.1\r\n", 17), 400, "bad method"},
    {"line starts with SP", " GET / HTTP/1.1\r\n", 400, "empty method"},
    {"two SP after the method", "GET  / HTTP/1.1\r\n", 400, "empty request-target"},
    {"HTAB between method and target", "GET\t/ HTTP/1.1\r\n", 400, "bad method"},
    {"a space inside the target", "GET /a b HTTP/1.1\r\n", 400, "bad HTTP version"},
    {"DEL in the target", "GET /\x7f HTTP/1.1\r\n", 400, "bad request-target"},
    {"non-ASCII in the target", "GET /caf\xc3\xa9 HTTP/1.1\r\n", 400, "bad request-target"},
    {"HTTP/0.9", "GET /\r\n", 400, "bad request-target"},
    {"two SP before the version", "GET /  HTTP/1.1\r\n", 400, "bad HTTP version"},
    {"lowercase version", "GET / http/1.1\r\n", 400, "bad HTTP version"},
    {"version without minor", "GET / HTTP/1\r\n", 400, "bad HTTP version"},
    {"two-digit minor", "GET / HTTP/1.10\r\n", 400, "bad HTTP version"},
    {"SP after the version", "GET / HTTP/1.1 \r\n", 400, "bad HTTP version"},
    {"HTTP/2.0", "GET / HTTP/2.0\r\n", 505, "HTTP version not supported"},
    {"HTTP/1.2", "GET / HTTP/1.2\r\n", 505, "HTTP version not supported"},
    {"HTTP/0.9 spelled out", "GET / HTTP/0.9\r\n", 505, "HTTP version not supported"},
    {"bare LF after the request line", "GET / HTTP/1.1\n", 400, "bare LF"},
    {"bare LF in the method", "GET\n", 400, "bare LF"},
    {"bare CR after the request line", "GET / HTTP/1.1\rX", 400, "bare CR"},
    // field lines
    {"bare LF after a field", "GET / HTTP/1.1\r\nHost: a\n", 400, "bare LF"},
    {"bare LF as the empty line", "GET / HTTP/1.1\r\nHost: a\r\n\n", 400, "bare LF"},
    {"bare CR in a value", "GET / HTTP/1.1\r\nHost: a\rb\r\n", 400, "bare CR"},
    {"bare CR as the empty line", "GET / HTTP/1.1\r\n" + host + "\rX", 400, "bare CR"},
    {"obs-fold", "GET / HTTP/1.1\r\n" + host + "X-A: b\r\n c\r\n", 400,
     "line starts with whitespace"},
    {"HTAB fold", "GET / HTTP/1.1\r\n" + host + "X-A: b\r\n\tc\r\n", 400,
     "line starts with whitespace"},
    {"whitespace before the first field", "GET / HTTP/1.1\r\n Host: a\r\n", 400,
     "line starts with whitespace"},
    {"empty field name", "GET / HTTP/1.1\r\n: a\r\n", 400, "empty field name"},
    {"SP before the colon", "GET / HTTP/1.1\r\nHost : a\r\n", 400, "whitespace before colon"},
    {"HTAB before the colon", "GET / HTTP/1.1\r\nContent-Length\t: 5\r\n", 400,
     "whitespace before colon"},
    {"a field without colon", "GET / HTTP/1.1\r\nHost\r\n", 400, "field without colon"},
    {"a bracket in a name", "GET / HTTP/1.1\r\nX[1]: a\r\n", 400, "bad field name"},
    {"non-ASCII in a name", "GET / HTTP/1.1\r\nX\xc3\xa9: a\r\n", 400, "bad field name"},
    {"a NUL in a value", std::string("GET / HTTP/1.1\r\nX-A: a\0b\r\n", 26), 400,
     "bad field value"},
    {"DEL in a value", "GET / HTTP/1.1\r\nX-A: a\x7f\r\n", 400, "bad field value"},
    {"ESC in a value", "GET / HTTP/1.1\r\nX-A: \x1b[0m\r\n", 400, "bad field value"},
    // once the head is complete
    {"HTTP/1.1 without Host", "GET / HTTP/1.1\r\n\r\n", 400, "missing Host"},
    {"two Host fields", "GET / HTTP/1.0\r\nHost: a\r\nhost: a\r\n\r\n", 400, "several Host fields"},
    {"Content-Length not a number", "GET / HTTP/1.1\r\n" + host + "Content-Length: 5x\r\n\r\n", 400,
     "bad Content-Length"},
    {"Content-Length signed", "GET / HTTP/1.1\r\n" + host + "Content-Length: +5\r\n\r\n", 400,
     "bad Content-Length"},
    {"Content-Length empty", "GET / HTTP/1.1\r\n" + host + "Content-Length:\r\n\r\n", 400,
     "bad Content-Length"},
    {"Content-Length only commas", "GET / HTTP/1.1\r\n" + host + "Content-Length: ,\r\n\r\n", 400,
     "bad Content-Length"},
    {"Content-Length past 64 bits",
     "GET / HTTP/1.1\r\n" + host + "Content-Length: 18446744073709551616\r\n\r\n", 400,
     "bad Content-Length"},
    {"differing Content-Length in a list",
     "GET / HTTP/1.1\r\n" + host + "Content-Length: 5, 6\r\n\r\n", 400, "differing Content-Length"},
    {"differing Content-Length fields",
     "GET / HTTP/1.1\r\n" + host + "Content-Length: 5\r\nContent-Length: 50\r\n\r\n", 400,
     "differing Content-Length"},
    {"Content-Length and Transfer-Encoding",
     "POST / HTTP/1.1\r\n" + host + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
     "Content-Length with Transfer-Encoding"},
    {"Transfer-Encoding and Content-Length",
     "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n", 400,
     "Content-Length with Transfer-Encoding"},
    {"Transfer-Encoding in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
     "Transfer-Encoding in HTTP/1.0"},
    {"chunked then gzip", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked, gzip\r\n\r\n",
     400, "chunked is not the last coding"},
    {"empty Transfer-Encoding", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding:\r\n\r\n", 400,
     "chunked is not the last coding"},
    {"chunked with parameters",
     "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked;x=1\r\n\r\n", 400,
     "chunked is not the last coding"},
    {"gzip then chunked", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: gzip, chunked\r\n\r\n",
     501, "transfer coding not implemented"},
    {"chunked twice, in two fields",
     "POST / HTTP/1.1\r\n" + host +
         "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
     501, "transfer coding not implemented"},
};

} // namespace

TEST_CASE("Malformed heads give the exact status and reason, in every split",
          "[http][errors][split]") {
    for (const auto& c : cases) {
        CAPTURE(c.name);
        check_every_split(defaults, ascii(c.wire),
                          {"error " + std::to_string(c.status) + " " + std::string(c.reason)});
        // An error is final: what follows it changes nothing.
        CHECK(drive(defaults, {ascii(c.wire + "\r\n\r\nGET / HTTP/1.0\r\n\r\n")}) ==
              drive(defaults, {ascii(c.wire)}));
    }
}

TEST_CASE("Every status has its reason phrase", "[http]") {
    CHECK(http_status_text(200) == "OK");
    CHECK(http_status_text(400) == "Bad Request");
    CHECK(http_status_text(404) == "Not Found");
    CHECK(http_status_text(405) == "Method Not Allowed");
    CHECK(http_status_text(414) == "URI Too Long");
    CHECK(http_status_text(431) == "Request Header Fields Too Large");
    CHECK(http_status_text(501) == "Not Implemented");
    CHECK(http_status_text(503) == "Service Unavailable");
    CHECK(http_status_text(505) == "HTTP Version Not Supported");
    CHECK(http_status_text(299) == "Unknown");
}

namespace {

// "GET /aaa... HTTP/1.1\r\n" with a target of `n` bytes.
std::string request_line(std::size_t n) {
    return "GET /" + std::string(n - 1, 'a') + " HTTP/1.1\r\n";
}

// "X-NNN: v\r\n" lines for fields first..last-1.
std::string fields(std::size_t first, std::size_t last) {
    std::string out;
    for (std::size_t i = first; i < last; ++i)
        out += "X-" + std::to_string(1000 + i) + ": v\r\n";
    return out;
}

// The largest legal head with the default limits: a 2048-byte target, 64
// fields, 8192 bytes in all; the last field's value fills it up.
std::string largest_head() {
    std::string head = request_line(2048) + host + fields(1, 63);
    const std::string last = "X-Last: \r\n\r\n";
    head += "X-Last: " + std::string(8192 - head.size() - last.size(), 'v') + "\r\n\r\n";
    return head;
}

} // namespace

TEST_CASE("The largest legal head parses, one byte more does not", "[http][limits]") {
    const auto head = largest_head();
    REQUIRE(head.size() == defaults.max_head);
    const auto log = drive(defaults, {ascii(head)});
    REQUIRE(log.size() == 1 + 64);
    CHECK(log[0] == "request GET /" + std::string(2047, 'a') + " HTTP/1.1");
    CHECK(log[64].starts_with("field X-Last: vvv"));
    CHECK(drive(defaults, one_byte_each(ascii(head))) == log);

    // One more byte in the last value: the head ends one byte past the limit.
    auto over = head;
    over.insert(over.end() - 4, 'v');
    CHECK(drive(defaults, {ascii(over)}) == std::vector<std::string>{"error 431 head too large"});
    CHECK(drive(defaults, one_byte_each(ascii(over))) ==
          std::vector<std::string>{"error 431 head too large"});
}

TEST_CASE("The head limit counts to the final CRLF, whatever byte is past it", "[http][limits]") {
    const parser_options small{.max_head = 40};
    const std::string line = "GET / HTTP/1.1\r\nHost: a\r\n"; // 25 bytes
    const std::string exact = line + "X-Pad: " + std::string(40 - 25 - 11, 'p') + "\r\n\r\n";
    REQUIRE(exact.size() == 40);
    CHECK(drive(small, {ascii(exact)}).back() == "field X-Pad: pppp");
    // At the limit and not done: the 41st byte decides, even a bad one.
    const auto cut = exact.substr(0, 38);
    CHECK(drive(small, {ascii(cut + "pp")}) == std::vector<std::string>{"need_data"});
    CHECK(drive(small, {ascii(cut + "pp\r")}) ==
          std::vector<std::string>{"error 431 head too large"});
    CHECK(drive(small, {ascii(cut + "pp\x01")}) ==
          std::vector<std::string>{"error 431 head too large"});
    // A bad byte before the limit is named as such.
    CHECK(drive(small, {ascii(cut + "\x01p\r")}) ==
          std::vector<std::string>{"error 400 bad field name"});
}

TEST_CASE("room() keeps a reader to max_head + 1 bytes", "[http][limits]") {
    const parser_options small{.max_head = 40};
    http_request_parser p{small};
    CHECK(p.room() == 41);
    p.receive(ascii("GET / HTTP/1.1\r\n"));
    CHECK(p.room() == 41 - 16);
    CHECK(std::holds_alternative<need_data>(p.next_event()));
    CHECK(p.room() == 41 - 16);
    p.receive(ascii("Host: a\r\n\r\nbody"));
    CHECK(p.room() == 41 - 16 - 15); // not parsed yet
    CHECK(std::holds_alternative<http_request_head>(p.next_event()));
    CHECK(p.room() == 0);
    CHECK(text(p.take_remaining()) == "body");
    CHECK(p.take_remaining().empty());

    // Reading exactly room() each time: an endless field ends at 41 bytes.
    http_request_parser q{small};
    std::size_t buffered = 0;
    http_event e = need_data{};
    while (std::holds_alternative<need_data>(e)) {
        const auto n = std::min<std::size_t>(q.room(), 7);
        q.receive(repeat(n, 'x'));
        buffered += n;
        e = q.next_event();
    }
    CHECK(buffered == 41);
    CHECK(std::get<http_error>(e) == http_error{431, "head too large"});
}

TEST_CASE("The target may be max_target bytes, not one more", "[http][limits]") {
    const auto at = request_line(2048) + host + "\r\n";
    CHECK(drive(defaults, {ascii(at)}).front() ==
          "request GET /" + std::string(2047, 'a') + " HTTP/1.1");
    const auto over = request_line(2049) + host + "\r\n";
    CHECK(drive(defaults, {ascii(over)}) ==
          std::vector<std::string>{"error 414 request-target too long"});
    // Found at the target's 2049th byte, before the line ends.
    CHECK(drive(defaults, {ascii(over.substr(0, 4 + 2049))}) ==
          std::vector<std::string>{"error 414 request-target too long"});
    CHECK(drive(defaults, {ascii(over.substr(0, 4 + 2048))}) ==
          std::vector<std::string>{"need_data"});
    // A head limit below the target's: the head's limit comes first.
    const parser_options tight{.max_head = 100};
    CHECK(drive(tight, {ascii(over)}) == std::vector<std::string>{"error 431 head too large"});
}

TEST_CASE("max_fields field lines are accepted, one more is 431", "[http][limits]") {
    const auto at = "GET / HTTP/1.1\r\n" + host + fields(1, 64) + "\r\n";
    CHECK(drive(defaults, {ascii(at)}).size() == 1 + 64);
    const auto over = "GET / HTTP/1.1\r\n" + host + fields(1, 65) + "\r\n";
    CHECK(drive(defaults, {ascii(over)}) == std::vector<std::string>{"error 431 too many fields"});
    // Decided by the first byte of the extra line.
    const auto first_byte = "GET / HTTP/1.1\r\n" + host + fields(1, 64) + "X";
    CHECK(drive(defaults, {ascii(first_byte)}) ==
          std::vector<std::string>{"error 431 too many fields"});
    const parser_options none{.max_fields = 0};
    CHECK(drive(none, {ascii("GET / HTTP/1.0\r\n\r\n")}) ==
          std::vector<std::string>{"request GET / HTTP/1.0"});
    CHECK(drive(none, {ascii("GET / HTTP/1.0\r\nA: b\r\n\r\n")}) ==
          std::vector<std::string>{"error 431 too many fields"});
}
