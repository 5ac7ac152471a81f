#pragma once

#include "auth/ip.hpp"
#include "auth/rule.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
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
// IPv6 (::ffff:a.b.c.d) is IPv4 for matching, on both sides. A destination
// that embeds an IPv4 address (ip_address::embedded_v4: IPv4-compatible,
// NAT64, 6to4, ...) matches the IPv4 blocks that hold that address as well as
// the IPv6 blocks that hold it as written. Host names match without regard to
// case or one trailing dot.
//
// The guard: destinations a proxy must not reach for its clients (the
// host's loopback, the metadata service, the host's own addresses) are not an
// ordinary rule at the end of the list, which any earlier `allow` would walk
// around. For a destination address the guard holds, only a rule that names
// it opens it: an `allow` whose `to` is a host name (not a .suffix) or an
// address block inside the guarded block that holds the destination (for
// the host's own addresses: that address itself). Other allow rules
// (`allow from ...`, `allow user ...`, `allow to any`, `allow to .suffix`,
// wider blocks) are passed over for it; a deny rule still denies.

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
    /// No destination yet (a UDP ASSOCIATE request: each datagram names its
    /// own): `to` and `port` clauses may or may not match, `to any` alone does.
    bool destination_unknown = false;
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

/// The destinations a listener guards (see the top of this file).
struct guard {
    /// `deny to BLOCK` rules, numbered after the policy's own rules in logs.
    std::vector<rule> rules;
    /// The host's own addresses too (given to check() as they are now).
    bool host_addresses = false;
};

/// An ordered rule list that ends in a default action, behind a guard.
class policy {
public:
    explicit policy(std::vector<rule> rules = {}, action default_action = action::deny,
                    guard g = {});

    /// First match wins. Without a destination address, a rule whose `to` is an
    /// IP or CIDR may or may not match: if such a rule comes before the first
    /// rule that matches for sure and its action differs from that rule's (or
    /// the default's), the verdict is undetermined. A `to NAME` rule never
    /// matches without a destination name. A destination address the guard
    /// holds is decided by the rules that may open it (see above), else denied
    /// by the guard. `host_addresses`: the host's own addresses, normalized.
    decision check(const request_facts& facts,
                   std::span<const ip_address> host_addresses = {}) const;

    /// The rules, then the guard's.
    const std::vector<rule>& rules() const noexcept { return rules_; }
    /// Whether check() needs the host's addresses.
    bool guards_host_addresses() const noexcept { return guard_hosts_; }
    action default_action() const noexcept { return default_action_; }

private:
    decision check_guarded(const request_facts& facts, const ip_address& address,
                           std::span<const ip_address> host_addresses) const;
    /// The guard's rule that holds `a`, or rules_.size() if none does.
    std::size_t guard_rule_for(const ip_address& a) const;
    bool opens(const rule& r, const ip_address& a,
               std::span<const ip_address> host_addresses) const;
    decision decided_by(std::size_t index) const;

    std::vector<rule> rules_;
    std::vector<std::string> texts_; // rules_[i].text(), made once
    action default_action_;
    std::size_t guard_begin_; ///< rules_[guard_begin_..] are the guard's
    bool guard_hosts_;
};

/// The text a decision of the guard names for the host's own addresses.
inline constexpr std::string_view host_addresses_rule = "deny to the host's own addresses";

/// Deny rules for destinations a proxy should not reach for its clients:
/// with `include_always`, loopback, link-local (cloud metadata
/// 169.254.169.254), unspecified, multicast and broadcast; with
/// `include_private_ranges`, RFC 1918, CGNAT 100.64.0.0/10 and IPv6 unique
/// local fc00::/7. Origin "preset".
std::vector<rule> private_destination_rules(bool include_private_ranges,
                                            bool include_always = true);

/// One rule per line; blank lines and `#` comments (a line's first word, or a
/// word that starts with `#` after a space) are ignored. Each rule's origin is
/// "source:line". Throws rule_error prefixed with "source:line: ".
std::vector<rule> parse_rules_file(std::string_view text, std::string_view source);

} // namespace weir::auth
