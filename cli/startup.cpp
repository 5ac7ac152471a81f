#include "cli/startup.hpp"

#include "log/log.hpp"
#include "socks/server/access.hpp"

#include <algorithm>

namespace weir::cli {

std::vector<auth::rule> checked_rules(const options& opts) {
    auto rules = server::load_rules(opts.access);
    for (const auto& l : opts.config.listeners)
        server::check_not_open_proxy(l, rules);
    return rules;
}

std::shared_ptr<const auth::user_db> load_users(const std::filesystem::path& path) {
    auto users = std::make_shared<const auth::user_db>(auth::user_db::load(path));
    if (const auto warning = auth::permission_warning(path)) log::warn("{}", *warning);
    return users;
}

bool needs_password(const server::config& cfg) {
    return std::any_of(cfg.listeners.begin(), cfg.listeners.end(),
                       [](const auto& l) { return l.auth == server::auth_mode::password; });
}

} // namespace weir::cli
