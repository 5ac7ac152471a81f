#pragma once

#include "auth/rule.hpp"
#include "auth/user_db.hpp"
#include "cli/options.hpp"
#include "socks/server/config.hpp"

#include <filesystem>
#include <memory>
#include <vector>

namespace weir::cli {

/// The access rules, refused whole when one does not parse or when a listener
/// would be an open proxy under them.
std::vector<auth::rule> checked_rules(const options& opts);

/// True when a listener asks SOCKS5 clients for a password.
bool needs_password(const server::config& cfg);

/// The users file, read whole; a warning when other users may read its hashes
/// (or anyone but its owner change them).
std::shared_ptr<const auth::user_db> load_users(const std::filesystem::path& path);

} // namespace weir::cli
