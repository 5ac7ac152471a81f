#include "socks/relay/relay.hpp"

#include "socks/relay/buffer_pool.hpp"
#include "socks/relay/pipe_pool.hpp"
#include "socks/relay/relay_service.hpp"

namespace weir::relay {

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

void stop_relays(asio::io_context& io) {
    detail::relay_service::of(io.get_executor()).drain_all();
}

void trim_local_pools() {
    detail::pipe_pool::local().trim();
    detail::buffer_pool::local().trim();
}

} // namespace weir::relay
