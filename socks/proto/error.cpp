#include "socks/proto/error.hpp"

#include <string>

namespace weir::proto {
namespace {

class weir_category final : public std::error_category {
public:
    const char* name() const noexcept override { return "weir"; }
    std::string message(int value) const override;
};

std::string weir_category::message(int value) const {
    switch (static_cast<errc>(value)) {
    case errc::bad_version:
        return "unsupported SOCKS version";
    case errc::protocol_not_enabled:
        return "SOCKS version not enabled on this listener";
    case errc::no_methods:
        return "SOCKS5 greeting offers no methods";
    case errc::no_acceptable_method:
        return "no acceptable SOCKS5 authentication method";
    case errc::bad_auth_version:
        return "bad username/password sub-negotiation version";
    case errc::empty_username:
        return "empty username";
    case errc::empty_password:
        return "empty password";
    case errc::auth_failed:
        return "authentication failed";
    case errc::bad_reserved:
        return "SOCKS5 reserved byte is not zero";
    case errc::command_not_supported:
        return "command not supported";
    case errc::address_type_not_supported:
        return "address type not supported";
    case errc::empty_domain:
        return "empty domain name";
    case errc::field_too_long:
        return "SOCKS4 field too long";
    case errc::bad_domain:
        return "domain name contains a NUL byte";
    case errc::host_not_found:
        return "host not found";
    case errc::resolver_busy:
        return "resolver busy";
    case errc::connect_timeout:
        return "connect timed out";
    case errc::not_allowed:
        return "not allowed by policy";
    case errc::not_a_host_name:
        return "not a host name";
    case errc::verifier_busy:
        return "password checks busy";
    }
    return "unknown weir error";
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
