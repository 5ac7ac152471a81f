#include "socks/proto/address.hpp"

#include "text/escape.hpp"
#include "text/ip.hpp"

namespace weir::proto {
namespace {

// Printable ASCII and spaces as they are; anything else, and the backslash, as \xNN.
constexpr text::escape_options domain_escapes{.backslash = true, .non_ascii = true};

void append_host(std::string& out, const address& a, bool bracket_ipv6) {
    if (const auto* v4 = std::get_if<ipv4_bytes>(&a.host)) {
        text::append_ipv4(out, *v4);
    } else if (const auto* v6 = std::get_if<ipv6_bytes>(&a.host)) {
        if (bracket_ipv6) out += '[';
        text::append_ipv6(out, *v6);
        if (bracket_ipv6) out += ']';
    } else {
        text::append_escaped(out, std::get<std::string>(a.host), domain_escapes);
    }
}

} // namespace

std::string to_string(const address& a) {
    std::string out;
    out.reserve(32);
    append_host(out, a, true);
    out += ':';
    out += std::to_string(a.port);
    return out;
}

std::string host_to_string(const address& a) {
    std::string out;
    append_host(out, a, false);
    return out;
}

} // namespace weir::proto
