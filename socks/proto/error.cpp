#include "socks/proto/error.hpp"

#include <array>
#include <cstddef>
#include <string>
#include <string_view>

namespace weir::proto {
namespace {

class weir_category final : public std::error_category {
public:
    const char* name() const noexcept override { return "weir"; }
    std::string message(int value) const override;
};

// The text of each errc, in the enumeration's order (errc starts at 1).
constexpr std::array<std::string_view, 22> messages = {
    "unsupported SOCKS version",                     // bad_version
    "SOCKS version not enabled on this listener",    // protocol_not_enabled
    "SOCKS5 greeting offers no methods",             // no_methods
    "no acceptable SOCKS5 authentication method",    // no_acceptable_method
    "bad username/password sub-negotiation version", // bad_auth_version
    "empty username",                                // empty_username
    "empty password",                                // empty_password
    "authentication failed",                         // auth_failed
    "SOCKS5 reserved byte is not zero",              // bad_reserved
    "command not supported",                         // command_not_supported
    "address type not supported",                    // address_type_not_supported
    "empty domain name",                             // empty_domain
    "SOCKS4 field too long",                         // field_too_long
    "domain name contains a NUL byte",               // bad_domain
    "host not found",                                // host_not_found
    "resolver busy",                                 // resolver_busy
    "connect timed out",                             // connect_timeout
    "not allowed by policy",                         // not_allowed
    "not a host name",                               // not_a_host_name
    "password checks busy",                          // verifier_busy
    "UDP datagram shorter than its header",          // truncated_datagram
    "an HTTP request on a SOCKS port",               // http_request
};
static_assert(static_cast<std::size_t>(errc::http_request) == messages.size(),
              "one message per errc");

std::string weir_category::message(int value) const {
    if (value < 1 || static_cast<std::size_t>(value) > messages.size()) return "unknown weir error";
    return std::string(messages[static_cast<std::size_t>(value) - 1]);
}

reply_code from_weir(errc e) noexcept {
    switch (e) {
    case errc::host_not_found:
    case errc::connect_timeout:
        return reply_code::host_unreachable;
    case errc::not_allowed:
    case errc::not_a_host_name:
        return reply_code::not_allowed;
    case errc::command_not_supported:
        return reply_code::command_not_supported;
    case errc::address_type_not_supported:
        return reply_code::address_type_not_supported;
    default:
        return reply_code::general_failure;
    }
}

// Errors from connect(), in std::system_category or std::generic_category.
// ETIMEDOUT means the host never answered: host unreachable (0x04), like
// errc::connect_timeout; 0x06 (TTL expired) describes something else.
reply_code from_system(const std::error_code& ec) noexcept {
    if (ec == std::errc::connection_refused) return reply_code::connection_refused;
    if (ec == std::errc::network_unreachable) return reply_code::network_unreachable;
    if (ec == std::errc::host_unreachable) return reply_code::host_unreachable;
    if (ec == std::errc::timed_out) return reply_code::host_unreachable;
    if (ec == std::errc::permission_denied || ec == std::errc::operation_not_permitted) {
        return reply_code::not_allowed;
    }
    return reply_code::general_failure;
}

} // namespace

const std::error_category& error_category() noexcept {
    static const weir_category category;
    return category;
}

std::error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), error_category()};
}

reply_code to_reply_code(std::error_code ec) noexcept {
    if (!ec) return reply_code::succeeded;
    if (ec.category() == error_category()) return from_weir(static_cast<errc>(ec.value()));
    return from_system(ec);
}

} // namespace weir::proto
