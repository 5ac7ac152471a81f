#include "socks/server/metrics.hpp"

#include "socks/proto/error.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <iterator>
#include <memory>
#include <mutex>
#include <string_view>

#include <fmt/format.h>

namespace weir::server::metrics {
namespace {

using clock = std::chrono::steady_clock;

// Written by one thread only: a relaxed load and store, no locked instruction.
class counter {
public:
    void add(std::uint64_t n = 1) noexcept {
        v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }
    std::uint64_t get() const noexcept { return v_.load(std::memory_order_relaxed); }

private:
    std::atomic<std::uint64_t> v_{0};
};

// Upper bounds in microseconds (integers: an observation is a few compares);
// the last bucket (+Inf) is the count.
constexpr std::array<std::uint64_t, 13> latency_buckets{
    500,     1'000,   2'500,   5'000,     10'000,    25'000,    50'000,
    100'000, 250'000, 500'000, 1'000'000, 2'500'000, 10'000'000};
constexpr std::array<std::uint64_t, 10> duration_buckets{
    10'000,      100'000,     1'000'000,     10'000'000,     60'000'000,
    300'000'000, 900'000'000, 3'600'000'000, 14'400'000'000, 86'400'000'000};

template <std::size_t N>
struct histogram {
    const std::array<std::uint64_t, N>* bounds;
    std::array<counter, N> buckets; // cumulative only when printed
    counter count;
    counter sum_us;

    void observe(clock::duration d) noexcept {
        const auto us = static_cast<std::uint64_t>(std::max<std::int64_t>(
            0, std::chrono::duration_cast<std::chrono::microseconds>(d).count()));
        std::size_t at = 0;
        while (at < N && us > (*bounds)[at])
            ++at;
        if (at < N) buckets[at].add();
        count.add();
        sum_us.add(us);
    }
};

constexpr std::size_t protocols = 4; // -, socks4, socks4a, socks5
constexpr std::size_t commands = 4;  // none, connect, bind, udp-associate
constexpr std::size_t outcomes = 10;
constexpr std::size_t codec_errors = 32; // proto::errc values, with room
constexpr std::size_t rules = 257;       // rule numbers 0 (the default) to 255, then 256+
constexpr std::size_t relay_modes = 4;
constexpr std::size_t udp_drops = 7;

constexpr std::array<std::string_view, protocols> protocol_names{"-", "socks4", "socks4a",
                                                                 "socks5"};
constexpr std::array<std::string_view, commands> command_names{"-", "connect", "bind",
                                                               "udp-associate"};
constexpr std::array<std::string_view, outcomes> outcome_names{
    "succeeded",          "handshake-timeout",   "client-closed",
    "client-read-failed", "client-write-failed", "refused",
    "client-blocked",     "command-failed",      "reply-timeout",
    "target-write-failed"};
constexpr std::array<std::string_view, relay_modes> relay_names{"none", "splice", "copy", "udp"};
constexpr std::array<std::string_view, 4> refusal_names{"sessions", "sessions-per-client",
                                                        "handshakes", "handshakes-per-client"};
constexpr std::array<std::string_view, 3> shortage_names{"budget", "open-failed", "size-refused"};
constexpr std::array<std::string_view, udp_drops> udp_drop_names{
    "foreign", "frag", "malformed", "denied", "unresolved", "unsolicited", "unsent"};

struct per_listener {
    counter accepted;
    counter ended;
    counter up;
    counter down;
    counter login_failures;
    std::array<counter, protocols * commands * outcomes> sessions;
};

// One thread's counts.
struct block {
    explicit block(std::size_t listener_count)
        : listeners(listener_count) {}
    std::vector<per_listener> listeners;
    std::array<counter, 4> refused;
    counter blocked;
    counter shed;
    std::array<counter, outcomes + codec_errors> handshake_failures;
    std::array<counter, rules> denials;
    std::array<counter, relay_modes> relays;
    std::array<counter, 3> shortages;
    counter resolve_failures;
    std::array<counter, 2> datagrams; // up, down
    std::array<counter, udp_drops> dropped;
    histogram<latency_buckets.size()> connect{&latency_buckets, {}, {}, {}};
    histogram<latency_buckets.size()> resolve{&latency_buckets, {}, {}, {}};
    histogram<duration_buckets.size()> session{&duration_buckets, {}, {}, {}};
};

struct registry {
    std::mutex mutex; // taken once per thread, at its first count, and by scrapes
    std::vector<std::string> listeners;
    std::vector<std::unique_ptr<block>> blocks;
    const std::int64_t started = std::chrono::duration_cast<std::chrono::seconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count();
};

registry& the_registry() {
    static registry r;
    return r;
}

block& local() {
    thread_local block* mine = nullptr;
    if (mine == nullptr) {
        auto& r = the_registry();
        const std::lock_guard lock(r.mutex);
        r.blocks.push_back(std::make_unique<block>(r.listeners.size()));
        mine = r.blocks.back().get();
    }
    return *mine;
}

// The session record's protocol is one of protocol_names, as protocol_name()
// (session_log.cpp) and the codec's refusals write it.
std::size_t protocol_index(const char* p) noexcept {
    if (p[0] != 's') return 0;
    return p[5] == '5' ? 3 : p[6] == 'a' ? 2 : 1;
}
std::size_t command_index(std::optional<proto::command> cmd) noexcept {
    if (!cmd) return 0;
    switch (*cmd) {
    case proto::command::connect:
        return 1;
    case proto::command::bind:
        return 2;
    case proto::command::udp_associate:
        return 3;
    }
    return 0;
}

// Handshake failures: the outcome, or for a codec refusal its error.
std::optional<std::size_t> handshake_failure(const session_end_facts& f) noexcept {
    if (f.cmd || f.result == outcome::succeeded) return std::nullopt;
    if (f.result == outcome::refused && f.error.category() == proto::error_category()) {
        const auto e = static_cast<std::size_t>(f.error.value());
        if (e < codec_errors) return outcomes + e;
    }
    return static_cast<std::size_t>(f.result);
}

std::string label_value(std::string_view v) {
    std::string out;
    for (const char c : v) {
        if (c == '\\' || c == '"') out.push_back('\\');
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        out.push_back(c);
    }
    return out;
}

} // namespace

void configure(std::vector<std::string> listener_urls) {
    auto& r = the_registry();
    const std::lock_guard lock(r.mutex);
    // Blocks made before (threads that counted already) keep their size and
    // count nothing per listener: the server configures before it runs.
    r.listeners = std::move(listener_urls);
}

void accepted(std::size_t listener) noexcept {
    auto& b = local();
    if (listener < b.listeners.size()) b.listeners[listener].accepted.add();
}

void refused_at_door(refusal why) noexcept {
    if (why == refusal::none) return;
    local().refused[static_cast<std::size_t>(why) - 1].add();
}

void blocked_at_door() noexcept {
    local().blocked.add();
}

void shed() noexcept {
    local().shed.add();
}

void session_ended(const session_end_facts& f) noexcept {
    auto& b = local();
    if (f.listener < b.listeners.size()) {
        auto& l = b.listeners[f.listener];
        l.ended.add();
        l.up.add(f.up);
        l.down.add(f.down);
        const auto o = static_cast<std::size_t>(f.result);
        l.sessions[(protocol_index(f.protocol) * commands + command_index(f.cmd)) * outcomes +
                   std::min(o, outcomes - 1)]
            .add();
    }
    if (const auto hf = handshake_failure(f)) b.handshake_failures[*hf].add();
    if (f.relay != relay_mode::none) b.relays[static_cast<std::size_t>(f.relay)].add();
    b.session.observe(f.duration);
}

void login_failed(std::size_t listener) noexcept {
    auto& b = local();
    if (listener < b.listeners.size()) b.listeners[listener].login_failures.add();
}

void denied(std::size_t rule_number) noexcept {
    local().denials[std::min(rule_number, rules - 1)].add();
}

void connected(clock::duration took) noexcept {
    local().connect.observe(took);
}

void resolved(clock::duration took, bool found) noexcept {
    auto& b = local();
    b.resolve.observe(took);
    if (!found) b.resolve_failures.add();
}

void pipe_shortage(relay::pipe_shortage::cause why) noexcept {
    local().shortages[static_cast<std::size_t>(why)].add();
}

void udp_ended(const udp_stats& s) noexcept {
    auto& b = local();
    b.datagrams[0].add(s.datagrams_up);
    b.datagrams[1].add(s.datagrams_down);
    const std::array<std::uint64_t, udp_drops> drops{
        s.foreign, s.fragmented, s.malformed, s.denied, s.unresolved, s.unsolicited, s.unsent};
    for (std::size_t i = 0; i < udp_drops; ++i)
        b.dropped[i].add(drops[i]);
}

namespace {

// Sums one counter over every thread's block.
template <typename F>
std::uint64_t sum(const registry& r, F&& pick) {
    std::uint64_t total = 0;
    for (const auto& b : r.blocks)
        total += pick(*b).get();
    return total;
}

class writer {
public:
    void family(std::string_view name, std::string_view type, std::string_view help) {
        fmt::format_to(out(), "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
    }
    void sample(std::string_view name, std::string_view labels, std::uint64_t v) {
        if (labels.empty())
            fmt::format_to(out(), "{} {}\n", name, v);
        else
            fmt::format_to(out(), "{}{{{}}} {}\n", name, labels, v);
    }
    void sample(std::string_view name, std::string_view labels, double v) {
        fmt::format_to(out(), "{}{{{}}} {}\n", name, labels, v);
    }
    template <std::size_t N, typename F>
    void histogram(const registry& r, const std::array<std::uint64_t, N>& bounds,
                   std::string_view name, std::string_view help, F&& pick) {
        family(name, "histogram", help);
        std::uint64_t cumulative = 0;
        for (std::size_t i = 0; i < N; ++i) {
            cumulative +=
                sum(r, [&](const block& b) -> const counter& { return pick(b).buckets[i]; });
            fmt::format_to(out(), "{}_bucket{{le=\"{}\"}} {}\n", name,
                           static_cast<double>(bounds[i]) / 1e6, cumulative);
        }
        const auto count = sum(r, [&](const block& b) -> const counter& { return pick(b).count; });
        const auto us = sum(r, [&](const block& b) -> const counter& { return pick(b).sum_us; });
        fmt::format_to(out(), "{}_bucket{{le=\"+Inf\"}} {}\n{}_sum {}.{:06}\n{}_count {}\n", name,
                       count, name, us / 1000000, us % 1000000, name, count);
    }
    std::string take() { return fmt::to_string(buf_); }

private:
    std::back_insert_iterator<fmt::memory_buffer> out() { return std::back_inserter(buf_); }
    fmt::memory_buffer buf_;
};

void write_sessions(const registry& r, writer& w) {
    w.family("weir_sessions_active", "gauge", "Sessions admitted and not yet ended, by listener.");
    for (std::size_t l = 0; l < r.listeners.size(); ++l) {
        const auto in =
            sum(r, [&](const block& b) -> const counter& { return b.listeners[l].accepted; });
        const auto out =
            sum(r, [&](const block& b) -> const counter& { return b.listeners[l].ended; });
        w.sample("weir_sessions_active",
                 fmt::format("listener=\"{}\"", label_value(r.listeners[l])),
                 in >= out ? in - out : 0);
    }
    w.family("weir_sessions_total", "counter",
             "Sessions ended, by listener, protocol, command and result (combinations seen).");
    for (std::size_t l = 0; l < r.listeners.size(); ++l)
        for (std::size_t i = 0; i < protocols * commands * outcomes; ++i) {
            const auto n = sum(
                r, [&](const block& b) -> const counter& { return b.listeners[l].sessions[i]; });
            if (n == 0) continue;
            w.sample(
                "weir_sessions_total",
                fmt::format("listener=\"{}\",protocol=\"{}\",command=\"{}\",result=\"{}\"",
                            label_value(r.listeners[l]), protocol_names[i / (commands * outcomes)],
                            command_names[i / outcomes % commands], outcome_names[i % outcomes]),
                n);
        }
    w.family("weir_bytes_total", "counter",
             "Bytes relayed, by listener and direction (up: client to target), counted as sessions "
             "end.");
    for (std::size_t l = 0; l < r.listeners.size(); ++l) {
        const auto name = label_value(r.listeners[l]);
        w.sample("weir_bytes_total", fmt::format("listener=\"{}\",direction=\"up\"", name),
                 sum(r, [&](const block& b) -> const counter& { return b.listeners[l].up; }));
        w.sample("weir_bytes_total", fmt::format("listener=\"{}\",direction=\"down\"", name),
                 sum(r, [&](const block& b) -> const counter& { return b.listeners[l].down; }));
    }
    w.family("weir_login_failures_total", "counter", "Logins the users file refused, by listener.");
    for (std::size_t l = 0; l < r.listeners.size(); ++l)
        w.sample("weir_login_failures_total",
                 fmt::format("listener=\"{}\"", label_value(r.listeners[l])),
                 sum(r, [&](const block& b) -> const counter& {
                     return b.listeners[l].login_failures;
                 }));
}

void write_refusals(const registry& r, writer& w) {
    w.family("weir_handshake_failures_total", "counter",
             "Sessions that ended before their request, by reason (refused: the codec's error).");
    for (std::size_t i = 0; i < outcomes + codec_errors; ++i) {
        const auto n =
            sum(r, [&](const block& b) -> const counter& { return b.handshake_failures[i]; });
        if (n == 0) continue;
        const auto reason =
            i < outcomes
                ? std::string(outcome_names[i])
                : fmt::format("refused:{}",
                              slug(proto::make_error_code(static_cast<proto::errc>(i - outcomes))));
        w.sample("weir_handshake_failures_total", fmt::format("reason=\"{}\"", label_value(reason)),
                 n);
    }
    w.family("weir_rule_denials_total", "counter",
             "Requests and destinations the access rules refused, by rule number (0: the default "
             "action).");
    for (std::size_t i = 0; i < rules; ++i) {
        const auto n = sum(r, [&](const block& b) -> const counter& { return b.denials[i]; });
        if (n == 0) continue;
        w.sample("weir_rule_denials_total",
                 i + 1 == rules ? std::string("rule=\"256+\"") : fmt::format("rule=\"{}\"", i), n);
    }
    w.family("weir_limit_refusals_total", "counter", "Connections closed at accept by a limit.");
    for (std::size_t i = 0; i < refusal_names.size(); ++i)
        w.sample("weir_limit_refusals_total", fmt::format("limit=\"{}\"", refusal_names[i]),
                 sum(r, [&](const block& b) -> const counter& { return b.refused[i]; }));
    w.family("weir_blocked_connections_total", "counter",
             "Connections closed at accept: their client is blocked by the login throttle.");
    w.sample("weir_blocked_connections_total", "",
             sum(r, [](const block& b) -> const counter& { return b.blocked; }));
    w.family("weir_handshakes_shed_total", "counter",
             "Handshakes shed to make room for clients holding fewer.");
    w.sample("weir_handshakes_shed_total", "",
             sum(r, [](const block& b) -> const counter& { return b.shed; }));
}

void write_relays(const registry& r, writer& w) {
    w.family("weir_relays_total", "counter", "Sessions relayed, by relay (splice, copy, udp).");
    for (std::size_t i = 1; i < relay_modes; ++i)
        w.sample("weir_relays_total", fmt::format("relay=\"{}\"", relay_names[i]),
                 sum(r, [&](const block& b) -> const counter& { return b.relays[i]; }));
    w.family("weir_pipe_shortages_total", "counter",
             "splice bursts copied for want of a pipe, by cause.");
    for (std::size_t i = 0; i < shortage_names.size(); ++i)
        w.sample("weir_pipe_shortages_total", fmt::format("cause=\"{}\"", shortage_names[i]),
                 sum(r, [&](const block& b) -> const counter& { return b.shortages[i]; }));
    w.family("weir_udp_datagrams_total", "counter",
             "UDP datagrams relayed, by direction, counted as associations end.");
    w.sample("weir_udp_datagrams_total", "direction=\"up\"",
             sum(r, [](const block& b) -> const counter& { return b.datagrams[0]; }));
    w.sample("weir_udp_datagrams_total", "direction=\"down\"",
             sum(r, [](const block& b) -> const counter& { return b.datagrams[1]; }));
    w.family("weir_udp_dropped_total", "counter", "UDP datagrams dropped, by reason.");
    for (std::size_t i = 0; i < udp_drops; ++i)
        w.sample("weir_udp_dropped_total", fmt::format("reason=\"{}\"", udp_drop_names[i]),
                 sum(r, [&](const block& b) -> const counter& { return b.dropped[i]; }));
    w.family("weir_resolve_failures_total", "counter", "Name lookups that found no address.");
    w.sample("weir_resolve_failures_total", "",
             sum(r, [](const block& b) -> const counter& { return b.resolve_failures; }));
}

} // namespace

std::string exposition(const gauges& g) {
    auto& r = the_registry();
    const std::lock_guard lock(r.mutex);
    writer w;
    w.family("weir_build_info", "gauge", "weir's version.");
    w.sample("weir_build_info", "version=\"0.1.0\"", std::uint64_t{1});
    w.family("weir_start_time_seconds", "gauge", "When weir started, in seconds since the epoch.");
    w.sample("weir_start_time_seconds", "", static_cast<std::uint64_t>(r.started));
    w.family("weir_draining", "gauge", "1 once a drain (SIGTERM, SIGINT) has begun.");
    w.sample("weir_draining", "", std::uint64_t{g.draining ? 1u : 0u});
    w.family("weir_sessions", "gauge", "Sessions admitted and not yet ended.");
    w.sample("weir_sessions", "", std::uint64_t{g.sessions});
    w.family("weir_handshakes", "gauge", "Sessions still negotiating.");
    w.sample("weir_handshakes", "", std::uint64_t{g.handshakes});
    w.family("weir_pipe_bytes", "gauge", "Pipe capacity open for splice, spares included.");
    w.sample("weir_pipe_bytes", "", std::uint64_t{g.pipe_bytes});
    write_sessions(r, w);
    write_refusals(r, w);
    write_relays(r, w);
    w.histogram(
        r, latency_buckets, "weir_connect_seconds",
        "From a CONNECT's start to its target's connection.",
        [](const block& b) -> const auto& { return b.connect; });
    w.histogram(
        r, latency_buckets, "weir_resolve_seconds", "getaddrinfo calls.",
        [](const block& b) -> const auto& { return b.resolve; });
    w.histogram(
        r, duration_buckets, "weir_session_duration_seconds", "Sessions from accept to end.",
        [](const block& b) -> const auto& { return b.session; });
    return w.take();
}

} // namespace weir::server::metrics
