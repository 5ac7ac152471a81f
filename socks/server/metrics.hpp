#pragma once

#include "socks/proto/events.hpp"
#include "socks/relay/relay_options.hpp"
#include "socks/server/admission.hpp"
#include "socks/server/session_log.hpp"
#include "socks/server/udp_association.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

/// What weir counts for its metrics endpoint. Each thread counts into a block
/// of its own (made on its first count, kept after it ends): a count is a
/// plain load and store, no lock and no locked instruction, since only the
/// thread itself writes its block. A scrape sums the blocks.
namespace weir::server::metrics {

/// Names the listeners (their bound URLs, by index); call once, after
/// binding and before the I/O threads run.
void configure(std::vector<std::string> listener_urls);

/// Which relay moved a session's bytes.
enum class relay_mode : std::uint8_t { none, splice, copy, udp };

/// A connection a listener accepted and admitted.
void accepted(std::size_t listener) noexcept;
/// A connection turned away by a limit.
void refused_at_door(refusal why) noexcept;
/// A connection turned away because its client is blocked (failed logins).
void blocked_at_door() noexcept;
/// A handshake shed to make room for another client's.
void shed() noexcept;

/// How a session ended (every session that accepted() counted ends here once).
struct session_end_facts {
    std::size_t listener = 0;
    const char* protocol = "-";          ///< socks4, socks4a, socks5 or "-"
    std::optional<proto::command> cmd;   ///< none when no request came
    outcome result = outcome::succeeded; ///< refused: `error` names the codec's reason
    std::error_code error;
    relay_mode relay = relay_mode::none;
    std::uint64_t up = 0;
    std::uint64_t down = 0;
    std::chrono::steady_clock::duration duration{};
};
void session_ended(const session_end_facts& f) noexcept;
/// A login the users file refused.
void login_failed(std::size_t listener) noexcept;
/// A request or a destination refused by the rules; rule number 0: the default action.
void denied(std::size_t rule_number) noexcept;
/// From a CONNECT's start to its target's connection (names resolved on the way).
void connected(std::chrono::steady_clock::duration took) noexcept;
/// One getaddrinfo call.
void resolved(std::chrono::steady_clock::duration took, bool found) noexcept;
/// A splice burst copied for want of a pipe.
void pipe_shortage(relay::pipe_shortage::cause why) noexcept;
/// A UDP association's datagrams and drops.
void udp_ended(const udp_stats& s) noexcept;

/// What the scrape reads from the server as it is now.
struct gauges {
    std::size_t sessions = 0;   ///< admitted and not ended
    std::size_t handshakes = 0; ///< of those, still negotiating
    std::size_t pipe_bytes = 0; ///< pipe capacity open in the process
    bool draining = false;
};

/// The Prometheus text exposition (format 0.0.4) of every count so far.
std::string exposition(const gauges& g);

} // namespace weir::server::metrics
