#include "auth/rule.hpp"

#include "text/ascii.hpp"
#include "text/escape.hpp"
#include "text/field.hpp"
#include "text/host_name.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <vector>

namespace weir::auth {
namespace {

constexpr std::array<std::string_view, 6> clause_words = {"from", "listener", "user",
                                                          "to",   "port",     "command"};

/// The rule as it appears in messages: control bytes (tabs too) as \xNN, so a
/// message stays one line; spaces, backslashes and non-ASCII bytes as they are.
std::string quoted(std::string_view raw) {
    std::string out = "'";
    text::append_escaped(out, raw);
    return out + "'";
}

/// Reads a rule word by word and throws rule_error naming the rule and the word.
class parser {
public:
    explicit parser(std::string_view rule_text)
        : text_(rule_text) {
        for (std::size_t i = 0; i < rule_text.size(); ++i) {
            const char c = rule_text[i];
            if (text::is_control(c) && c != '\t') // a tab separates words
                fail("control character at byte " + std::to_string(i + 1));
        }
        std::size_t pos = 0;
        while ((pos = rule_text.find_first_not_of(" \t", pos)) != std::string_view::npos) {
            const auto end = std::min(rule_text.find_first_of(" \t", pos), rule_text.size());
            words_.push_back(rule_text.substr(pos, end - pos));
            pos = end;
        }
    }

    [[noreturn]] void fail(const std::string& problem) const {
        throw rule_error("rule " + quoted(text_) + ": " + problem);
    }
    [[noreturn]] void fail_at(std::size_t word, const std::string& problem,
                              std::string_view expected) const {
        fail(problem + " at word " + std::to_string(word + 1) + " (" + std::string(expected) + ")");
    }

    std::size_t size() const noexcept { return words_.size(); }
    std::string_view word(std::size_t i) const { return words_[i]; }
    std::string quoted_word(std::size_t i) const { return quoted(words_[i]); }

private:
    std::string_view text_;
    std::vector<std::string_view> words_;
};

constexpr std::string_view expect_clause = "expected from, listener, user, to, port, command";
constexpr std::string_view expect_source = "expected an IP address, a CIDR or any";
constexpr std::string_view expect_destination =
    "expected any, an IP address, a CIDR, a host name or a .suffix";
constexpr std::string_view expect_port = "expected 1-65535 or a range N-M";
constexpr std::string_view expect_command = "expected connect, bind, udp, comma-separated";
constexpr std::string_view expect_listener = "expected a URL such as socks5://0.0.0.0:1088";

cidr parse_block(const parser& p, std::size_t i, std::string_view expected) {
    cidr::parse_error error = cidr::parse_error::none;
    const auto word = p.word(i);
    if (auto block = cidr::parse(word, &error)) return *block;
    if (error == cidr::parse_error::host_bits_set) {
        const auto slash = word.find('/');
        const auto address = ip_address::parse(word.substr(0, slash));
        const auto prefix = std::stoul(std::string(word.substr(slash + 1)));
        const cidr network(*address, static_cast<unsigned>(prefix));
        p.fail_at(i, "host bits set in " + p.quoted_word(i),
                  "the network is " + network.network().to_string() + '/' +
                      std::to_string(network.prefix()));
    }
    if (error == cidr::parse_error::bad_prefix) {
        const bool v4 = word.find(':') == std::string_view::npos;
        p.fail_at(i, "bad prefix length in " + p.quoted_word(i),
                  v4 ? "expected 0-32" : "expected 0-128");
    }
    p.fail_at(i, "bad address " + p.quoted_word(i), expected);
}

source_match parse_source(const parser& p, std::size_t i) {
    if (text::lowercase(p.word(i)) == "any") return any_address{};
    return parse_block(p, i, expect_source);
}

bool is_all_digits(std::string_view s) {
    return !s.empty() &&
           std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

/// A host name as rules keep it (text::is_host_name, lowercase, the trailing
/// dot already dropped), the last label not all digits (so "127.1" or "10.0.0"
/// is not taken for a name).
bool valid_host_name(std::string_view name) {
    if (name.ends_with('.') || !text::is_host_name(name)) return false;
    return !is_all_digits(name.substr(name.rfind('.') + 1));
}

destination_match parse_destination(const parser& p, std::size_t i) {
    const auto word = text::lowercase(p.word(i));
    if (word == "any") return any_address{};
    if (word.find_first_of(":/") != std::string::npos || ip_address::parse(word))
        return parse_block(p, i, expect_destination);
    host_pattern pattern{word, false};
    if (!pattern.name.empty() && pattern.name.back() == '.') pattern.name.pop_back();
    if (!pattern.name.empty() && pattern.name.front() == '.') {
        pattern.name.erase(0, 1);
        pattern.suffix = true;
    }
    if (!valid_host_name(pattern.name))
        p.fail_at(i, "bad destination " + p.quoted_word(i), expect_destination);
    return pattern;
}

std::optional<std::uint16_t> parse_port_number(std::string_view text) {
    if (text.empty() || text.size() > 5 || text[0] == '0' || !is_all_digits(text)) return {};
    unsigned value = 0;
    for (char c : text)
        value = value * 10 + static_cast<unsigned>(c - '0');
    if (value > 65535) return {};
    return static_cast<std::uint16_t>(value);
}

port_range parse_ports(const parser& p, std::size_t i) {
    const auto word = p.word(i);
    const auto dash = word.find('-');
    const auto first = parse_port_number(word.substr(0, dash));
    const auto last =
        dash == std::string_view::npos ? first : parse_port_number(word.substr(dash + 1));
    if (!first || !last) p.fail_at(i, "bad port " + p.quoted_word(i), expect_port);
    if (*first > *last)
        p.fail_at(i, "bad port range " + p.quoted_word(i), "the first port is above the last");
    return {*first, *last};
}

command_set parse_commands(const parser& p, std::size_t i) {
    command_set set;
    const auto list = p.word(i);
    std::size_t start = 0;
    while (true) {
        const auto comma = std::min(list.find(',', start), list.size());
        const auto name = text::lowercase(list.substr(start, comma - start));
        if (name == "connect")
            set.connect = true;
        else if (name == "bind")
            set.bind = true;
        else if (name == "udp")
            set.udp = true;
        else
            p.fail_at(i, "unknown command " + quoted(name) + " in " + p.quoted_word(i),
                      expect_command);
        if (comma == list.size()) return set;
        start = comma + 1;
    }
}

std::string parse_listener(const parser& p, std::size_t i) {
    const auto url = text::lowercase(p.word(i));
    const auto sep = url.find("://");
    if (sep == std::string::npos || sep == 0 || sep + 3 == url.size())
        p.fail_at(i, "bad listener " + p.quoted_word(i), expect_listener);
    return url;
}

std::string parse_user(const parser& p, std::size_t i) {
    if (p.word(i).size() > text::max_field)
        p.fail_at(i, "bad user name " + p.quoted_word(i), "at most 255 bytes");
    return std::string(p.word(i));
}

/// What a clause's value should look like, for "missing value" messages.
std::string_view expected_value(std::string_view keyword) {
    if (keyword == "from") return expect_source;
    if (keyword == "to") return expect_destination;
    if (keyword == "port") return expect_port;
    if (keyword == "command") return expect_command;
    if (keyword == "listener") return expect_listener;
    return "expected a user name";
}

void parse_clause(const parser& p, std::size_t i, std::string_view keyword, rule& r) {
    if (keyword == "from")
        r.from = parse_source(p, i);
    else if (keyword == "listener")
        r.listener = parse_listener(p, i);
    else if (keyword == "user")
        r.user = parse_user(p, i);
    else if (keyword == "to")
        r.to = parse_destination(p, i);
    else if (keyword == "port")
        r.port = parse_ports(p, i);
    else
        r.commands = parse_commands(p, i);
}

action parse_action(const parser& p) {
    if (p.size() == 0) p.fail("empty rule (expected allow or deny)");
    const auto word = text::lowercase(p.word(0));
    if (word == "allow") return action::allow;
    if (word == "deny") return action::deny;
    p.fail_at(0, "unknown word " + p.quoted_word(0), "expected allow or deny");
}

} // namespace

bool is_clause_word(std::string_view word) {
    const auto w = text::lowercase(word);
    return std::find(clause_words.begin(), clause_words.end(), w) != clause_words.end();
}

rule parse_rule(std::string_view rule_text) {
    const parser p(rule_text);
    rule r;
    r.act = parse_action(p);
    std::array<std::size_t, clause_words.size()> seen_at{}; // word index + 1, 0 = not yet
    for (std::size_t i = 1; i < p.size(); i += 2) {
        const auto keyword = text::lowercase(p.word(i));
        const auto found = std::find(clause_words.begin(), clause_words.end(), keyword);
        if (found == clause_words.end())
            p.fail_at(i, "unknown word " + p.quoted_word(i), expect_clause);
        auto& seen = seen_at[static_cast<std::size_t>(found - clause_words.begin())];
        if (seen != 0) {
            p.fail_at(i, "repeated clause " + p.quoted_word(i),
                      "already given at word " + std::to_string(seen));
        }
        seen = i + 1;
        if (i + 1 == p.size() || is_clause_word(p.word(i + 1)))
            p.fail_at(i + 1, "missing value after " + p.quoted_word(i), expected_value(keyword));
        parse_clause(p, i + 1, keyword, r);
    }
    return r;
}

} // namespace weir::auth
