// weir: wiring. Options -> config, users, server, signals.
#include "auth/user_db.hpp"
#include "auth/verifier.hpp"
#include "cli/check.hpp"
#include "cli/options.hpp"
#include "cli/passwd.hpp"
#include "cli/run_as.hpp"
#include "cli/startup.hpp"
#include "log/log.hpp"
#include "socks/server/server.hpp"

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <sys/resource.h>

#include <asio/signal_set.hpp>
#include <sodium.h>

namespace {

using namespace weir;
using cli::checked_rules;
using cli::load_users;

// Each session holds 2 sockets (and pipes while bytes are in flight): use every
// descriptor the hard limit allows. Returns the limit in force.
std::size_t raise_nofile_limit() {
    rlimit lim{};
    if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return 1024;
    if (lim.rlim_cur != lim.rlim_max) {
        const auto wanted = lim.rlim_max;
        lim.rlim_cur = lim.rlim_max;
        if (::setrlimit(RLIMIT_NOFILE, &lim) != 0) {
            log::warn("could not raise the open-file limit to {}", wanted);
            ::getrlimit(RLIMIT_NOFILE, &lim);
        }
    }
    return static_cast<std::size_t>(lim.rlim_cur);
}

// Two descriptors a session, and some to spare for listeners, pipes and logs.
std::size_t sessions_for(std::size_t nofile) {
    return nofile > 256 ? (nofile - 128) / 2 : 64;
}

// SIGHUP: read the users file and the rules again. Either with an error
// changes nothing: the running configuration stays whole.
void reload(const cli::options& opts, auth::verifier* verifier, server::server& srv) {
    try {
        std::shared_ptr<const auth::user_db> users;
        if (opts.users_file && verifier != nullptr) users = load_users(*opts.users_file);
        const auto rules = checked_rules(opts);
        srv.set_access(rules, opts.access); // refuses rules naming no listener, changing nothing
        if (users) verifier->replace_users(users);
        log::info("reload: {} user(s), {} rule(s)", users ? users->size() : 0, rules.size());
    } catch (const std::exception& e) {
        log::error("reload failed, keeping the running configuration: {}", e.what());
    }
}

bool needs_password(const server::config& cfg) {
    return std::any_of(cfg.listeners.begin(), cfg.listeners.end(),
                       [](const auto& l) { return l.auth == server::auth_mode::password; });
}

// With no users file, a password listener gets one random credential, printed
// once here and never logged.
std::shared_ptr<const auth::user_db> generated_users() {
    unsigned char raw[18];
    randombytes_buf(raw, sizeof raw);
    char password[sodium_base64_ENCODED_LEN(sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
    sodium_bin2base64(password, sizeof password, raw, sizeof raw,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    auto db = std::make_shared<const auth::user_db>(auth::user_db::single("weir", password));
    std::fprintf(stderr,
                 "weir: no --users file; generated credential for the password listeners "
                 "(shown once): user=weir password=%s\n",
                 password);
    sodium_memzero(password, sizeof password);
    sodium_memzero(raw, sizeof raw);
    return db;
}

int serve(cli::options& opts) {
    const auto rules = checked_rules(opts);
    std::optional<cli::identity> run_as;
    if (opts.run_as) run_as = cli::lookup_identity(*opts.run_as);
    std::shared_ptr<auth::verifier> verifier;
    if (opts.users_file || needs_password(opts.config)) {
        auto users = opts.users_file ? load_users(*opts.users_file) : generated_users();
        verifier = std::make_shared<auth::verifier>(std::move(users), auth::verifier::options{});
    }
    const auto nofile = raise_nofile_limit();
    if (opts.config.max_sessions == 0) opts.config.max_sessions = sessions_for(nofile);
    server::server srv(opts.config, verifier);
    srv.bind();
    srv.set_access(rules, opts.access);
    if (run_as) {
        try {
            cli::drop_privileges(*run_as);
        } catch (const std::runtime_error& e) {
            throw server::startup_error(e.what());
        }
        log::info("running as {} (uid {}, gid {})", run_as->spec, run_as->uid, run_as->gid);
    }
    asio::signal_set stop_signals(srv.main_context(), SIGINT, SIGTERM);
    stop_signals.async_wait([&srv](std::error_code ec, int signo) {
        if (ec) return;
        log::info("signal {}: stopping", signo);
        srv.stop();
    });
    asio::signal_set hup(srv.main_context(), SIGHUP);
    std::function<void(std::error_code, int)> on_hup = [&](std::error_code ec, int) {
        if (ec) return;
        reload(opts, verifier.get(), srv);
        hup.async_wait(on_hup);
    };
    hup.async_wait(on_hup);
    srv.run();
    log::info("stopped");
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    cli::options opts;
    if (auto status = cli::parse(argc, argv, opts)) return *status;
    if (sodium_init() < 0) {
        std::fprintf(stderr, "weir: error: libsodium failed to initialize\n");
        return 1;
    }
    if (opts.passwd_name) return cli::run_passwd(*opts.passwd_name);
    log::set_level(opts.log_level);
    if (opts.check) return cli::run_check(opts);
    // A peer that closes while we splice or write must give EPIPE, not kill us.
    std::signal(SIGPIPE, SIG_IGN);
    try {
        return serve(opts);
    } catch (const server::startup_error& e) {
        std::fprintf(stderr, "weir: error: %s\n", e.what());
    } catch (const server::listen_url_error& e) {
        std::fprintf(stderr, "weir: error: %s\n", e.what());
    } catch (const std::invalid_argument& e) { // --run-as names nobody, a rule no listener
        std::fprintf(stderr, "weir: error: %s\n", e.what());
    } catch (const auth::users_file_error& e) {
        std::fprintf(stderr, "weir: error: %s\n", e.what());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "weir: error: %s\n", e.what());
        return 1;
    }
    return 2;
}
