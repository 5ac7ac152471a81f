#include "cli/option_table.hpp"

#include "cli/units.hpp"

#include <chrono>
#include <limits>

#include <fmt/core.h>

namespace weir::cli {
namespace {

using namespace std::chrono_literals;
using duration = std::chrono::nanoseconds;

constexpr auto forever = std::chrono::duration_cast<duration>(std::chrono::hours(24 * 365));
constexpr auto one_day = std::chrono::duration_cast<duration>(std::chrono::hours(24));

std::vector<option_decl> listener_options() {
    return {
        {.name = "listen",
         .group = "listeners",
         .value_name = "URL",
         .help = "Listener SCHEME://HOST:PORT[?auth=none|password][&proxy_protocol=true], "
                 "SCHEME socks4, socks5 or socks (all three, sniffed), HOST an IPv4 address, "
                 "[IPv6] or localhost (both 127.0.0.1 and [::1]); proxy_protocol=true: every "
                 "connection starts with a "
                 "PROXY protocol v1/v2 header (behind a load balancer); repeat (or separate "
                 "with commas) for more. Replaces all the defaults",
         .kind = option_kind::list,
         .apply = [](options& o, const values& v) { o.config.listeners = parse_listeners(v); },
         .show = show_listeners},
        {.name = "run-as",
         .group = "listeners",
         .value_name = "USER[:GROUP]",
         .help = "Switch to this user once the ports are bound (when started as root)",
         .apply = [](options& o, const values& v) { o.run_as = parse_text(v); },
         .show = [](const options& o) { return quote_optional(o.run_as); }},
    };
}

std::vector<option_decl> authentication_options() {
    return {
        {.name = "users",
         .group = "authentication",
         .value_name = "FILE",
         .help = "Users file, lines of name:$argon2id$... (make them with `weir passwd NAME`); "
                 "without it, password listeners get one generated credential, kept in "
                 "users.txt under the state directory ($STATE_DIRECTORY, /var/lib/weir as "
                 "root, else $XDG_STATE_HOME/weir)",
         .apply = [](options& o, const values& v) { o.users_file = parse_text(v); },
         .show = [](const options& o) { return quote_optional(o.users_file); }},
        {.name = "no-login-throttle",
         .group = "authentication",
         .help = "Do not slow down and block clients that keep failing to log in",
         .kind = option_kind::flag,
         .apply = [](options& o, const values& v) { o.config.throttle_logins = !parse_bool(v); },
         .show = [](const options& o) { return show_bool(!o.config.throttle_logins); }},
        {.name = "login-free-failures",
         .group = "authentication",
         .value_name = "N",
         .help = "Failed logins from one client answered without delay; later ones wait "
                 "longer and longer (250ms, doubling up to 4s)",
         .apply =
             [](options& o, const values& v) {
                 o.config.throttle.free_failures = parse_count<unsigned>(v);
             },
         .show =
             [](const options& o) { return fmt::format("{}", o.config.throttle.free_failures); }},
        {.name = "login-block-after",
         .group = "authentication",
         .value_name = "N",
         .help = "Failed logins after which a client is blocked (1 to 1000000)",
         .apply =
             [](options& o, const values& v) {
                 o.config.throttle.block_after = parse_count(v, 1u, 1000000u);
             },
         .show = [](const options& o) { return fmt::format("{}", o.config.throttle.block_after); }},
        {.name = "login-block-time",
         .group = "authentication",
         .value_name = "DURATION",
         .help = "How long a blocked client stays blocked (1s to 8760h), whole seconds",
         .apply =
             [](options& o, const values& v) {
                 o.config.throttle.block_for = std::chrono::duration_cast<std::chrono::seconds>(
                     parse_duration_in(v, 1s, forever));
             },
         .show =
             [](const options& o) {
                 return quote(show_duration(to_duration(o.config.throttle.block_for)));
             }},
    };
}

std::vector<option_decl> access_options() {
    return {
        {.name = "rule",
         .group = "access rules",
         .value_name = "RULE",
         .help = "Access rule, first match wins, e.g. 'allow from 10.0.0.0/8 to any port 443', "
                 "'deny to 169.254.0.0/16', 'allow user alice to .corp.example'; repeat (or "
                 "separate with ;) for more",
         .kind = option_kind::list,
         .delimiter = ';',
         .apply = [](options& o, const values& v) { o.access.rules = v; },
         .show = [](const options& o) { return quote_list(o.access.rules); }},
        {.name = "rules-file",
         .group = "access rules",
         .value_name = "FILE",
         .help = "File of access rules, one per line, checked after the --rule ones",
         .apply = [](options& o, const values& v) { o.access.rules_file = parse_text(v); },
         .show =
             [](const options& o) {
                 return o.access.rules_file ? quote(o.access.rules_file->string()) : std::string();
             }},
        {.name = "deny-private-destinations",
         .group = "access rules",
         .help = "Guard loopback, link-local (169.254.169.254), unspecified, multicast and "
                 "broadcast destinations and the host's own addresses on every listener "
                 "(always on for listeners reachable from other hosts): only a rule naming "
                 "one opens it",
         .kind = option_kind::flag,
         .apply = [](options& o,
                     const values& v) { o.access.deny_private_everywhere = parse_bool(v); },
         .show = [](const options& o) { return show_bool(o.access.deny_private_everywhere); }},
        {.name = "deny-private-ranges",
         .group = "access rules",
         .help = "Guard RFC 1918, CGNAT (100.64.0.0/10) and IPv6 unique-local ranges too, on "
                 "every listener",
         .kind = option_kind::flag,
         .apply = [](options& o, const values& v) { o.access.deny_private_ranges = parse_bool(v); },
         .show = [](const options& o) { return show_bool(o.access.deny_private_ranges); }},
    };
}

std::vector<option_decl> limit_options() {
    return {
        {.name = "threads",
         .group = "limits",
         .value_name = "N",
         .help = "I/O threads, 0 to 1024 (0: one per core)",
         .apply = [](options& o,
                     const values& v) { o.config.threads = parse_count<std::size_t>(v, 0, 1024); },
         .show = [](const options& o) { return fmt::format("{}", o.config.threads); }},
        {.name = "max-sessions",
         .group = "limits",
         .value_name = "N",
         .help = "Sessions at once; more are refused (0: from the open-file limit)",
         .apply = [](options& o,
                     const values& v) { o.config.max_sessions = parse_count<std::size_t>(v); },
         .show = [](const options& o) { return fmt::format("{}", o.config.max_sessions); }},
        {.name = "max-sessions-per-client",
         .group = "limits",
         .value_name = "N",
         .help = "Sessions at once from one IPv4 address or IPv6 /64 (0: unlimited)",
         .apply =
             [](options& o, const values& v) {
                 o.config.max_sessions_per_client = parse_count<std::size_t>(v);
             },
         .show =
             [](const options& o) { return fmt::format("{}", o.config.max_sessions_per_client); }},
        {.name = "max-handshakes",
         .group = "limits",
         .value_name = "N",
         .help = "Connections still negotiating at once (0: unlimited)",
         .apply = [](options& o,
                     const values& v) { o.config.max_handshakes = parse_count<std::size_t>(v); },
         .show = [](const options& o) { return fmt::format("{}", o.config.max_handshakes); }},
        {.name = "max-handshakes-per-client",
         .group = "limits",
         .value_name = "N",
         .help = "Connections still negotiating at once from one IPv4 address or IPv6 /64 "
                 "(0: unlimited); when --max-handshakes is reached, the oldest handshakes of "
                 "the clients holding the most make room for the others",
         .apply =
             [](options& o, const values& v) {
                 o.config.max_handshakes_per_client = parse_count<std::size_t>(v);
             },
         .show =
             [](const options& o) {
                 return fmt::format("{}", o.config.max_handshakes_per_client);
             }},
    };
}

// A duration option of the server's config: its range, and where it goes.
#define WEIR_DURATION(NAME, HELP, LO, HI, FIELD)                                                   \
    option_decl {                                                                                  \
        .name = NAME, .group = "timeouts", .value_name = "DURATION", .help = HELP,                 \
        .apply = [](options& o,                                                                    \
                    const values& v) { o.config.FIELD = parse_duration_in(v, LO, HI); },           \
        .show = [](const options& o) { return quote(show_duration(to_duration(o.config.FIELD))); } \
    }

std::vector<option_decl> timeout_options() {
    return {
        WEIR_DURATION("handshake-timeout",
                      "How long a client has to finish greeting, auth and request (1ms to 24h)",
                      1ms, one_day, handshake_timeout),
        WEIR_DURATION("connect-timeout", "How long to resolve and connect to a target (1ms to 24h)",
                      1ms, one_day, connect_timeout),
        WEIR_DURATION("bind-timeout",
                      "How long a BIND waits for its peer to connect, after the first reply "
                      "(1ms to 24h)",
                      1ms, one_day, bind_timeout),
        WEIR_DURATION("idle-timeout",
                      "How long a relayed connection may stay silent both ways (0s to 8760h; "
                      "0: never)",
                      0s, forever, relay.idle_timeout),
        WEIR_DURATION("drain-timeout",
                      "On SIGTERM/SIGINT, how long sessions in flight may finish before they "
                      "are closed (0s to 24h)",
                      0s, one_day, drain_timeout),
    };
}

#undef WEIR_DURATION

std::vector<option_decl> relay_and_logging_options() {
    return {
        {.name = "relay",
         .group = "relay",
         .value_name = "splice|copy",
         .help = "How to move bytes: splice (Linux zero-copy) or copy",
         .apply =
             [](options& o, const values& v) {
                 o.config.relay.kind = parse_choice(v, {"splice", "copy"}) == "copy"
                                           ? relay::relay_kind::copy
                                           : relay::relay_kind::splice;
             },
         .show =
             [](const options& o) {
                 return quote(o.config.relay.kind == relay::relay_kind::copy ? "copy" : "splice");
             }},
        {.name = "pipe-size",
         .group = "relay",
         .value_name = "SIZE",
         .help = "splice: pipe capacity per direction while bytes are in flight (4KiB to 64MiB)",
         .apply =
             [](options& o, const values& v) {
                 o.config.relay.pipe_size = parse_size_in(v, 4096, 64 << 20);
             },
         .show = [](const options& o) { return quote(show_size(o.config.relay.pipe_size)); }},
        {.name = "pipe-budget",
         .group = "relay",
         .value_name = "SIZE",
         .help = "splice: bytes of pipes in all, pooled ones included; past it, bursts are "
                 "copied (unprivileged users get 64MiB of pipes from the kernel)",
         .apply =
             [](options& o, const values& v) {
                 o.config.relay.pipe_budget =
                     parse_size_in(v, 0, std::numeric_limits<std::size_t>::max());
             },
         .show = [](const options& o) { return quote(show_size(o.config.relay.pipe_budget)); }},
        {.name = "log-level",
         .group = "logging",
         .value_name = "LEVEL",
         .help = "debug, info, warn or error",
         .apply =
             [](options& o, const values& v) {
                 o.log_level = to_level(parse_choice(v, {"debug", "info", "warn", "error"}));
             },
         .show = [](const options& o) { return quote(level_name(o.log_level)); }},
        {.name = "log-format",
         .group = "logging",
         .value_name = "text|json",
         .help = "Log lines as text (time, level, message) or as JSON, one object a line",
         .apply =
             [](options& o, const values& v) {
                 o.log_format = parse_choice(v, {"text", "json"}) == "json" ? log::format::json
                                                                            : log::format::text;
             },
         .show =
             [](const options& o) {
                 return quote(o.log_format == log::format::json ? "json" : "text");
             }},
    };
}

std::vector<option_decl> metrics_options() {
    return {
        {.name = "metrics",
         .group = "metrics",
         .value_name = "HOST:PORT",
         .help = "Serve Prometheus metrics over HTTP here (HOST an IP address, [IPv6] or "
                 "localhost); off unless given",
         .apply =
             [](options& o, const values& v) {
                 parse_endpoint(v.back());
                 o.metrics = v.back();
             },
         .show = [](const options& o) { return quote_optional(o.metrics); }},
        {.name = "metrics-allow-remote",
         .group = "metrics",
         .help = "Let --metrics listen on an address other hosts can reach",
         .kind = option_kind::flag,
         .apply = [](options& o, const values& v) { o.metrics_allow_remote = parse_bool(v); },
         .show = [](const options& o) { return show_bool(o.metrics_allow_remote); }},
    };
}

} // namespace

const std::vector<option_decl>& option_table() {
    static const auto table = [] {
        std::vector<option_decl> all;
        for (auto part :
             {listener_options(), authentication_options(), access_options(), limit_options(),
              timeout_options(), relay_and_logging_options(), metrics_options()})
            all.insert(all.end(), part.begin(), part.end());
        return all;
    }();
    return table;
}

const std::vector<std::string_view>& option_groups() {
    static const std::vector<std::string_view> groups{"listeners", "authentication", "access rules",
                                                      "limits",    "timeouts",       "relay",
                                                      "logging",   "metrics",        "general"};
    return groups;
}

options default_options() {
    options o;
    o.config.relay.idle_timeout = std::chrono::hours(1);
    return o;
}

std::string env_name(std::string_view name) {
    std::string out = "WEIR_";
    for (const char c : name)
        out += c == '-' ? '_' : static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
    return out;
}

void check_combination(const options& opts) {
    if (!opts.metrics || opts.metrics_allow_remote) return;
    if (!parse_endpoint(*opts.metrics).address().is_loopback())
        throw option_error(fmt::format("--metrics {} would serve metrics to the network; give "
                                       "--metrics-allow-remote to mean it",
                                       *opts.metrics));
}

} // namespace weir::cli
