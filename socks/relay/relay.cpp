#include "socks/relay/relay.hpp"

namespace weir::relay {

asio::awaitable<relay_stats> relay(asio::ip::tcp::socket& client, asio::ip::tcp::socket& target,
                                   const relay_options& options) {
    if (options.kind == relay_kind::splice) {
        bool handled = false;
        relay_stats stats = co_await splice_relay(client, target, options, handled);
        if (handled) co_return stats;
    }
    co_return co_await copy_relay(client, target, options);
}

} // namespace weir::relay
