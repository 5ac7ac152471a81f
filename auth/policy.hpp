#pragma once

#include "auth/ip.hpp"
#include "auth/rule.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace weir::auth {

// Access rules, one per line in a rules file or one per --rule flag:
//
//   RULE   := ACTION CLAUSE*       first match wins; clauses are ANDed, in any order, once each
//   ACTION := allow | deny
//   CLAUSE := from ADDR            client address: IP, CIDR or any
//           | listener URL         the listener as weir prints it: socks5://0.0.0.0:1088
//           | user NAME            the authenticated user (never matches without one)
//           | to DEST              any | IP | CIDR | host.example | .corp.example (suffix)
//           | port N | port N-M    destination port, 1..65535, inclusive
//           | command LIST         connect,bind,udp
//
// CIDRs must have their host bits clear (10.0.0.1/8 is an error). IPv4-mapped
// IPv6 (::ffff:a.b.c.d) is IPv4 for matching, on both sides. Host names match
// without regard to case or one trailing dot.

/// What a policy says about a request.
enum class verdict : std::uint8_t {
    allow,
    deny,
    undetermined, ///< depends on the destination address: resolve, then check each address
};

/// What is known about a request when the policy is asked.
struct request_facts {
    ip_address client;
    std::string listener;                          ///< the listener's URL, as weir prints it
    std::optional<std::string> user;               ///< set only once authenticated
    std::optional<std::string> destination_name;   ///< what the client asked for, if a name
    std::optional<ip_address> destination_address; ///< the literal given, or one resolved address
    std::uint16_t port = 0;
    request_command command = request_command::connect;
};

/// The answer, and which rule gave it.
struct decision {
    verdict result = verdict::deny;
    /// 1-based number of the deciding rule (for undetermined: the first rule that
    /// could not be decided); 0 when the default action decided.
    std::size_t rule_number = 0;
    std::string_view rule_text; ///< canonical text of that rule; "" for the default
    std::string_view origin;    ///< that rule's origin; "" if none or the default

    bool operator==(const decision&) const = default;
};

/// For logs: "rule 3 'deny to 169.254.0.0/16'", "rule 2 'allow to .corp.example'
/// (rules.txt:4)", "the default action 'deny'".
std::string describe(const decision& d);

/// An ordered rule list that ends in a default action.
class policy {
public:
    explicit policy(std::vector<rule> rules = {}, action default_action = action::deny);

    /// First match wins. Without a destination address, a rule whose `to` is an
    /// IP or CIDR may or may not match: if such a rule comes before the first
    /// rule that matches for sure and its action differs from that rule's (or
    /// the default's), the verdict is undetermined. A `to NAME` rule never
    /// matches without a destination name.
    decision check(const request_facts& facts) const;

    const std::vector<rule>& rules() const noexcept { return rules_; }
    action default_action() const noexcept { return default_action_; }

private:
    std::vector<rule> rules_;
    std::vector<std::string> texts_; // rules_[i].text(), made once
    action default_action_;
};

/// Deny rules for destinations a proxy should not reach for its clients:
/// loopback, link-local (cloud metadata 169.254.169.254), unspecified,
/// multicast and broadcast; with `include_private_ranges` also RFC 1918,
/// CGNAT 100.64.0.0/10 and IPv6 unique local fc00::/7. Origin "preset".
std::vector<rule> private_destination_rules(bool include_private_ranges);

/// One rule per line; blank lines and `#` comments (a line's first word, or a
/// word that starts with `#` after a space) are ignored. Each rule's origin is
/// "source:line". Throws rule_error prefixed with "source:line: ".
std::vector<rule> parse_rules_file(std::string_view text, std::string_view source);

} // namespace weir::auth
