// Portable relay: read into a pooled buffer, write it all out, per direction.
#include "socks/relay/relay.hpp"
#include "socks/relay/relay_engine.hpp"

namespace weir::relay {

asio::awaitable<relay_stats> copy_relay(asio::ip::tcp::socket& client,
                                        asio::ip::tcp::socket& target,
                                        const relay_options& options) {
    // recv and send with MSG_DONTWAIT: no need to touch the sockets' flags.
    return detail::run_relay(client, target, options, false);
}

} // namespace weir::relay
