#pragma once

#include "cli/options.hpp"

namespace weir::cli {

/// `weir check`: prints the configuration in force, one `name = value  #
/// origin` line per option (a users file by its path only), then checks
/// what start-up would: the rules (and that no listener is an open proxy
/// under them), the users file, the --run-as user, and the listening ports
/// (bound, then let go). Returns 0, or 2 after one `weir: error:` line
/// naming the option, and for a config-file key its file and line.
int run_check(const options& opts);

} // namespace weir::cli
