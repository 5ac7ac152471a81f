#include "log/log.hpp"

#include <cstdio>
#include <string>
#include <unistd.h>
#include <utility>

#include <catch2/catch.hpp>

namespace {

using namespace weir;

// The lines `write_lines` writes to stderr (where the log goes), in `f`.
template <typename F>
std::string captured(log::format f, F&& write_lines) {
    std::FILE* file = std::tmpfile();
    REQUIRE(file != nullptr);
    const int saved = ::dup(STDERR_FILENO);
    ::dup2(::fileno(file), STDERR_FILENO);
    log::set_format(f);
    write_lines();
    log::set_format(log::format::text);
    ::dup2(saved, STDERR_FILENO);
    ::close(saved);
    std::rewind(file);
    std::string text;
    for (int c; (c = std::fgetc(file)) != EOF;)
        text.push_back(static_cast<char>(c));
    std::fclose(file);
    return text;
}

// The line without its timestamp (24 characters and a separator).
std::string after_stamp(const std::string& line, std::size_t at) {
    return line.substr(at);
}

} // namespace

TEST_CASE("an event in text is its message", "[log][event]") {
    const auto text = captured(log::format::text, [] {
        log::event(log::level::info, "reload", {{"users", std::uint64_t{3}}},
                   "reload: 3 user(s), 0 rule(s)");
    });
    REQUIRE(text.size() > 25);
    CHECK(after_stamp(text, 24) == " info reload: 3 user(s), 0 rule(s)\n");
}

TEST_CASE("an event in JSON: typed fields, escaped strings, empty ones left out", "[log][event]") {
    const auto text = captured(log::format::json, [] {
        log::event(log::level::warn, "session",
                   {{"client", std::string_view("127.0.0.1:5")},
                    {"target", std::string_view("a\"b\\c\x01\xe9")},
                    {"resolved", std::string_view()},
                    {"up", std::uint64_t{42}},
                    {"duration", 1.5},
                    {"proxy_protocol", false}},
                   "");
    });
    // {"timestamp":"2026-12-05T12:00:00.000Z" : 14 + 24 + 1 characters before ,"level"
    REQUIRE(text.rfind(R"({"timestamp":")", 0) == 0);
    CHECK(after_stamp(text, 39) ==
          R"(,"level":"warn","event":"session","client":"127.0.0.1:5",)"
          R"("target":"a\"b\\c\u0001\u00e9","up":42,"duration":1.500,"proxy_protocol":false})"
          "\n");
}

TEST_CASE("a plain line in JSON is a log event with its message", "[log][event]") {
    const auto text = captured(log::format::json, [] { log::info("listening on {}", "x\ty"); });
    CHECK(after_stamp(text, 39) ==
          R"(,"level":"info","event":"log","message":"listening on x\u0009y"})"
          "\n");
}
