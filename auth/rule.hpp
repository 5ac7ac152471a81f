#pragma once

#include "auth/ip.hpp"

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>

namespace weir::auth {

/// A malformed rule. what() quotes the rule and names the word at fault:
/// "rule 'allow form 10.0.0.0/8': unknown word 'form' at word 2 (expected ...)".
struct rule_error : std::invalid_argument {
    using std::invalid_argument::invalid_argument;
};

enum class action : std::uint8_t { allow, deny };

/// The SOCKS command of a request, as rules name it.
enum class request_command : std::uint8_t { connect, bind, udp };

/// `any` in a `from` or `to` clause.
struct any_address {
    bool operator==(const any_address&) const = default;
};

/// `host.example` (that name only) or `.corp.example` (suffix: corp.example and
/// every name under it). Stored lowercase, without leading or trailing dot.
struct host_pattern {
    std::string name;
    bool suffix = false;

    bool operator==(const host_pattern&) const = default;
};

using source_match = std::variant<any_address, cidr>;
using destination_match = std::variant<any_address, cidr, host_pattern>;

/// `port N` (first == last) or `port N-M`, inclusive, 1..65535.
struct port_range {
    std::uint16_t first = 1;
    std::uint16_t last = 65535;

    bool operator==(const port_range&) const = default;
};

/// `command connect,bind,udp`.
struct command_set {
    bool connect = false;
    bool bind = false;
    bool udp = false;

    bool contains(request_command c) const noexcept;
    bool operator==(const command_set&) const = default;
};

/// One access rule: an action and the clauses that must all match. An absent
/// clause matches everything.
struct rule {
    action act = action::deny;
    std::optional<source_match> from;
    std::optional<std::string> listener; ///< lowercase URL, e.g. socks5://0.0.0.0:1088
    std::optional<std::string> user;     ///< exact, case-sensitive
    std::optional<destination_match> to;
    std::optional<port_range> port;
    std::optional<command_set> commands;
    std::string origin; ///< where the rule was written, for logs ("rules.txt:3"); may be empty

    /// Canonical text: lowercase keywords in the order from, listener, user, to,
    /// port, command; addresses in canonical form. parse_rule(r.text()) == r
    /// (apart from origin).
    std::string text() const;

    bool operator==(const rule&) const = default;
};

/// Parses `ACTION CLAUSE*` (grammar in auth/policy.hpp). Words are separated by spaces
/// or tabs; keywords are case-insensitive; a clause may appear once.
/// Throws rule_error.
rule parse_rule(std::string_view text);

std::string_view to_string(action a) noexcept;
/// Whether `word` starts a clause (from, listener, user, to, port, command),
/// in any case.
bool is_clause_word(std::string_view word);
std::string_view to_string(request_command c) noexcept;

} // namespace weir::auth
