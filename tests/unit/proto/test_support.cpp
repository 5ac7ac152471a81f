#include "test_support.hpp"

#include <stdexcept>
#include <variant>

#include <catch2/catch.hpp>

namespace weir::proto::test {

bytes hex(std::string_view text) {
    bytes out;
    std::string digits;
    for (const char c : text) {
        if (c == ' ') continue;
        digits += c;
        if (digits.size() == 2) {
            out.push_back(static_cast<std::uint8_t>(std::stoul(digits, nullptr, 16)));
            digits.clear();
        }
    }
    if (!digits.empty()) throw std::invalid_argument("odd number of hex digits");
    return out;
}

bytes ascii(std::string_view text) {
    return {text.begin(), text.end()};
}

bytes repeat(std::size_t n, char c) {
    return bytes(n, static_cast<std::uint8_t>(c));
}

std::string show(const bytes& b) {
    static constexpr char digits[] = "0123456789ABCDEF";
    std::string out;
    for (const std::uint8_t x : b) {
        if (!out.empty()) out += ' ';
        out += digits[x >> 4];
        out += digits[x & 0x0f];
    }
    return out;
}

std::string errc_name(std::error_code ec) {
    if (ec.category() != error_category()) return ec.category().name();
    switch (static_cast<errc>(ec.value())) {
    case errc::bad_version:
        return "bad_version";
    case errc::protocol_not_enabled:
        return "protocol_not_enabled";
    case errc::no_methods:
        return "no_methods";
    case errc::no_acceptable_method:
        return "no_acceptable_method";
    case errc::bad_auth_version:
        return "bad_auth_version";
    case errc::empty_username:
        return "empty_username";
    case errc::empty_password:
        return "empty_password";
    case errc::auth_failed:
        return "auth_failed";
    case errc::bad_reserved:
        return "bad_reserved";
    case errc::command_not_supported:
        return "command_not_supported";
    case errc::address_type_not_supported:
        return "address_type_not_supported";
    case errc::empty_domain:
        return "empty_domain";
    case errc::field_too_long:
        return "field_too_long";
    case errc::bad_domain:
        return "bad_domain";
    case errc::host_not_found:
        return "host_not_found";
    case errc::resolver_busy:
        return "resolver_busy";
    case errc::connect_timeout:
        return "connect_timeout";
    case errc::not_allowed:
        return "not_allowed";
    case errc::not_a_host_name:
        return "not_a_host_name";
    case errc::verifier_busy:
        return "verifier_busy";
    case errc::truncated_datagram:
        return "truncated_datagram";
    case errc::http_request:
        return "http_request";
    }
    return "?";
}

bytes operator+(bytes a, const bytes& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

std::vector<bytes> split_at(const bytes& wire, std::size_t at) {
    const auto cut = wire.begin() + static_cast<std::ptrdiff_t>(at);
    return {bytes(wire.begin(), cut), bytes(cut, wire.end())};
}

std::vector<bytes> split_at(const bytes& wire, std::size_t a, std::size_t b) {
    auto head = split_at(wire, a);
    auto tail = split_at(head[1], b - a);
    return {head[0], tail[0], tail[1]};
}

std::vector<bytes> one_byte_each(const bytes& wire) {
    std::vector<bytes> chunks;
    for (const std::uint8_t b : wire)
        chunks.push_back({b});
    return chunks;
}

namespace {

std::string describe(const request_event& r) {
    static constexpr const char* commands[] = {"?", "connect", "bind", "udp_associate"};
    std::string line = r.ver == version::socks4 ? "request socks4 " : "request socks5 ";
    line += commands[static_cast<std::size_t>(r.cmd) & 3];
    line += ' ' + to_string(r.destination);
    if (r.ver == version::socks4) line += " userid=" + r.socks4_userid;
    return line;
}

} // namespace

std::vector<std::string> drive(const server_handshake::options& opts,
                               const std::vector<bytes>& chunks, bool accept) {
    server_handshake hs{opts};
    std::vector<std::string> log;
    for (std::size_t i = 0; i < chunks.size(); ++i) {
        hs.receive(chunks[i]);
        for (;;) {
            const event e = hs.next_event();
            if (const auto out = hs.take_output(); !out.empty()) log.push_back("out " + show(out));
            if (std::holds_alternative<need_data>(e)) break;
            if (const auto* c = std::get_if<credentials_event>(&e)) {
                log.push_back("credentials " + c->username + ":" + c->password);
                hs.auth_result(accept);
            } else if (const auto* r = std::get_if<request_event>(&e)) {
                log.push_back(describe(*r));
                auto rest = hs.take_remaining();
                for (std::size_t j = i + 1; j < chunks.size(); ++j)
                    rest = rest + chunks[j];
                if (!rest.empty()) log.push_back("remaining " + show(rest));
                return log;
            } else {
                const auto& err = std::get<error_event>(e);
                const auto reply = err.reply.empty() ? std::string("(none)") : show(err.reply);
                log.push_back("error " + errc_name(err.error) + " reply " + reply);
                return log;
            }
        }
    }
    log.push_back("need_data");
    return log;
}

void check_every_split(const server_handshake::options& opts, const bytes& wire,
                       const std::vector<std::string>& expected, bool accept) {
    REQUIRE(drive(opts, {wire}, accept) == expected);
    for (std::size_t at = 0; at <= wire.size(); ++at) {
        CAPTURE(at);
        REQUIRE(drive(opts, split_at(wire, at), accept) == expected);
    }
    if (wire.size() <= 64) {
        for (std::size_t a = 0; a <= wire.size(); ++a) {
            for (std::size_t b = a; b <= wire.size(); ++b) {
                CAPTURE(a, b);
                REQUIRE(drive(opts, split_at(wire, a, b), accept) == expected);
            }
        }
    }
    REQUIRE(drive(opts, one_byte_each(wire), accept) == expected);
}

} // namespace weir::proto::test
