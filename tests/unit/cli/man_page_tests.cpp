#include "cli/man_page.hpp"
#include "cli/option_table.hpp"

#include <string>

#include <catch2/catch.hpp>

using namespace weir::cli;

TEST_CASE("roff text escapes dashes, backslashes, quotes and a leading dot", "[man]") {
    CHECK(roff_text("--idle-timeout") == "\\-\\-idle\\-timeout");
    CHECK(roff_text("a\\b") == "a\\eb");
    CHECK(roff_text("'allow from 10.0.0.0/8'") == "\\(aqallow from 10.0.0.0/8\\(aq");
    CHECK(roff_text(".corp.example") == "\\&.corp.example");
    CHECK(roff_text("'x") == "\\(aqx"); // a leading ' is escaped like any other
    CHECK(roff_text("a.b") == "a.b");
    CHECK(roff_text("") == "");
}

TEST_CASE("roff text sets text in backticks in bold, closing an open one", "[man]") {
    CHECK(roff_text("run `weir passwd NAME` first") == "run \\fBweir passwd NAME\\fR first");
    CHECK(roff_text("`open") == "\\fBopen\\fR");
}

TEST_CASE("roff text lets a long word break after / ? & | ,", "[man]") {
    CHECK(roff_text("short/word") == "short/word");
    CHECK(roff_text("socks5://0.0.0.0:1088?auth=password,socks://x") ==
          "socks5://0.0.0.0:1088?\\:auth=password,\\:socks://\\:x");
}

TEST_CASE("the man page has every option of the table, its variable and key", "[man]") {
    const auto page = man_page("9.9.9", "/usr/share/doc/weir");
    CHECK(page.starts_with(".TH WEIR 1 \"\" \"weir 9.9.9\" \"User Commands\"\n"));
    CHECK(page.find("weir \\- a SOCKS4, SOCKS4a and SOCKS5 proxy server\n") != std::string::npos);
    CHECK(page.find("/usr/share/doc/weir") != std::string::npos);
    for (const auto& d : option_table()) {
        CAPTURE(d.name);
        CHECK(page.find(".TP\n\\fB" + roff_text("--" + std::string(d.name)) + "\\fR") !=
              std::string::npos);
        CHECK(page.find("Variable: \\fB" + env_name(d.name) + "\\fR") != std::string::npos);
        CHECK(page.find("Config key: \\fB" + roff_text(d.name) + "\\fR.") != std::string::npos);
    }
}
