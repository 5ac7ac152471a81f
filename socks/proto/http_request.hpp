#pragma once

#include "socks/proto/events.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

/// The head of an HTTP/1.0 or HTTP/1.1 request (RFC 9112), parsed strictly
/// and within fixed bounds, sans-I/O: bytes in, one event out.
///
///     request-line   = method SP request-target SP HTTP-version CRLF
///     field-line     = field-name ":" OWS field-value OWS CRLF
///     request-head   = request-line *( field-line ) CRLF
///
/// Whatever the RFC lets a recipient either refuse or repair is refused, so
/// that no two parsers (ours and a proxy's in front of it, say) can read one
/// request two ways: bare LF or CR, whitespace before the colon or at the
/// start of a line (obs-fold), an empty line before the request line,
/// Content-Length together with Transfer-Encoding, differing Content-Lengths.
namespace weir::proto {

enum class http_version : std::uint8_t { http_1_0, http_1_1 };

/// One field line, as sent: the name's case kept, the value without its
/// leading and trailing whitespace.
struct http_field {
    std::string name;
    std::string value;
    bool operator==(const http_field&) const = default;
};

/// A complete request head. The body, if any, follows in take_remaining().
struct http_request_head {
    std::string method; ///< a token, case kept (methods are case-sensitive)
    std::string target; ///< the request-target, visible ASCII, as sent
    http_version version = http_version::http_1_1;
    std::vector<http_field> fields; ///< in the order sent
    /// The body's length from Content-Length (equal values sent more than
    /// once count once); empty when none was sent.
    std::optional<std::uint64_t> content_length;
    bool chunked = false; ///< Transfer-Encoding: chunked (the only coding accepted)

    /// The first field named `name` (ASCII case ignored), or null.
    const http_field* find(std::string_view name) const noexcept;
};

/// The request cannot be served: answer `status` (with `reason` as a short
/// body, say) and close the connection.
struct http_error {
    std::uint16_t status = 400;
    std::string_view reason; ///< a static string: "bare LF", "request-target too long", ...
    bool operator==(const http_error&) const = default;
};

using http_event = std::variant<need_data, http_request_head, http_error>;

/// The reason phrase of the statuses weir sends ("Bad Request"), or "Unknown".
std::string_view http_status_text(std::uint16_t status) noexcept;

/// Reads one request head, in any split of its bytes.
///
/// Driving loop:
///   read at most room() bytes; receive(them);
///   e = next_event();
///   need_data -> read again; head -> serve it, its body starts with
///   take_remaining(); error -> answer e.status, close.
///
/// Checks run in wire order, each as soon as its byte is there, so the same
/// bytes give the same event however they are split, and an error is found
/// no later than the byte that makes it. Errors (status, reason):
///   400 "bad method"                a byte of the method that is not a tchar
///   400 "empty method"              the line starts with SP
///   400 "bad request-target"       a byte of the target outside 0x21-0x7e
///   400 "empty request-target"     two SP after the method
///   414 "request-target too long"  more than max_target bytes
///   400 "bad HTTP version"         not HTTP/DIGIT.DIGIT then CRLF
///   505 "HTTP version not supported"  a well-formed version other than 1.0 and 1.1
///   400 "bare LF"                  LF without CR before it
///   400 "bare CR"                  CR without LF after it
///   400 "line starts with whitespace"  obs-fold, or whitespace before the first field
///   400 "empty field name"         a line starting with ':'
///   400 "bad field name"           a byte of a name that is not a tchar
///   400 "whitespace before colon"  SP or HTAB between name and ':'
///   400 "field without colon"      a name then CRLF
///   400 "bad field value"          a control byte other than HTAB in a value
///   431 "too many fields"          a field line past max_fields
///   431 "head too large"           no end of head within max_head bytes
///   and once the head is complete:
///   400 "missing Host"             HTTP/1.1 without a Host field
///   400 "several Host fields"
///   400 "bad Content-Length"       not 1*DIGIT (a list of equal values is accepted), or too large
///   400 "differing Content-Length"
///   400 "Content-Length with Transfer-Encoding"
///   400 "Transfer-Encoding in HTTP/1.0"
///   400 "chunked is not the last coding"
///   501 "transfer coding not implemented"  any coding but a lone chunked
/// Any token is a method: which ones to serve (405, 501) is the caller's choice.
class http_request_parser {
public:
    struct options {
        std::size_t max_head = 8192;   ///< bytes from the method to the final CRLF, both included
        std::size_t max_fields = 64;   ///< field lines
        std::size_t max_target = 2048; ///< bytes of the request-target
    };

    explicit http_request_parser(options opts);

    /// Buffers input; next_event() parses it.
    void receive(std::span<const std::uint8_t> bytes);

    /// Parses what receive() gave so far. Once it returned a head or an
    /// error, it returns the same again.
    http_event next_event();

    /// The most bytes worth reading before next_event() can decide: the rest
    /// of max_head and one more (which decides 431). 0 once decided. A reader
    /// that keeps to it never has more than max_head + 1 bytes buffered.
    std::size_t room() const noexcept;

    /// Bytes received after the head (the start of a body, or a pipelined
    /// request). Moves them out.
    std::vector<std::uint8_t> take_remaining();

private:
    enum class state : std::uint8_t {
        method,     // tchar until SP
        target,     // 0x21-0x7e until SP
        version,    // HTTP/D.D until CR
        line_lf,    // LF after a field line's or the request line's CR
        line_start, // a field name, or CR for the end of the head
        name,       // tchar until ':'
        value,      // until CR
        head_lf,    // LF of the final CRLF
        done,
        failed,
    };

    std::optional<http_error> step(std::uint8_t b);
    std::optional<http_error> on_request_line(std::uint8_t b);
    std::optional<http_error> on_version_end();
    std::optional<http_error> on_line_start(std::uint8_t b);
    std::optional<http_error> on_field(std::uint8_t b);
    void end_field();
    std::optional<http_error> check_head();
    std::optional<http_error> check_framing();

    options opts_;
    state state_ = state::method;
    std::vector<std::uint8_t> in_; // received, not yet parsed
    std::size_t head_bytes_ = 0;   // parsed bytes of the head
    std::string version_;          // the version's bytes until CR
    http_request_head head_;
    http_error error_;
};

} // namespace weir::proto
