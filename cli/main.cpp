// weir: wiring. Options -> config, users, server, signals.
#include "auth/user_db.hpp"
#include "auth/verifier.hpp"
#include "cli/check.hpp"
#include "cli/generated_credential.hpp"
#include "cli/option_values.hpp"
#include "cli/options.hpp"
#include "cli/passwd.hpp"
#include "cli/probe.hpp"
#include "cli/run_as.hpp"
#include "cli/startup.hpp"
#include "io/file_watch.hpp"
#include "log/log.hpp"
#include "socks/server/metrics_endpoint.hpp"
#include "socks/server/server.hpp"

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <sys/resource.h>
#include <unistd.h>
#include <vector>

#include <asio/signal_set.hpp>
#include <fmt/core.h>
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
        const std::uint64_t user_count = users ? users->size() : 0;
        log::event(log::level::info, "reload",
                   {{"users", user_count}, {"rules", std::uint64_t{rules.size()}}},
                   fmt::format("reload: {} user(s), {} rule(s)", user_count, rules.size()));
    } catch (const std::exception& e) {
        log::event(log::level::error, "reload_failed", {{"error", std::string_view(e.what())}},
                   fmt::format("reload failed, keeping the running configuration: {}", e.what()));
    }
}

// Keeps a new generated credential under the state directory (owned by the
// --run-as user), which from then on is the users file: SIGHUP and file
// changes reload it like one given with --users.
void keep_generated(cli::generated_credential& generated,
                    const std::optional<cli::identity>& run_as, cli::options& opts) {
    std::optional<std::pair<uid_t, gid_t>> owner;
    if (run_as) owner.emplace(run_as->uid, run_as->gid);
    if (const auto error = generated.keep(owner))
        log::warn("generated credential: {} (a new one is made at every start)", *error);
    if (generated.file()) opts.users_file = generated.file()->string();
}

int serve(cli::options& opts) {
    const auto rules = checked_rules(opts);
    std::optional<cli::identity> run_as;
    if (opts.run_as) run_as = cli::lookup_identity(*opts.run_as);
    std::shared_ptr<auth::verifier> verifier;
    // With no users file, the password listeners get a generated credential.
    std::optional<cli::generated_credential> generated;
    if (opts.users_file || cli::needs_password(opts.config)) {
        if (!opts.users_file) generated.emplace(cli::state_directory(::geteuid()));
        auto users = generated ? generated->users() : load_users(*opts.users_file);
        verifier = std::make_shared<auth::verifier>(std::move(users), auth::verifier::options{});
    }
    if (const auto* s = cli::find_setting(opts, "max-sessions-per-client"))
        opts.config.cap_loopback_clients = s->origin != "default";
    const auto nofile = raise_nofile_limit();
    if (opts.config.max_sessions == 0) opts.config.max_sessions = sessions_for(nofile);
    server::server srv(opts.config, verifier);
    srv.bind();
    // Bound before privileges are dropped, destroyed before the server.
    std::optional<server::metrics_endpoint> metrics;
    if (opts.metrics) {
        metrics.emplace(
            srv.main_context(), cli::parse_endpoint(*opts.metrics),
            server::metrics_handlers{[&srv] { return server::metrics::exposition(srv.gauges()); },
                                     [&srv] { return !srv.draining(); }});
        const auto at = metrics->local_endpoint();
        // fmt, not "[" + text + "]": GCC 12 at -O3 warns of a false -Wrestrict there.
        const bool v6 = at.address().is_v6();
        const auto url = fmt::format("http://{}{}{}:{}/metrics", v6 ? "[" : "",
                                     at.address().to_string(), v6 ? "]" : "", at.port());
        log::event(log::level::info, "metrics", {{"url", url}},
                   fmt::format("metrics on {} and /healthz", url));
    }
    srv.set_access(rules, opts.access);
    if (generated) keep_generated(*generated, run_as, opts);
    if (run_as) {
        try {
            cli::drop_privileges(*run_as);
        } catch (const std::runtime_error& e) {
            throw server::startup_error(e.what());
        }
        log::info("running as {} (uid {}, gid {})", run_as->spec, run_as->uid, run_as->gid);
    }
    // Only now that every port is bound: no password for a server that never started.
    if (generated && generated->is_new())
        std::fprintf(stderr, "%s\n", generated->announcement().c_str());
    else if (generated)
        log::event(log::level::info, "credential", {{"file", generated->file()->string()}},
                   generated->announcement());
    // The first SIGTERM or SIGINT drains; a second one exits at once.
    asio::signal_set stop_signals(srv.main_context(), SIGINT, SIGTERM);
    std::function<void(std::error_code, int)> on_stop = [&](std::error_code ec, int signo) {
        if (ec) return;
        if (srv.draining()) {
            log::event(log::level::info, "exit", {{"signal", std::uint64_t(signo)}},
                       fmt::format("signal {} during the drain: exiting now", signo));
            std::_Exit(128 + signo);
        }
        log::event(log::level::info, "signal", {{"signal", std::uint64_t(signo)}},
                   fmt::format("signal {}: draining", signo));
        srv.drain();
        stop_signals.async_wait(on_stop);
    };
    stop_signals.async_wait(on_stop);
    asio::signal_set hup(srv.main_context(), SIGHUP);
    std::function<void(std::error_code, int)> on_hup = [&](std::error_code ec, int) {
        if (ec) return;
        reload(opts, verifier.get(), srv);
        hup.async_wait(on_hup);
    };
    hup.async_wait(on_hup);
    // The users and rules files also reload by themselves when they change on disk.
    std::vector<std::filesystem::path> files;
    if (opts.users_file) files.emplace_back(*opts.users_file);
    if (opts.access.rules_file) files.push_back(*opts.access.rules_file);
    std::optional<io::file_watch> watch;
    if (!files.empty()) {
        watch.emplace(srv.main_context(), files,
                      [&](const std::vector<std::filesystem::path>& changed) {
                          for (const auto& f : changed) {
                              const bool users =
                                  opts.users_file && f == std::filesystem::path(*opts.users_file);
                              log::info("reload: {} {} changed",
                                        users ? "users file" : "rules file", f.string());
                          }
                          reload(opts, verifier.get(), srv);
                      });
        if (watch->error())
            log::warn("cannot watch the users and rules files for changes ({}): only SIGHUP "
                      "reloads them",
                      watch->error().message());
    }
    srv.run();
    log::event(log::level::info, "shutdown", {}, "stopped");
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
    log::set_format(opts.log_format);
    if (opts.check) return cli::run_check(opts);
    if (opts.probe) return cli::run_probe(opts);
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
