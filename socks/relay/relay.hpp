#pragma once

#include "io/tcp_socket.hpp"
#include "socks/relay/relay_engine.hpp"
#include "socks/relay/relay_options.hpp"

#include <cstddef>
#include <utility>

#include <asio/associated_cancellation_slot.hpp>
#include <asio/async_result.hpp>

namespace weir::relay {

/// Moves bytes both ways between `client` and `target`, which it takes, until
/// both directions have reached EOF (each EOF is passed on as shutdown(SHUT_WR)
/// once everything before it was delivered), an error, the idle timeout, or a
/// cancellation through the handler's cancellation slot. Then closes both
/// sockets and completes with void(relay_stats), on the sockets' thread.
/// Splices when asked, a burst at a time: a burst that finds no pipe to be
/// had (budget spent, kernel refusal) is copied, the next tries again. Never fails
/// for network errors (they are in the stats).
///
/// The relay is handler-driven: an idle one costs its own small state, two
/// pending waits and no timer (one per thread sweeps idle relays), whatever
/// the completion token; a plain callback keeps no coroutine frame alive.
/// `options` must outlive the relay. Relays still running when the
/// io_context is destroyed are destroyed with it, their handlers uninvoked.
template <typename CompletionToken>
auto async_relay(io::tcp_socket client, io::tcp_socket target, const relay_options& options,
                 CompletionToken&& token) {
    return asio::async_initiate<CompletionToken, void(relay_stats)>(
        [](auto handler, io::tcp_socket c, io::tcp_socket t, const relay_options* o) {
            auto slot = asio::get_associated_cancellation_slot(handler);
            // From here on the engine owns itself, until it completes.
            detail::make_engine(std::move(c), std::move(t), *o, std::move(handler))->start(slot);
        },
        token, std::move(client), std::move(target), &options);
}

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

/// Stops every relay running on `io` (call on its thread): each completes
/// soon after, with `drained` in its stats, its bytes so far counted.
void stop_relays(asio::io_context& io);

/// Closes the calling thread's spare pipes, frees its spare buffers and forgets
/// a recent refusal to make pipes.
void trim_local_pools();

} // namespace weir::relay
