#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <system_error>

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>

namespace weir::relay {

enum class relay_kind { splice, copy };

/// A direction holds a pipe (splice) or a buffer (copy) only while its bytes
/// are in flight: an idle relay holds neither. Both come from per-thread pools.
struct relay_options {
    relay_kind kind = relay_kind::splice;
    /// Both directions silent for this long ends the relay. Zero disables it.
    std::chrono::steady_clock::duration idle_timeout = std::chrono::minutes(5);
    std::size_t pipe_size = 1 << 20;     ///< splice: requested pipe capacity per direction
    std::size_t buffer_size = 64 * 1024; ///< copy: buffer per direction
    /// splice: pipe capacity (bytes) the whole process may hold, spares included;
    /// a direction that finds none left copies through a buffer instead.
    std::size_t pipe_budget = 64 << 20;
    std::size_t spare_pipes = 16;   ///< splice: empty pipes kept per thread for reuse
    std::size_t spare_buffers = 16; ///< buffers kept per thread for reuse
    /// splice: the first read after a wake-up copies up to this many bytes and
    /// takes a pipe only when they fill it (small exchanges never touch one); 0: off.
    std::size_t splice_probe = 4096;
};

struct relay_stats {
    std::uint64_t client_to_target = 0;
    std::uint64_t target_to_client = 0;
    std::error_code error;     ///< first error that ended the relay (EOF both ways is not one)
    bool idle_timeout = false; ///< ended because both directions were idle too long
    bool spliced = false;      ///< the splice relay ran (false: the copy relay did)
};

/// Moves bytes both ways until both directions have reached EOF (each EOF is
/// passed on as shutdown(SHUT_WR) once everything before it was delivered),
/// until an error, or until the idle timeout. Uses splice(2) when asked and
/// available, the copy relay otherwise. Never throws for network errors.
asio::awaitable<relay_stats> relay(asio::ip::tcp::socket& client, asio::ip::tcp::socket& target,
                                   const relay_options& options);

/// The two implementations behind relay(), exposed for tests and benchmarks.
/// splice_relay sets `handled` false (and does nothing) when it cannot start:
/// no spare pipe and none can be made now (budget spent, kernel refusal); the
/// caller then runs copy_relay.
asio::awaitable<relay_stats> splice_relay(asio::ip::tcp::socket& client,
                                          asio::ip::tcp::socket& target,
                                          const relay_options& options, bool& handled);
asio::awaitable<relay_stats> copy_relay(asio::ip::tcp::socket& client,
                                        asio::ip::tcp::socket& target,
                                        const relay_options& options);

/// The calling thread's pools (every relay on a thread shares them).
struct pool_stats {
    std::size_t spare_pipes = 0;    ///< empty pipes kept for reuse
    std::size_t pipes_made = 0;     ///< pipes this thread created
    std::size_t pipes_reused = 0;   ///< pipes handed out from the spares
    std::size_t copy_fallbacks = 0; ///< splice bursts that copied for want of a pipe
    std::size_t spare_buffers = 0;  ///< buffers kept for reuse
    std::size_t buffers_made = 0;   ///< buffers this thread allocated
    std::size_t pipe_bytes = 0;     ///< pipe capacity open in the whole process
};

/// Counters of the calling thread's pools.
pool_stats local_pool_stats();

/// Closes the calling thread's spare pipes, frees its spare buffers and forgets
/// a recent refusal to make pipes.
void trim_local_pools();

} // namespace weir::relay
