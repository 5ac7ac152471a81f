// A rule as text: the canonical form parse_rule() reads back.
#include "auth/rule.hpp"

#include <string>
#include <variant>

namespace weir::auth {
namespace {

std::string destination_text(const destination_match& to) {
    if (std::holds_alternative<any_address>(to)) return "any";
    if (const auto* block = std::get_if<cidr>(&to)) return block->to_string();
    const auto& pattern = std::get<host_pattern>(to);
    if (pattern.suffix) return "." + pattern.name;
    // A host named like a keyword keeps its trailing dot, so that it parses back as a name.
    if (pattern.name == "any" || is_clause_word(pattern.name)) return pattern.name + ".";
    return pattern.name;
}

std::string commands_text(const command_set& set) {
    std::string out;
    for (const auto c : {request_command::connect, request_command::bind, request_command::udp}) {
        if (!set.contains(c)) continue;
        if (!out.empty()) out += ',';
        out += to_string(c);
    }
    return out;
}

} // namespace

bool command_set::contains(request_command c) const noexcept {
    switch (c) {
    case request_command::connect:
        return connect;
    case request_command::bind:
        return bind;
    case request_command::udp:
        return udp;
    }
    return false;
}

std::string rule::text() const {
    std::string out(to_string(act));
    if (from) {
        out += " from ";
        out +=
            std::holds_alternative<any_address>(*from) ? "any" : std::get<cidr>(*from).to_string();
    }
    if (listener) out += " listener " + *listener;
    if (user) out += " user " + *user;
    if (to) out += " to " + destination_text(*to);
    if (port) {
        out += " port " + std::to_string(port->first);
        if (port->last != port->first) out += '-' + std::to_string(port->last);
    }
    if (commands) out += " command " + commands_text(*commands);
    return out;
}

std::string_view to_string(action a) noexcept {
    return a == action::allow ? "allow" : "deny";
}

std::string_view to_string(request_command c) noexcept {
    switch (c) {
    case request_command::connect:
        return "connect";
    case request_command::bind:
        return "bind";
    case request_command::udp:
        return "udp";
    }
    return "unknown";
}

} // namespace weir::auth
