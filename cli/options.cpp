#include "cli/options.hpp"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/core.h>

namespace weir::cli {
namespace {

std::chrono::steady_clock::duration seconds(double s) {
    return std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::chrono::duration<double>(s));
}

log::level parse_level(const std::string& s) {
    if (s == "debug") return log::level::debug;
    if (s == "warn") return log::level::warn;
    if (s == "error") return log::level::error;
    return log::level::info;
}

// Option values that need converting once parsed.
struct raw_options {
    std::vector<std::string> listen;
    std::string relay = "splice";
    std::string level = "info";
    std::string format = "text";
    double drain = 30, handshake = 10, connect = 10, bind = 60, idle = 3600, block_for = 600;
    std::size_t threads = 0;
    bool no_throttle = false;
};

void add_network_options(CLI::App& app, options& out, raw_options& raw) {
    app.add_option("--listen", raw.listen,
                   "Listener URL SCHEME://HOST:PORT[?auth=none|password][&proxy_protocol=true], "
                   "SCHEME socks4, socks5 or socks; proxy_protocol: each connection starts with "
                   "a PROXY protocol header from a load balancer; repeat for more. Replaces the "
                   "defaults socks://127.0.0.1:1080, "
                   "socks5://0.0.0.0:1088, socks5://[::]:1088")
        ->envname("WEIR_LISTEN")
        ->delimiter(',');
    app.add_option("--users", out.users_file,
                   "Users file, lines of name:$argon2id$... (make them with `weir passwd NAME`)")
        ->envname("WEIR_USERS");
    app.add_option("--threads", raw.threads, "I/O threads (0: one per core)")
        ->envname("WEIR_THREADS")
        ->check(CLI::Range(0, 1024));
    app.add_option("--relay", raw.relay, "How to move bytes: splice (Linux zero-copy) or copy")
        ->envname("WEIR_RELAY")
        ->check(CLI::IsMember({"splice", "copy"}))
        ->capture_default_str();
    app.add_option("--pipe-size", out.config.relay.pipe_size,
                   "splice: bytes of pipe per direction while bytes are in flight")
        ->envname("WEIR_PIPE_SIZE")
        ->check(CLI::Range(std::size_t{4096}, std::size_t{64} << 20))
        ->capture_default_str();
    app.add_option("--pipe-budget", out.config.relay.pipe_budget,
                   "splice: bytes of pipes in all, pooled ones included; past it, bursts are "
                   "copied (unprivileged users get 64 MiB of pipes from the kernel)")
        ->envname("WEIR_PIPE_BUDGET")
        ->capture_default_str();
}

void add_timeouts(CLI::App& app, raw_options& raw) {
    app.add_option("--handshake-timeout", raw.handshake,
                   "Seconds a client has to finish greeting, auth and request")
        ->envname("WEIR_HANDSHAKE_TIMEOUT")
        ->check(CLI::Range(0.001, 86400.0))
        ->capture_default_str();
    app.add_option("--connect-timeout", raw.connect, "Seconds to resolve and connect to a target")
        ->envname("WEIR_CONNECT_TIMEOUT")
        ->check(CLI::Range(0.001, 86400.0))
        ->capture_default_str();
    app.add_option("--bind-timeout", raw.bind,
                   "Seconds a BIND waits for its peer to connect, after the first reply")
        ->envname("WEIR_BIND_TIMEOUT")
        ->check(CLI::Range(0.001, 86400.0))
        ->capture_default_str();
    app.add_option("--drain-timeout", raw.drain,
                   "Seconds sessions in flight may go on after SIGTERM or SIGINT before they are "
                   "closed (0: close them at once)")
        ->envname("WEIR_DRAIN_TIMEOUT")
        ->check(CLI::Range(0.0, 86400.0))
        ->capture_default_str();
    app.add_option("--idle-timeout", raw.idle,
                   "Seconds a relayed connection may stay silent both ways (0: never)")
        ->envname("WEIR_IDLE_TIMEOUT")
        ->check(CLI::Range(0.0, 31536000.0))
        ->capture_default_str();
}

void add_limits(CLI::App& app, options& out, raw_options& raw) {
    app.add_option("--max-sessions", out.config.max_sessions,
                   "Sessions at once; more are refused (0: from the open-file limit)")
        ->envname("WEIR_MAX_SESSIONS")
        ->capture_default_str();
    app.add_option("--max-sessions-per-client", out.config.max_sessions_per_client,
                   "Sessions at once from one IPv4 address or IPv6 /64 (0: unlimited)")
        ->envname("WEIR_MAX_SESSIONS_PER_CLIENT")
        ->capture_default_str();
    app.add_option("--max-handshakes", out.config.max_handshakes,
                   "Connections still negotiating at once (0: unlimited)")
        ->envname("WEIR_MAX_HANDSHAKES")
        ->capture_default_str();
    app.add_option("--max-handshakes-per-client", out.config.max_handshakes_per_client,
                   "Connections still negotiating at once from one IPv4 address or IPv6 /64 "
                   "(0: unlimited); when --max-handshakes is reached, the oldest handshakes of "
                   "the clients holding the most make room for the others")
        ->envname("WEIR_MAX_HANDSHAKES_PER_CLIENT")
        ->capture_default_str();
    app.add_flag("--no-login-throttle", raw.no_throttle,
                 "Do not slow down and block clients that keep failing to log in")
        ->envname("WEIR_NO_LOGIN_THROTTLE");
    app.add_option("--login-free-failures", out.config.throttle.free_failures,
                   "Failed logins from one client answered without delay; later ones wait "
                   "longer and longer (up to 4 s)")
        ->envname("WEIR_LOGIN_FREE_FAILURES")
        ->capture_default_str();
    app.add_option("--login-block-after", out.config.throttle.block_after,
                   "Failed logins after which a client is blocked")
        ->envname("WEIR_LOGIN_BLOCK_AFTER")
        ->check(CLI::Range(1u, 1000000u))
        ->capture_default_str();
    app.add_option("--login-block-time", raw.block_for, "Seconds a blocked client stays blocked")
        ->envname("WEIR_LOGIN_BLOCK_TIME")
        ->check(CLI::Range(1.0, 31536000.0))
        ->capture_default_str();
}

void add_access_options(CLI::App& app, options& out, raw_options& raw) {
    app.add_option("--rule", out.access.rules,
                   "Access rule, first match wins, e.g. 'allow from 10.0.0.0/8 to any port 443', "
                   "'deny to 169.254.0.0/16', 'allow user alice to .corp.example'; repeatable")
        ->envname("WEIR_RULES")
        ->delimiter(';');
    app.add_option("--rules-file", out.access.rules_file,
                   "File of access rules, one per line, checked after the --rule ones")
        ->envname("WEIR_RULES_FILE");
    app.add_flag("--deny-private-destinations", out.access.deny_private_everywhere,
                 "Guard loopback, link-local (169.254.169.254), unspecified, multicast and "
                 "broadcast destinations and the host's own addresses on every listener "
                 "(always on for listeners reachable from other hosts): only a rule naming "
                 "one opens it")
        ->envname("WEIR_DENY_PRIVATE_DESTINATIONS");
    app.add_flag("--deny-private-ranges", out.access.deny_private_ranges,
                 "Guard RFC 1918, CGNAT (100.64.0.0/10) and IPv6 unique-local ranges too, on "
                 "every listener")
        ->envname("WEIR_DENY_PRIVATE_RANGES");
    app.add_option("--run-as", out.run_as,
                   "USER[:GROUP] to switch to once the ports are bound (when started as root)")
        ->envname("WEIR_RUN_AS");
    app.add_option("--log-level", raw.level, "debug, info, warn or error")
        ->envname("WEIR_LOG_LEVEL")
        ->check(CLI::IsMember({"debug", "info", "warn", "error"}))
        ->capture_default_str();
    app.add_option("--log-format", raw.format, "text, or json (one object a line)")
        ->envname("WEIR_LOG_FORMAT")
        ->check(CLI::IsMember({"text", "json"}))
        ->capture_default_str();
    app.add_option("--metrics", out.metrics,
                   "HOST:PORT to serve Prometheus metrics (/metrics) and /healthz on (off by "
                   "default; loopback only unless --metrics-allow-remote)")
        ->envname("WEIR_METRICS");
    app.add_flag("--metrics-allow-remote", out.metrics_allow_remote,
                 "Let --metrics listen on an address other hosts can reach")
        ->envname("WEIR_METRICS_ALLOW_REMOTE");
}

// Converts what CLI11 parsed into the configuration.
void apply(const raw_options& raw, options& out) {
    auto& cfg = out.config;
    if (!raw.listen.empty()) {
        cfg.listeners.clear();
        for (const auto& url : raw.listen)
            cfg.listeners.push_back(server::parse_listen_url(url));
    }
    cfg.threads = raw.threads;
    cfg.relay.kind = raw.relay == "copy" ? relay::relay_kind::copy : relay::relay_kind::splice;
    cfg.handshake_timeout = seconds(raw.handshake);
    cfg.connect_timeout = seconds(raw.connect);
    cfg.bind_timeout = seconds(raw.bind);
    cfg.drain_timeout = seconds(raw.drain);
    cfg.relay.idle_timeout = seconds(raw.idle);
    cfg.throttle_logins = !raw.no_throttle;
    cfg.throttle.block_for = std::chrono::duration_cast<std::chrono::seconds>(
        std::chrono::duration<double>(raw.block_for));
    out.log_level = parse_level(raw.level);
    out.log_format = raw.format == "json" ? log::format::json : log::format::text;
}

} // namespace

std::optional<int> parse(int argc, char** argv, options& out) {
    CLI::App app{"weir: a SOCKS4, SOCKS4a and SOCKS5 proxy server", "weir"};
    app.set_config("--config", "", "Read options from this TOML/INI file (keys as long options)");
    app.set_version_flag("--version", "weir 0.1.0");
    app.allow_config_extras(CLI::config_extras_mode::error); // a misspelt key is an error
    raw_options raw;
    add_network_options(app, out, raw);
    add_timeouts(app, raw);
    add_limits(app, out, raw);
    add_access_options(app, out, raw);

    std::string name;
    auto* passwd = app.add_subcommand(
        "passwd", "Read a password from stdin (or a prompt) and print a users-file line for NAME");
    passwd->add_option("NAME", name, "User name")->required();

    try {
        app.parse(argc, argv);
        apply(raw, out);
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == 0) return app.exit(e);
        std::fprintf(stderr, "weir: error: %s (see weir --help)\n", e.what());
        return 2;
    } catch (const server::listen_url_error& e) {
        std::fprintf(stderr, "weir: error: %s\n", e.what());
        return 2;
    }
    if (passwd->parsed()) out.passwd_name = name;
    return std::nullopt;
}

} // namespace weir::cli
