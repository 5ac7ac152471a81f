// libFuzzer target: the access-rule parser and policy::check.
//
// The input is parsed as one rule and as a rules file. Checked on the way:
// canonical text parses back to the same rule; addresses print and parse back;
// a verdict given before the destination address is known never changes once
// an address is known (the soundness of the three-valued check).

#include "auth/policy.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace {

using namespace weir::auth;

void require(bool ok, const char* what) {
    if (ok) return;
    std::fprintf(stderr, "fuzz_rule: broken invariant: %s\n", what);
    std::abort();
}

constexpr std::size_t max_candidates = 8;

void check_round_trip(const rule& r) {
    const auto text = r.text();
    rule again = parse_rule(text);
    again.origin = r.origin;
    require(again == r, "canonical text parses back to the same rule");
    require(again.text() == text, "canonical text is stable");
}

void check_words(std::string_view text) {
    std::size_t pos = 0;
    while ((pos = text.find_first_not_of(" \t\n", pos)) != std::string_view::npos) {
        const auto end = std::min(text.find_first_of(" \t\n", pos), text.size());
        const auto word = text.substr(pos, end - pos);
        pos = end;
        if (const auto a = ip_address::parse(word)) {
            require(ip_address::parse(a->to_string()) == a, "address prints and parses back");
            require(cidr(*a).contains(*a), "a host block holds its host");
        }
        if (const auto block = cidr::parse(word)) {
            require(cidr::parse(block->to_string()) == block, "block prints and parses back");
            require(block->contains(block->network()), "a block holds its network");
        }
    }
}

/// Addresses and names the rules talk about, and a few near them.
void collect(const std::vector<rule>& rules, std::vector<ip_address>& addresses,
             std::vector<std::string>& names) {
    addresses = {*ip_address::parse("127.0.0.1"), *ip_address::parse("::ffff:10.0.0.1"),
                 *ip_address::parse("::1")};
    names = {"example.com", "localhost."};
    for (const auto& r : rules) {
        if (!r.to) continue;
        if (const auto* block = std::get_if<cidr>(&*r.to)) {
            if (addresses.size() < max_candidates) addresses.push_back(block->network());
        } else if (const auto* pattern = std::get_if<host_pattern>(&*r.to)) {
            if (names.size() + 1 < max_candidates) {
                names.push_back(pattern->name);
                names.push_back("X." + pattern->name + ".");
            }
        }
    }
}

void check_policy(const std::vector<rule>& rules, const std::uint8_t* data, std::size_t size) {
    std::vector<ip_address> addresses;
    std::vector<std::string> names;
    collect(rules, addresses, names);
    const policy p(rules, (data[0] & 1) != 0 ? action::allow : action::deny);
    request_facts f;
    f.client = addresses[data[size - 1] % addresses.size()];
    f.listener = "socks5://0.0.0.0:1088";
    if ((data[0] & 2) != 0) f.user = "alice";
    f.port = static_cast<std::uint16_t>(data[size / 2] << 8 | data[size - 1]);
    f.command = static_cast<request_command>(data[0] % 3);
    for (const auto& name : names) {
        f.destination_name = name;
        f.destination_address.reset();
        const auto before = p.check(f);
        require(before.rule_number <= rules.size(), "rule number in range");
        for (const auto& a : addresses) {
            f.destination_address = a;
            const auto after = p.check(f);
            require(after.result != verdict::undetermined, "an address decides");
            if (before.result != verdict::undetermined)
                require(after.result == before.result, "a decided verdict holds for every address");
        }
    }
}

/// Behind the guard, a guarded destination is only ever allowed by a rule that
/// names it: a `to` host name or address block, never `any` or a suffix.
void check_guard(const std::vector<rule>& rules, const std::uint8_t* data, std::size_t size) {
    std::vector<ip_address> addresses;
    std::vector<std::string> names;
    collect(rules, addresses, names);
    const auto fallback = (data[0] & 1) != 0 ? action::allow : action::deny;
    const policy guarded(rules, fallback, guard{private_destination_rules(false), true});
    const policy preset_only({}, action::allow, guard{private_destination_rules(false), true});
    const std::vector<ip_address> host = {*ip_address::parse("10.0.0.1")};
    request_facts f;
    f.client = addresses[data[size - 1] % addresses.size()];
    f.listener = "socks5://0.0.0.0:1088";
    if ((data[0] & 2) != 0) f.user = "alice";
    f.port = static_cast<std::uint16_t>(data[size / 2] << 8 | data[size - 1]);
    for (const auto& name : names) {
        f.destination_name = name;
        for (const auto& a : addresses) {
            f.destination_address = a;
            if (preset_only.check(f, host).result != verdict::deny) continue; // not guarded
            const auto d = guarded.check(f, host);
            require(d.result != verdict::undetermined, "an address decides");
            if (d.result != verdict::allow) continue;
            require(d.rule_number >= 1 && d.rule_number <= rules.size(), "allowed by a rule");
            const auto& r = rules[d.rule_number - 1];
            const auto* pattern = r.to ? std::get_if<host_pattern>(&*r.to) : nullptr;
            const bool named = r.to && (std::holds_alternative<cidr>(*r.to) ||
                                        (pattern != nullptr && !pattern->suffix));
            require(named, "a guarded destination is opened only by a rule naming it");
        }
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    check_words(text);
    try {
        check_round_trip(parse_rule(text));
    } catch (const rule_error&) {
    }
    std::vector<rule> rules;
    try {
        rules = parse_rules_file(text, "fuzz");
    } catch (const rule_error&) {
        return 0;
    }
    for (const auto& r : rules)
        check_round_trip(r);
    check_policy(rules, data, size);
    check_guard(rules, data, size);
    return 0;
}
