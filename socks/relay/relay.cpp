#include "socks/relay/relay.hpp"

#include "socks/relay/buffer_pool.hpp"
#include "socks/relay/pipe_pool.hpp"

namespace weir::relay {

// Not a coroutine: no frame of its own for the life of the session.
asio::awaitable<relay_stats> relay(asio::ip::tcp::socket& client, asio::ip::tcp::socket& target,
                                   const relay_options& options) {
    if (options.kind == relay_kind::splice) {
        bool handled = false;
        auto spliced = splice_relay(client, target, options, handled);
        if (handled) return spliced;
    }
    return copy_relay(client, target, options);
}

pool_stats local_pool_stats() {
    const auto& pipes = detail::pipe_pool::local();
    const auto& buffers = detail::buffer_pool::local();
    pool_stats stats;
    stats.spare_pipes = pipes.spares();
    stats.pipes_made = pipes.made();
    stats.pipes_reused = pipes.reused();
    stats.copy_fallbacks = pipes.fallbacks();
    stats.spare_buffers = buffers.spares();
    stats.buffers_made = buffers.made();
    stats.pipe_bytes = detail::pipe_pool::process_bytes();
    return stats;
}

void trim_local_pools() {
    detail::pipe_pool::local().trim();
    detail::buffer_pool::local().trim();
}

} // namespace weir::relay
