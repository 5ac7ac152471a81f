#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace weir::cli {

/// One `key = value` of a config file.
struct config_entry {
    std::string key;
    std::vector<std::string> values; ///< one for a scalar, each element of an array
    std::size_t line = 0;            ///< where the key is, from 1
    bool array = false;              ///< written as [ ... ]

    bool operator==(const config_entry&) const = default;
};

/// A line that is not `key = value`; what() says why, without the line number.
struct config_syntax_error : std::runtime_error {
    config_syntax_error(std::size_t at, const std::string& what)
        : std::runtime_error(what)
        , line(at) {}
    std::size_t line;
};

/// Parses the TOML subset weir's config files use (INI's `key=value` too):
/// `# comments`, blank lines, and `key = value` where value is a "string"
/// (with \" \\ \n \t escapes), a 'literal string', a bare word (number,
/// true, false, 15m), or an array of those `[ "a", "b" ]` that may span
/// lines. Tables ([section]) are refused: every key is a long option.
/// Throws config_syntax_error.
std::vector<config_entry> parse_config(std::string_view text);

} // namespace weir::cli
