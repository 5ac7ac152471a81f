#include "cli/config_file.hpp"

#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

using namespace weir::cli;

namespace {

config_entry entry(std::string key, std::vector<std::string> values, std::size_t line,
                   bool array = false) {
    return {std::move(key), std::move(values), line, array};
}

// The message and line a malformed file is refused with.
std::pair<std::string, std::size_t> refusal(const std::string& text) {
    try {
        parse_config(text);
    } catch (const config_syntax_error& e) {
        return {e.what(), e.line};
    }
    return {"accepted", 0};
}

} // namespace

TEST_CASE("config file: keys, every kind of value, comments and lines", "[config_file]") {
    const std::string text = "# weir.toml\n"
                             "\n"
                             "listen = [\"socks5://127.0.0.1:1080\", 'socks://[::1]:0']\n"
                             "idle-timeout = \"15m\"   # a comment\n"
                             "max-sessions=100\n"
                             "  deny-private-ranges = true\n"
                             "rule = [\n"
                             "  \"deny to 10.0.0.0/8\",  # first\n"
                             "  \"allow\",\n"
                             "]\n"
                             "users = /etc/weir/users.txt\r\n"
                             "run-as = \"a \\\"b\\\" \\\\ c#d\"\n"
                             "rules-file = 'C:\\no\\escapes'\n"
                             "empty = []";
    const std::vector<config_entry> expected{
        entry("listen", {"socks5://127.0.0.1:1080", "socks://[::1]:0"}, 3, true),
        entry("idle-timeout", {"15m"}, 4),
        entry("max-sessions", {"100"}, 5),
        entry("deny-private-ranges", {"true"}, 6),
        entry("rule", {"deny to 10.0.0.0/8", "allow"}, 7, true),
        entry("users", {"/etc/weir/users.txt"}, 11),
        entry("run-as", {"a \"b\" \\ c#d"}, 12),
        entry("rules-file", {"C:\\no\\escapes"}, 13),
        entry("empty", {}, 14, true),
    };
    const auto got = parse_config(text);
    REQUIRE(got.size() == expected.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
        CAPTURE(i, got[i].key);
        CHECK(got[i] == expected[i]);
    }
}

TEST_CASE("config file: an empty file or only comments has no keys", "[config_file]") {
    CHECK(parse_config("").empty());
    CHECK(parse_config("\n\n# nothing\n   \n").empty());
}

TEST_CASE("config file: malformed lines are refused with their line", "[config_file]") {
    const std::pair<std::string, std::pair<std::string, std::size_t>> cases[] = {
        {"[server]\nlisten = 1", {"sections are not supported: every key is a long option", 1}},
        {"a = 1\nlisten\n", {"expected = after listen", 2}},
        {"= 1", {"expected a key (a long option without --)", 1}},
        {"\n\nlisten = \"abc\n", {"unterminated string", 3}},
        {"listen = \"a\" \"b\"", {"unexpected text after the value", 1}},
        {"listen = [\"a\" \"b\"]", {"expected , or ] in the array", 1}},
        {"listen = [\"a\",\n\"b\"", {"unterminated array", 2}},
        {"listen = [[\"a\"]]", {"nested arrays are not supported", 1}},
        {"listen = \"\\x\"", {"unknown escape \\x", 1}},
        {"listen =\nrule = 1", {"missing value", 1}},
        {"listen = # nothing", {"missing value", 1}},
        {"listen.x = 1", {"expected = after listen", 1}},
    };
    for (const auto& [text, expected] : cases) {
        CAPTURE(text);
        CHECK(refusal(text) == expected);
    }
}
