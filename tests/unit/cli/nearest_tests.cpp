#include "cli/nearest.hpp"

#include <string>
#include <vector>

#include <catch2/catch.hpp>

using namespace weir::cli;

TEST_CASE("edit distance counts inserts, deletes, replacements and swaps", "[nearest]") {
    CHECK(edit_distance("", "") == 0);
    CHECK(edit_distance("listen", "listen") == 0);
    CHECK(edit_distance("listne", "listen") == 1); // a swap
    CHECK(edit_distance("lisen", "listen") == 1);
    CHECK(edit_distance("listenn", "listen") == 1);
    CHECK(edit_distance("lusten", "listen") == 1);
    CHECK(edit_distance("", "abc") == 3);
    CHECK(edit_distance("abc", "") == 3);
    CHECK(edit_distance("kitten", "sitting") == 3);
}

TEST_CASE("the nearest option name is suggested only when it is close", "[nearest]") {
    const std::vector<std::string> names{"listen",      "users",        "rule",
                                         "rules-file",  "max-sessions", "max-sessions-per-client",
                                         "idle-timeout"};
    CHECK(nearest("listne", names) == "listen");
    CHECK(nearest("max-sesions", names) == "max-sessions");
    CHECK(nearest("idle-timout", names) == "idle-timeout");
    CHECK(nearest("rules", names) == "rule");
    CHECK(nearest("usres", {"users", "user"}) == "users"); // the first of equals
    CHECK(nearest("rule-file", names) == "rules-file");
    CHECK_FALSE(nearest("no-such-flag", names));
    CHECK_FALSE(nearest("x", names));
    CHECK_FALSE(nearest("ab", {"ac"})); // one edit in two letters is not a typo
    CHECK_FALSE(nearest("timeout", names));
}
