// One escaper, three callers: each byte class under each option.
#include "text/escape.hpp"

#include <string>
#include <string_view>

#include <catch2/catch.hpp>

using namespace weir::text;

namespace {

using namespace std::string_view_literals;

constexpr escape_options controls_only{};
constexpr escape_options all_options{.space = true, .backslash = true, .non_ascii = true};

} // namespace

TEST_CASE("control bytes are always escaped", "[escape]") {
    for (const auto options : {controls_only, all_options}) {
        CHECK(escape("\x00"sv, options) == "\\x00");
        CHECK(escape("\x01\x1f"sv, options) == "\\x01\\x1f");
        CHECK(escape("a\tb\nc\rd"sv, options) == "a\\x09b\\x0ac\\x0dd");
        CHECK(escape("\x1b[31m"sv, options) == "\\x1b[31m");
        CHECK(escape("\x7f"sv, options) == "\\x7f"); // DEL
    }
}

TEST_CASE("printable ASCII other than space and backslash is never escaped", "[escape]") {
    std::string printable;
    for (char c = '!'; c <= '~'; ++c) {
        if (c != '\\') printable += c;
    }
    CHECK(printable.size() == 93);
    CHECK(escape(printable, controls_only) == printable);
    CHECK(escape(printable, all_options) == printable);
    CHECK(escape("it's \"quoted\"", controls_only) == "it's \"quoted\"");
    CHECK(escape("", all_options) == "");
}

TEST_CASE("space, backslash and non-ASCII bytes are each escaped when asked", "[escape]") {
    const auto text = "a b\\c\x80\xc3\xa9\xff"sv;
    CHECK(escape(text) == text);
    CHECK(escape(text, controls_only) == text);
    CHECK(escape(text, {.space = true}) == "a\\x20b\\c\x80\xc3\xa9\xff");
    CHECK(escape(text, {.backslash = true}) == "a b\\x5cc\x80\xc3\xa9\xff");
    CHECK(escape(text, {.non_ascii = true}) == "a b\\c\\x80\\xc3\\xa9\\xff");
    CHECK(escape(text, all_options) == "a\\x20b\\x5cc\\x80\\xc3\\xa9\\xff");
}

// The option sets the callers use, on one string with every byte class:
// NUL, tab, newline, DEL, space, backslash, quote, printable, 0x80, 0xff.
TEST_CASE("each caller's escapes", "[escape]") {
    const auto every_class = "\x00\t\n\x7f \\'~A\x80\xff"sv;
    SECTION("proto::to_string, a domain: spaces kept") {
        CHECK(escape(every_class, {.backslash = true, .non_ascii = true}) ==
              "\\x00\\x09\\x0a\\x7f \\x5c'~A\\x80\\xff");
    }
    SECTION("log::printable: one word of a log line") {
        CHECK(escape(every_class, {.space = true, .backslash = true, .non_ascii = true}) ==
              "\\x00\\x09\\x0a\\x7f\\x20\\x5c'~A\\x80\\xff");
    }
    SECTION("auth's rule messages: control bytes only") {
        CHECK(escape(every_class) == "\\x00\\x09\\x0a\\x7f \\'~A\x80\xff");
    }
}

TEST_CASE("append_escaped adds to what is there", "[escape]") {
    std::string out = "'";
    append_escaped(out, "a\nb");
    out += "'";
    CHECK(out == "'a\\x0ab'");
}
