#include "socks/proto/server_handshake.hpp"

#include "socks/proto/socks4.hpp"
#include "socks/proto/socks5.hpp"

#include <algorithm>
#include <array>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace weir::proto {
namespace {

constexpr std::uint8_t auth_success = 0x00;
constexpr std::uint8_t auth_failure = 0x01;

std::vector<std::uint8_t> socks4_reject() {
    return socks4::encode_reply(false, address{});
}

std::vector<std::uint8_t> no_acceptable_method() {
    return {socks5::socks_version, socks5::method_unacceptable};
}

// An HTTP/1.x request line starts with one of these methods and a space
// (RFC 9110 section 9 and RFC 5789): enough to tell a client that took this
// port for an HTTP proxy. None starts with 0x04 or 0x05.
constexpr std::array<std::string_view, 9> http_methods = {
    "GET ", "POST ", "PUT ", "HEAD ", "DELETE ", "OPTIONS ", "PATCH ", "CONNECT ", "TRACE ",
};

enum class http_sniff : std::uint8_t { yes, no, need_more };

http_sniff sniff_http(std::span<const std::uint8_t> in) {
    bool could_be = false;
    for (const auto method : http_methods) {
        const std::size_t n = std::min(in.size(), method.size());
        if (!std::equal(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(n), method.begin()))
            continue;
        if (n == method.size()) return http_sniff::yes;
        could_be = true;
    }
    return could_be ? http_sniff::need_more : http_sniff::no;
}

// A complete response, the same for every request: nothing the client sent
// is echoed back.
std::vector<std::uint8_t> http_bad_request() {
    static constexpr std::string_view body =
        "This is a SOCKS proxy (weir), not an HTTP proxy.\n"
        "Point your client at it as socks5h://HOST:PORT "
        "(curl: -x socks5h://HOST:PORT or --socks5-hostname HOST:PORT).\n";
    const std::string response = "HTTP/1.1 400 Bad Request\r\n"
                                 "Content-Type: text/plain\r\n"
                                 "Content-Length: " +
                                 std::to_string(body.size()) +
                                 "\r\n"
                                 "Connection: close\r\n"
                                 "\r\n" +
                                 std::string(body);
    return {response.begin(), response.end()};
}

} // namespace

server_handshake::server_handshake(options opts)
    : opts_(opts) {}

void server_handshake::receive(std::span<const std::uint8_t> bytes) {
    if (state_ == state::failed) return;
    if (in_pos_ > 0) {
        in_.erase(in_.begin(), in_.begin() + static_cast<std::ptrdiff_t>(in_pos_));
        in_pos_ = 0;
    }
    in_.insert(in_.end(), bytes.begin(), bytes.end());
}

event server_handshake::next_event() {
    for (;;) {
        if (auto e = step()) return std::move(*e);
    }
}

// One state at a time: an event for the caller, or nullopt once the machine
// has moved to the next state and can go on.
std::optional<event> server_handshake::step() {
    switch (state_) {
    case state::sniff:
        return on_sniff();
    case state::socks4_request:
        return on_socks4_request();
    case state::greeting:
        return on_greeting();
    case state::credentials:
        return on_credentials();
    case state::awaiting_auth:
        throw std::logic_error("next_event() before auth_result()");
    case state::socks5_request:
        return on_socks5_request();
    case state::done:
    case state::failed:
        return final_;
    }
    throw std::logic_error("server_handshake: bad state");
}

std::optional<event> server_handshake::on_sniff() {
    if (unread().empty()) return need_data{};
    switch (unread()[0]) {
    case 0x04:
        version_ = version::socks4;
        if (!opts_.socks4) return fail(errc::protocol_not_enabled, socks4_reject());
        state_ = state::socks4_request;
        return std::nullopt;
    case 0x05:
        version_ = version::socks5;
        if (!opts_.socks5) return fail(errc::protocol_not_enabled, no_acceptable_method());
        state_ = state::greeting;
        return std::nullopt;
    default:
        break;
    }
    // Not SOCKS: an HTTP client pointed at this port gets told so, in HTTP.
    switch (sniff_http(unread())) {
    case http_sniff::yes:
        return fail(errc::http_request, http_bad_request());
    case http_sniff::need_more:
        return need_data{};
    case http_sniff::no:
        break;
    }
    return fail(errc::bad_version, {});
}

std::optional<event> server_handshake::on_socks4_request() {
    request_event request;
    std::error_code ec;
    const std::size_t used = socks4::decode_request(unread(), opts_.max_socks4_field, request, ec);
    if (ec) return fail(ec, socks4_reject());
    if (used == 0) return need_data{};
    consume(used);
    return finish(std::move(request));
}

std::optional<event> server_handshake::on_greeting() {
    std::span<const std::uint8_t> methods;
    std::error_code ec;
    const std::size_t used = socks5::decode_greeting(unread(), methods, ec);
    if (ec) return fail(ec, no_acceptable_method());
    if (used == 0) return need_data{};
    const std::uint8_t method = socks5::choose_method(methods, opts_.require_password);
    consume(used);
    if (method == socks5::method_unacceptable) {
        return fail(errc::no_acceptable_method, no_acceptable_method());
    }
    out_.insert(out_.end(), {socks5::socks_version, method});
    state_ = opts_.require_password ? state::credentials : state::socks5_request;
    return std::nullopt;
}

std::optional<event> server_handshake::on_credentials() {
    credentials_event credentials;
    std::error_code ec;
    const std::size_t used = socks5::decode_credentials(unread(), credentials, ec);
    if (ec) return fail(ec, {socks5::auth_version, auth_failure});
    if (used == 0) return need_data{};
    consume(used);
    state_ = state::awaiting_auth;
    return credentials;
}

void server_handshake::auth_result(bool ok) {
    if (state_ != state::awaiting_auth) {
        throw std::logic_error("auth_result() without a credentials_event");
    }
    out_.insert(out_.end(), {socks5::auth_version, ok ? auth_success : auth_failure});
    if (ok) {
        state_ = state::socks5_request;
    } else {
        state_ = state::failed;
        final_ = error_event{errc::auth_failed, {}};
    }
}

std::optional<event> server_handshake::on_socks5_request() {
    request_event request;
    std::error_code ec;
    const std::size_t used = socks5::decode_request(unread(), request, ec);
    if (ec) return fail(ec, socks5::encode_reply(to_reply_code(ec), address{}));
    if (used == 0) return need_data{};
    consume(used);
    return finish(std::move(request));
}

event server_handshake::finish(event final_event) {
    state_ = state::done;
    final_ = std::move(final_event);
    return final_;
}

event server_handshake::fail(std::error_code ec, std::vector<std::uint8_t> reply) {
    state_ = state::failed;
    final_ = error_event{ec, std::move(reply)};
    in_.clear();
    in_pos_ = 0;
    return final_;
}

std::vector<std::uint8_t> server_handshake::take_output() {
    return std::exchange(out_, {});
}

std::vector<std::uint8_t> server_handshake::reply(reply_code code, const address& bound) const {
    if (!version_) throw std::logic_error("reply() before the protocol is known");
    if (*version_ == version::socks4) {
        return socks4::encode_reply(code == reply_code::succeeded, bound);
    }
    return socks5::encode_reply(code, bound);
}

bool server_handshake::has_remaining() const noexcept {
    return state_ == state::done && in_pos_ < in_.size();
}

std::vector<std::uint8_t> server_handshake::take_remaining() {
    if (state_ != state::done) return {};
    std::vector<std::uint8_t> rest;
    if (in_pos_ == 0) {
        rest.swap(in_);
    } else {
        rest.assign(in_.begin() + static_cast<std::ptrdiff_t>(in_pos_), in_.end());
        in_.clear();
        in_pos_ = 0;
    }
    return rest;
}

std::optional<version> server_handshake::protocol() const noexcept {
    return version_;
}

std::span<const std::uint8_t> server_handshake::unread() const noexcept {
    return std::span<const std::uint8_t>(in_).subspan(in_pos_);
}

void server_handshake::consume(std::size_t n) noexcept {
    in_pos_ += n;
    if (in_pos_ == in_.size()) {
        in_.clear();
        in_pos_ = 0;
    }
}

} // namespace weir::proto
