#include "socks/proto/http_request.hpp"

#include "text/ascii.hpp"

#include <algorithm>
#include <limits>
#include <utility>

namespace weir::proto {
namespace {

constexpr std::uint8_t cr = '\r';
constexpr std::uint8_t lf = '\n';
constexpr std::uint8_t sp = ' ';
constexpr std::uint8_t htab = '\t';

// tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." /
//         "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA   (RFC 9110 section 5.6.2)
constexpr bool is_tchar(std::uint8_t b) noexcept {
    if ((b >= '0' && b <= '9') || (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z')) return true;
    return std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(b)) != std::string_view::npos;
}

constexpr bool is_ows(std::uint8_t b) noexcept {
    return b == sp || b == htab;
}

// field-vchar = VCHAR / obs-text, and SP / HTAB inside a value.
constexpr bool is_value_byte(std::uint8_t b) noexcept {
    return b == htab || (b >= 0x20 && b != 0x7f);
}

constexpr std::optional<http_error> fail(std::uint16_t status, std::string_view reason) noexcept {
    return http_error{status, reason};
}

std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && is_ows(static_cast<std::uint8_t>(s.front())))
        s.remove_prefix(1);
    while (!s.empty() && is_ows(static_cast<std::uint8_t>(s.back())))
        s.remove_suffix(1);
    return s;
}

// The elements of a comma-separated list (RFC 9110 section 5.6.1), trimmed;
// empty elements are skipped, as the list rule asks.
template <typename F>
void for_each_element(std::string_view list, F&& f) {
    while (!list.empty()) {
        const auto comma = list.find(',');
        const auto element = trim(list.substr(0, comma));
        if (!element.empty()) f(element);
        list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    }
}

// Content-Length = 1*DIGIT, within 64 bits.
std::optional<std::uint64_t> parse_length(std::string_view digits) noexcept {
    if (digits.empty()) return std::nullopt;
    std::uint64_t n = 0;
    for (const char c : digits) {
        if (c < '0' || c > '9') return std::nullopt;
        const auto d = static_cast<std::uint64_t>(c - '0');
        if (n > (std::numeric_limits<std::uint64_t>::max() - d) / 10) return std::nullopt;
        n = n * 10 + d;
    }
    return n;
}

} // namespace

const http_field* http_request_head::find(std::string_view name) const noexcept {
    const auto it = std::find_if(fields.begin(), fields.end(), [&](const http_field& f) {
        return text::equal_ignoring_case(f.name, name);
    });
    return it == fields.end() ? nullptr : &*it;
}

std::string_view http_status_text(std::uint16_t status) noexcept {
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 414:
        return "URI Too Long";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 503:
        return "Service Unavailable";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Unknown";
    }
}

http_request_parser::http_request_parser(options opts)
    : opts_(opts) {}

void http_request_parser::receive(std::span<const std::uint8_t> bytes) {
    in_.insert(in_.end(), bytes.begin(), bytes.end());
}

http_event http_request_parser::next_event() {
    std::size_t used = 0;
    while (used < in_.size() && state_ != state::done && state_ != state::failed) {
        // One byte past the limit decides, whatever it is.
        if (head_bytes_ == opts_.max_head) {
            error_ = {431, "head too large"};
            state_ = state::failed;
            break;
        }
        const auto error = step(in_[used]);
        ++used;
        ++head_bytes_;
        if (error) {
            error_ = *error;
            state_ = state::failed;
        }
    }
    in_.erase(in_.begin(), in_.begin() + static_cast<std::ptrdiff_t>(used));
    if (state_ == state::done) return head_;
    if (state_ == state::failed) return error_;
    return need_data{};
}

std::size_t http_request_parser::room() const noexcept {
    if (state_ == state::done || state_ == state::failed) return 0;
    const std::size_t wanted = opts_.max_head + 1 - head_bytes_;
    return wanted > in_.size() ? wanted - in_.size() : 0;
}

std::vector<std::uint8_t> http_request_parser::take_remaining() {
    if (state_ != state::done) return {};
    return std::exchange(in_, {});
}

std::optional<http_error> http_request_parser::step(std::uint8_t b) {
    switch (state_) {
    case state::method:
    case state::target:
    case state::version:
        return on_request_line(b);
    case state::line_lf:
        if (b != lf) return fail(400, "bare CR");
        state_ = state::line_start;
        return std::nullopt;
    case state::line_start:
        return on_line_start(b);
    case state::name:
    case state::value:
        return on_field(b);
    case state::head_lf:
        if (b != lf) return fail(400, "bare CR");
        state_ = state::done;
        return check_head();
    case state::done:
    case state::failed:
        break;
    }
    return std::nullopt;
}

// method SP request-target SP HTTP-version CR
std::optional<http_error> http_request_parser::on_request_line(std::uint8_t b) {
    if (b == lf) return fail(400, "bare LF");
    if (state_ == state::method) {
        if (b == sp) {
            if (head_.method.empty()) return fail(400, "empty method");
            state_ = state::target;
        } else if (is_tchar(b)) {
            head_.method += static_cast<char>(b);
        } else {
            return fail(400, "bad method");
        }
    } else if (state_ == state::target) {
        if (b == sp) {
            if (head_.target.empty()) return fail(400, "empty request-target");
            state_ = state::version;
        } else if (b > 0x20 && b < 0x7f) {
            if (head_.target.size() == opts_.max_target)
                return fail(414, "request-target too long");
            head_.target += static_cast<char>(b);
        } else {
            return fail(400, "bad request-target");
        }
    } else {
        if (b == cr) return on_version_end();
        // "HTTP/1.1" is 8 bytes; a ninth cannot be right.
        if (version_.size() == 8) return fail(400, "bad HTTP version");
        version_ += static_cast<char>(b);
    }
    return std::nullopt;
}

// HTTP-version = "HTTP" "/" DIGIT "." DIGIT, case-sensitive.
std::optional<http_error> http_request_parser::on_version_end() {
    const auto digit = [](char c) { return c >= '0' && c <= '9'; };
    if (version_.size() != 8 || !version_.starts_with("HTTP/") || !digit(version_[5]) ||
        version_[6] != '.' || !digit(version_[7])) {
        return fail(400, "bad HTTP version");
    }
    if (version_ == "HTTP/1.0") {
        head_.version = http_version::http_1_0;
    } else if (version_ == "HTTP/1.1") {
        head_.version = http_version::http_1_1;
    } else {
        return fail(505, "HTTP version not supported");
    }
    state_ = state::line_lf;
    return std::nullopt;
}

// A field name, or CR for the end of the head.
std::optional<http_error> http_request_parser::on_line_start(std::uint8_t b) {
    if (b == cr) {
        state_ = state::head_lf;
        return std::nullopt;
    }
    if (b == lf) return fail(400, "bare LF");
    if (is_ows(b)) return fail(400, "line starts with whitespace");
    if (b == ':') return fail(400, "empty field name");
    if (!is_tchar(b)) return fail(400, "bad field name");
    if (head_.fields.size() == opts_.max_fields) return fail(431, "too many fields");
    head_.fields.push_back({std::string(1, static_cast<char>(b)), {}});
    state_ = state::name;
    return std::nullopt;
}

// The rest of the name, ':', then the value until CR.
std::optional<http_error> http_request_parser::on_field(std::uint8_t b) {
    auto& field = head_.fields.back();
    if (b == lf) return fail(400, "bare LF");
    if (state_ == state::name) {
        if (b == ':') {
            state_ = state::value;
        } else if (is_ows(b)) {
            return fail(400, "whitespace before colon");
        } else if (b == cr) {
            return fail(400, "field without colon");
        } else if (is_tchar(b)) {
            field.name += static_cast<char>(b);
        } else {
            return fail(400, "bad field name");
        }
        return std::nullopt;
    }
    if (b == cr) {
        end_field();
        return std::nullopt;
    }
    if (!is_value_byte(b)) return fail(400, "bad field value");
    if (!field.value.empty() || !is_ows(b)) field.value += static_cast<char>(b);
    return std::nullopt;
}

void http_request_parser::end_field() {
    auto& value = head_.fields.back().value;
    value.resize(trim(value).size()); // leading OWS was never stored
    state_ = state::line_lf;
}

std::optional<http_error> http_request_parser::check_head() {
    const auto hosts = std::count_if(head_.fields.begin(), head_.fields.end(), [](const auto& f) {
        return text::equal_ignoring_case(f.name, "Host");
    });
    if (hosts > 1) return fail(400, "several Host fields");
    if (hosts == 0 && head_.version == http_version::http_1_1) return fail(400, "missing Host");
    return check_framing();
}

// RFC 9112 section 6: how long the body is, or why that cannot be told.
std::optional<http_error> http_request_parser::check_framing() {
    bool bad_length = false;
    bool differing = false;
    bool transfer_encoding = false;
    std::vector<std::string_view> codings;
    for (const auto& f : head_.fields) {
        if (text::equal_ignoring_case(f.name, "Content-Length")) {
            std::size_t elements = 0;
            for_each_element(f.value, [&](std::string_view element) {
                ++elements;
                const auto n = parse_length(element);
                if (!n)
                    bad_length = true;
                else if (head_.content_length && *head_.content_length != *n)
                    differing = true;
                else
                    head_.content_length = n;
            });
            if (elements == 0) bad_length = true;
        } else if (text::equal_ignoring_case(f.name, "Transfer-Encoding")) {
            transfer_encoding = true;
            for_each_element(f.value, [&](std::string_view c) { codings.push_back(c); });
        }
    }
    if (bad_length) return fail(400, "bad Content-Length");
    if (differing) return fail(400, "differing Content-Length");
    if (!transfer_encoding) return std::nullopt;
    if (head_.content_length) return fail(400, "Content-Length with Transfer-Encoding");
    if (head_.version == http_version::http_1_0) return fail(400, "Transfer-Encoding in HTTP/1.0");
    if (codings.empty() || !text::equal_ignoring_case(codings.back(), "chunked")) {
        return fail(400, "chunked is not the last coding");
    }
    if (codings.size() > 1) return fail(501, "transfer coding not implemented");
    head_.chunked = true;
    return std::nullopt;
}

} // namespace weir::proto
