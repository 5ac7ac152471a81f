#include "auth/policy.hpp"

#include "text/ascii.hpp"

#include <algorithm>
#include <array>
#include <utility>
#include <variant>

namespace weir::auth {
namespace {

enum class match : std::uint8_t { no, yes, unknown };

constexpr std::string_view no_position = "";

/// Lowercase, one trailing dot dropped: the form host_pattern names are kept in.
std::string normalized_name(std::string_view name) {
    if (!name.empty() && name.back() == '.') name.remove_suffix(1);
    return text::lowercase(name);
}

bool name_matches(const host_pattern& pattern, std::string_view name) {
    const auto n = normalized_name(name);
    if (n == pattern.name) return true;
    const auto& suffix = pattern.name;
    return pattern.suffix && n.size() > suffix.size() && n.ends_with(suffix) &&
           n[n.size() - suffix.size() - 1] == '.';
}

/// As written, or as the IPv4 address it embeds.
bool holds_destination(const cidr& block, const ip_address& a) {
    if (block.contains(a)) return true;
    const auto v4 = a.embedded_v4();
    return v4 && block.contains(*v4);
}

bool is_host_address(const ip_address& a, std::span<const ip_address> host_addresses) {
    const auto v4 = a.embedded_v4();
    const auto n = a.normalized();
    return std::any_of(host_addresses.begin(), host_addresses.end(),
                       [&](const ip_address& h) { return h == n || (v4 && h == *v4); });
}

match match_destination(const destination_match& to, const request_facts& facts) {
    if (std::holds_alternative<any_address>(to)) return match::yes;
    if (const auto* block = std::get_if<cidr>(&to)) {
        if (!facts.destination_address) return match::unknown;
        return holds_destination(*block, *facts.destination_address) ? match::yes : match::no;
    }
    const auto& pattern = std::get<host_pattern>(to);
    const bool yes = facts.destination_name && name_matches(pattern, *facts.destination_name);
    return yes ? match::yes : match::no;
}

match match_rule(const rule& r, const request_facts& facts) {
    if (r.from) {
        const auto* block = std::get_if<cidr>(&*r.from);
        if (block && !block->contains(facts.client)) return match::no;
    }
    if (r.listener && !text::equal_ignoring_case(*r.listener, facts.listener)) return match::no;
    if (r.user && (!facts.user || *facts.user != *r.user)) return match::no;
    if (r.commands && !r.commands->contains(facts.command)) return match::no;
    if (facts.destination_unknown) {
        const bool to_any = !r.to || std::holds_alternative<any_address>(*r.to);
        return !r.port && to_any ? match::yes : match::unknown;
    }
    if (r.port && (facts.port < r.port->first || facts.port > r.port->last)) return match::no;
    if (r.to) return match_destination(*r.to, facts);
    return match::yes;
}

unsigned bit(action a) {
    return 1U << static_cast<unsigned>(a);
}

verdict to_verdict(action a) {
    return a == action::allow ? verdict::allow : verdict::deny;
}

constexpr std::array<std::string_view, 9> always_denied = {
    "deny to 127.0.0.0/8", "deny to ::1",       "deny to 169.254.0.0/16",
    "deny to fe80::/10",   "deny to 0.0.0.0/8", "deny to ::",
    "deny to 224.0.0.0/4", "deny to ff00::/8",  "deny to 255.255.255.255",
};

constexpr std::array<std::string_view, 5> private_ranges = {
    "deny to 10.0.0.0/8",    "deny to 172.16.0.0/12", "deny to 192.168.0.0/16",
    "deny to 100.64.0.0/10", "deny to fc00::/7",
};

/// A rules-file line without its comment and surrounding blanks.
std::string_view strip_comment(std::string_view line) {
    for (std::size_t i = 0; i < line.size(); ++i) {
        if (line[i] == '#' && (i == 0 || line[i - 1] == ' ' || line[i - 1] == '\t')) {
            line = line.substr(0, i);
            break;
        }
    }
    const auto first = line.find_first_not_of(" \t");
    if (first == std::string_view::npos) return {};
    const auto last = line.find_last_not_of(" \t");
    return line.substr(first, last - first + 1);
}

} // namespace

std::string describe(const decision& d) {
    if (d.rule_number == 0) {
        return std::string("the default action '") +
               std::string(d.result == verdict::allow ? "allow" : "deny") + "'";
    }
    auto out = "rule " + std::to_string(d.rule_number) + " '" + std::string(d.rule_text) + "'";
    if (!d.origin.empty()) out += " (" + std::string(d.origin) + ")";
    return out;
}

policy::policy(std::vector<rule> rules, action default_action, guard g)
    : rules_(std::move(rules))
    , default_action_(default_action)
    , guard_begin_(rules_.size())
    , guard_hosts_(g.host_addresses) {
    rules_.insert(rules_.end(), std::make_move_iterator(g.rules.begin()),
                  std::make_move_iterator(g.rules.end()));
    texts_.reserve(rules_.size());
    for (const auto& r : rules_)
        texts_.push_back(r.text());
}

decision policy::decided_by(std::size_t index) const {
    if (index == rules_.size()) // the host's own addresses: after the guard's rules
        return {verdict::deny, index + 1, host_addresses_rule, "preset"};
    return {to_verdict(rules_[index].act), index + 1, texts_[index], rules_[index].origin};
}

std::size_t policy::guard_rule_for(const ip_address& a) const {
    for (std::size_t i = guard_begin_; i < rules_.size(); ++i) {
        const auto* block = rules_[i].to ? std::get_if<cidr>(&*rules_[i].to) : nullptr;
        if (block != nullptr && holds_destination(*block, a)) return i;
    }
    return rules_.size();
}

// An allow rule opens a guarded destination only by naming it: a host name,
// or a block inside the guarded block (for a host address: that address).
bool policy::opens(const rule& r, const ip_address& a,
                   std::span<const ip_address> host_addresses) const {
    if (r.act != action::allow || !r.to) return false;
    if (const auto* name = std::get_if<host_pattern>(&*r.to)) return !name->suffix;
    const auto* block = std::get_if<cidr>(&*r.to);
    if (block == nullptr) return false; // any
    for (std::size_t i = guard_begin_; i < rules_.size(); ++i) {
        const auto& guarded = std::get<cidr>(*rules_[i].to);
        if (holds_destination(guarded, a) && guarded.contains(*block)) return true;
    }
    const bool single = block->prefix() == (block->network().is_v4() ? 32U : 128U);
    return single && is_host_address(block->network(), host_addresses);
}

decision policy::check_guarded(const request_facts& facts, const ip_address& address,
                               std::span<const ip_address> host_addresses) const {
    const auto guard_rule = guard_rule_for(address);
    if (guard_rule == rules_.size() && !(guard_hosts_ && is_host_address(address, host_addresses)))
        return {verdict::undetermined, 0, no_position, no_position}; // not guarded
    for (std::size_t i = 0; i < guard_begin_; ++i) {
        const auto& r = rules_[i];
        if (match_rule(r, facts) != match::yes) continue;
        if (r.act == action::deny || opens(r, address, host_addresses)) return decided_by(i);
    }
    return decided_by(guard_rule);
}

decision policy::check(const request_facts& facts,
                       std::span<const ip_address> host_addresses) const {
    if (facts.destination_address && (guard_begin_ < rules_.size() || guard_hosts_)) {
        const auto d = check_guarded(facts, *facts.destination_address, host_addresses);
        if (d.result != verdict::undetermined) return d;
    }
    unsigned pending = 0; // bit(action) of each rule that may match once the address is known
    std::size_t first_pending = rules_.size();
    const auto decide = [&](action a, std::size_t index) -> decision {
        if ((pending & ~bit(a)) != 0) {
            return {verdict::undetermined, first_pending + 1, texts_[first_pending],
                    rules_[first_pending].origin};
        }
        if (index == rules_.size()) return {to_verdict(a), 0, no_position, no_position};
        return {to_verdict(a), index + 1, texts_[index], rules_[index].origin};
    };
    for (std::size_t i = 0; i < rules_.size(); ++i) {
        const auto m = match_rule(rules_[i], facts);
        if (m == match::yes) return decide(rules_[i].act, i);
        if (m == match::unknown) {
            pending |= bit(rules_[i].act);
            first_pending = std::min(first_pending, i);
        }
    }
    return decide(default_action_, rules_.size());
}

std::vector<rule> private_destination_rules(bool include_private_ranges, bool include_always) {
    std::vector<rule> out;
    const auto add = [&out](std::string_view text) {
        out.push_back(parse_rule(text));
        out.back().origin = "preset";
    };
    if (include_always) std::for_each(always_denied.begin(), always_denied.end(), add);
    if (include_private_ranges) std::for_each(private_ranges.begin(), private_ranges.end(), add);
    return out;
}

std::vector<rule> parse_rules_file(std::string_view text, std::string_view source) {
    std::vector<rule> out;
    std::size_t line_number = 0;
    while (!text.empty()) {
        const auto end = std::min(text.find('\n'), text.size());
        auto line = text.substr(0, end);
        text = end == text.size() ? std::string_view{} : text.substr(end + 1);
        ++line_number;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        line = strip_comment(line);
        if (line.empty()) continue;
        const auto where = std::string(source) + ':' + std::to_string(line_number);
        try {
            out.push_back(parse_rule(line));
        } catch (const rule_error& e) {
            throw rule_error(where + ": " + e.what());
        }
        out.back().origin = where;
    }
    return out;
}

} // namespace weir::auth
