#pragma once

#include <string>

namespace weir::cli {

/// `weir --help`: usage, the options by group with their value names and
/// defaults (from the option table), units, precedence and examples.
std::string help_text();

} // namespace weir::cli
