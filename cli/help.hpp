#pragma once

#include "cli/option_table.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace weir::cli {

/// An option of the "general" group that is no option_decl (weir reads it
/// before the others): --config, --help, --version.
struct builtin_option {
    std::string_view left; ///< "--config FILE", "-h, --help"
    std::string_view help;
};

/// --config, -h/--help and --version, in --help order.
const std::vector<builtin_option>& builtin_options();

/// The default --help and the man page show for an option, "10s", "a, b";
/// empty for a flag or an option with no default.
std::string default_text(const option_decl& d, const options& defaults);

/// `weir --help`: usage, the options by group with their value names and
/// defaults (from the option table), units, precedence and examples.
std::string help_text();

} // namespace weir::cli
