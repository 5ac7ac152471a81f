#include "cli/check.hpp"

#include "auth/rule.hpp"
#include "auth/user_db.hpp"
#include "cli/generated_credential.hpp"
#include "cli/run_as.hpp"
#include "cli/startup.hpp"
#include "socks/server/server.hpp"

#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <unistd.h>

#include <fmt/core.h>

namespace weir::cli {
namespace {

// An error about option `name`, prefixed with where its value came from.
struct check_error : std::runtime_error {
    check_error(const options& opts, std::string_view name, std::string_view what)
        : std::runtime_error(fmt::format("{}: {}", where(opts, name), what)) {}
};

void print_settings(const options& opts) {
    for (const auto& s : opts.settings) {
        if (s.value.empty()) {
            fmt::print("# {} is not set ({})\n", s.name, s.origin);
        } else {
            fmt::print("{} = {}  # {}\n", s.name, s.value, s.origin);
        }
    }
    std::fflush(stdout);
}

std::vector<auth::rule> check_rules(const options& opts) {
    for (const auto& text : opts.access.rules) {
        try {
            auth::parse_rule(text);
        } catch (const auth::rule_error& e) {
            throw check_error(opts, "rule", e.what());
        }
    }
    try {
        server::load_rules(opts.access);
    } catch (const std::exception& e) {
        throw check_error(opts, "rules-file", e.what());
    }
    return checked_rules(opts); // the open-proxy error names the listener itself
}

// Without --users, where start-up would find or keep the generated credential.
std::size_t check_generated(const options& opts) {
    if (!needs_password(opts.config)) return 0;
    const auto dir = state_directory(::geteuid());
    if (!dir) {
        fmt::print("# users: a credential generated at every start (no state directory)\n");
        return 1;
    }
    const auto file = kept_users_file(*dir);
    std::error_code ec;
    if (!std::filesystem::exists(std::filesystem::symlink_status(file, ec))) {
        fmt::print("# users: a credential generated at the first start, kept in {}\n",
                   file.string());
        return 1;
    }
    fmt::print("# users: the generated credential kept in {}\n", file.string());
    return load_users(file)->size();
}

std::size_t check_users(const options& opts) {
    try {
        if (!opts.users_file) return check_generated(opts);
        return load_users(*opts.users_file)->size();
    } catch (const auth::users_file_error& e) {
        throw check_error(opts, "users", e.what());
    }
}

void check_run_as(const options& opts) {
    if (!opts.run_as) return;
    try {
        lookup_identity(*opts.run_as);
    } catch (const std::invalid_argument& e) {
        throw check_error(opts, "run-as", e.what());
    }
}

// Binds every listener as start-up would (one thread), then lets go.
void check_ports(const options& opts, const std::vector<auth::rule>& rules) {
    auto cfg = opts.config;
    cfg.threads = 1;
    if (cfg.max_sessions == 0) cfg.max_sessions = 1;
    server::server srv(cfg, nullptr);
    try {
        srv.bind();
    } catch (const server::startup_error& e) {
        throw check_error(opts, "listen", e.what());
    }
    try {
        srv.set_access(rules, opts.access);
    } catch (const auth::rule_error& e) {
        throw check_error(opts, "rule", e.what());
    }
}

} // namespace

int run_check(const options& opts) {
    print_settings(opts);
    try {
        const auto rules = check_rules(opts);
        const auto users = check_users(opts);
        check_run_as(opts);
        check_ports(opts, rules);
        fmt::print("# ok: {} listener(s) bound and released, {} rule(s), {} user(s)\n",
                   opts.config.listeners.size(), rules.size(), users);
        return 0;
    } catch (const std::exception& e) {
        std::fflush(stdout);
        std::fprintf(stderr, "weir: error: %s\n", e.what());
        return 2;
    }
}

} // namespace weir::cli
