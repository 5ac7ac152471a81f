#pragma once

#include <string>

namespace weir::cli {

/// `weir passwd NAME`: reads a password (a hidden prompt, asked twice, on a
/// terminal; else the first line of stdin) and prints `NAME:$argon2id$...`.
/// Returns the exit status.
int run_passwd(const std::string& name);

} // namespace weir::cli
