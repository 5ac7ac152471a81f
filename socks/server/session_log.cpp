#include "socks/server/session_log.hpp"

#include "log/log.hpp"
#include "socks/server/address_conversion.hpp"
#include "socks/server/metrics.hpp"
#include "text/ascii.hpp"

#include <algorithm>
#include <array>
#include <span>
#include <variant>

#include <fmt/compile.h>

namespace weir::server {
namespace {

using asio::ip::tcp;

// IPv4 through proto's formatter: asio's to_string() goes through inet_ntop,
// whose sprintf costs more than the rest of a log line.
std::string endpoint_string(const tcp::endpoint& ep) {
    if (ep.address().is_v4()) return proto::to_string(to_proto(ep));
    return fmt::format("[{}]:{}", ep.address().to_string(), ep.port()); // keeps a scope id
}

// The target as one log token. proto::to_string already escapes a name's
// unprintable bytes but keeps spaces; escape the name once, here, instead.
std::string target_for_log(const std::optional<proto::address>& target) {
    if (!target) return "-";
    if (const auto* name = std::get_if<std::string>(&target->host))
        return fmt::format("{}:{}", log::printable(*name), target->port);
    return proto::to_string(*target);
}

// "0x5a": reply codes as RFC 1928 and the SOCKS4 protocol write them.
const char* reply_hex(int code) {
    static constexpr char digits[] = "0123456789abcdef";
    thread_local char text[5] = "0x00";
    text[2] = digits[(code >> 4) & 0xf];
    text[3] = digits[code & 0xf];
    return text;
}

} // namespace

std::string_view command_name(proto::command cmd) {
    switch (cmd) {
    case proto::command::connect:
        return "connect";
    case proto::command::bind:
        return "bind";
    case proto::command::udp_associate:
        return "udp-associate";
    }
    return "command";
}

const char* protocol_name(const proto::request_event& req) {
    if (req.ver == proto::version::socks5) return "socks5";
    return req.destination.is_domain() ? "socks4a" : "socks4";
}

std::string outcome_text(outcome o, std::error_code error, proto::command cmd) {
    switch (o) {
    case outcome::succeeded:
        return "succeeded";
    case outcome::handshake_timeout:
        return "handshake-timeout";
    case outcome::client_closed:
        return "client-closed";
    case outcome::client_read_failed:
        return "client-read-failed";
    case outcome::client_write_failed:
        return "client-write-failed";
    case outcome::refused:
        return "refused:" + slug(error);
    case outcome::client_blocked:
        return "refused:client-blocked";
    case outcome::command_failed:
        return fmt::format("{}-failed:{}", command_name(cmd), slug(error));
    case outcome::reply_timeout:
        return "reply-timeout";
    case outcome::target_write_failed:
        return "target-write-failed";
    }
    return "unknown";
}

// The session's event in JSON: every field named, numbers as numbers.
void log_session_json(const session_record& r, std::string_view listener_url, const session_end& e,
                      std::chrono::milliseconds took, log::level level) {
    const auto client = endpoint_string(r.client);
    const auto target = target_for_log(r.target);
    const auto resolved = r.resolved ? endpoint_string(*r.resolved) : std::string();
    const udp_stats none;
    const auto& u = e.udp != nullptr ? *e.udp : none;
    const auto reply = r.reply < 0 ? std::string_view() : std::string_view(reply_hex(r.reply));
    const std::array<log::field, 22> fields{{
        {"client", client},
        {"listener", listener_url},
        {"protocol", std::string_view(r.proto)},
        {"user", r.user},
        {"target", target},
        {"resolved", resolved},
        {"result", e.result},
        {"reply", reply},
        {"end", e.end},
        {"relay", e.relay},
        {"up", r.up + e.up},
        {"down", e.down},
        {"duration", static_cast<double>(took.count()) / 1000.0},
        // UDP ASSOCIATE only:
        {"datagrams_up", u.datagrams_up},
        {"datagrams_down", u.datagrams_down},
        {"dropped_foreign", u.foreign},
        {"dropped_frag", u.fragmented},
        {"dropped_malformed", u.malformed},
        {"dropped_denied", u.denied},
        {"dropped_unresolved", u.unresolved},
        {"dropped_unsolicited", u.unsolicited},
        {"dropped_unsent", u.unsent},
    }};
    const std::size_t tcp_fields = 13;
    log::event(level, "session",
               std::span(fields.data(), e.udp != nullptr ? fields.size() : tcp_fields), "");
}

// One line per session, the default log level's bulk: formats compiled in
// (FMT_COMPILE), not parsed at run time.
void log_session(const session_record& r, std::string_view listener_url, const session_end& e) {
    using namespace std::chrono;
    const auto level = e.quiet ? log::level::debug : log::level::info;
    if (!log::enabled(level)) return;
    const auto ms = duration_cast<milliseconds>(steady_clock::now() - r.start).count();
    if (log::current_format() == log::format::json)
        return log_session_json(r, listener_url, e, milliseconds(ms), level);
    fmt::memory_buffer line;
    auto out = std::back_inserter(line);
    fmt::format_to(
        out, FMT_COMPILE("session client={} listener={} proto={} user={} target={} result={}"),
        endpoint_string(r.client), listener_url, std::string_view(r.proto), r.user,
        target_for_log(r.target), e.result);
    if (!e.end.empty()) fmt::format_to(out, FMT_COMPILE(" end={}"), e.end);
    if (!e.relay.empty()) fmt::format_to(out, FMT_COMPILE(" relay={}"), e.relay);
    if (!e.extra.empty()) fmt::format_to(out, FMT_COMPILE(" {}"), e.extra);
    fmt::format_to(out, FMT_COMPILE(" up={} down={} duration={}.{:03}s"), r.up + e.up, e.down,
                   ms / 1000, ms % 1000);
    log::write(level, std::string_view(line.data(), line.size()));
}

void log_relayed(const session_record& r, std::string_view listener_url,
                 const relay::relay_stats& stats) {
    const std::string error = stats.error ? "error:" + slug(stats.error) : std::string();
    session_end e;
    e.end = stats.drained        ? "drain"
            : stats.idle_timeout ? "idle-timeout"
            : stats.error        ? std::string_view(error)
                                 : "eof";
    e.relay = stats.spliced ? "splice" : "copy";
    e.up = stats.client_to_target;
    e.down = stats.target_to_client;
    log_session(r, listener_url, e);
}

void log_udp(const session_record& r, std::string_view listener_url, const udp_stats& s) {
    const auto extra =
        fmt::format("datagrams={}/{} dropped=foreign:{},frag:{},malformed:{},denied:{},"
                    "unresolved:{},unsolicited:{},unsent:{}",
                    s.datagrams_up, s.datagrams_down, s.foreign, s.fragmented, s.malformed,
                    s.denied, s.unresolved, s.unsolicited, s.unsent);
    session_end e;
    e.end = s.drained ? "drain" : s.idle_timeout ? "idle-timeout" : "eof";
    e.relay = "udp";
    e.extra = extra;
    e.udp = &s;
    e.up = s.bytes_up;
    e.down = s.bytes_down;
    log_session(r, listener_url, e);
}

void log_step(const session_record& r, std::string_view what) {
    log::debug("handshake client={}: {}", endpoint_string(r.client), what);
}

void log_refused(const session_record& r, std::string_view why) {
    log::info("refused client={} target={}: {}", endpoint_string(r.client),
              target_for_log(r.target), why);
}

void log_unexpected_peer(const session_record& r, const tcp::endpoint& from) {
    log::info("refused client={} target={}: BIND connection from {}, not the expected peer",
              endpoint_string(r.client), target_for_log(r.target), endpoint_string(from));
}

void log_denied(const session_record& r, const auth::decision& d) {
    metrics::denied(d.rule_number); // every denial is logged here, so counted here
    log::info("refused client={} target={} by {}", endpoint_string(r.client),
              target_for_log(r.target), auth::describe(d));
}

std::string slug(std::error_code ec) {
    auto text = text::lowercase(ec.message());
    std::replace(text.begin(), text.end(), ' ', '-');
    return log::printable(text);
}

} // namespace weir::server
