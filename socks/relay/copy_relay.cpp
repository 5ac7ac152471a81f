// Portable relay: read into a buffer, write it all out, per direction.
#include "socks/relay/relay.hpp"
#include "socks/relay/relay_state.hpp"

#include <cstdint>
#include <span>
#include <vector>

#include <asio/buffer.hpp>
#include <asio/error.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

namespace weir::relay {
namespace {

using asio::ip::tcp;

/// Moves bytes from `src` to `dst` until EOF on `src` (then half-closes
/// `dst`), an error, or the end of the relay.
asio::awaitable<void> copy_direction(tcp::socket& src, tcp::socket& dst,
                                     std::span<std::uint8_t> buffer, std::uint64_t& delivered,
                                     detail::relay_state& state) {
    constexpr auto as_tuple = asio::experimental::as_tuple(asio::use_awaitable);
    const auto cs = co_await asio::this_coro::cancellation_state;
    for (;;) {
        auto [read_ec, n] =
            co_await src.async_read_some(asio::buffer(buffer.data(), buffer.size()), as_tuple);
        if (state.should_stop(cs)) co_return;
        if (read_ec == asio::error::eof) break;
        if (read_ec) {
            state.fail(read_ec);
            co_return;
        }
        state.moved();
        auto [write_ec, written] =
            co_await asio::async_write(dst, asio::buffer(buffer.data(), n), as_tuple);
        delivered += written;
        if (state.should_stop(cs)) co_return;
        if (write_ec) {
            state.fail(write_ec);
            co_return;
        }
        state.moved();
    }
    std::error_code ignored; // the peer may be gone already: nothing left to tell it
    dst.shutdown(tcp::socket::shutdown_send, ignored);
}

} // namespace

asio::awaitable<relay_stats> copy_relay(tcp::socket& client, tcp::socket& target,
                                        const relay_options& options) {
    const std::size_t size = options.buffer_size > 0 ? options.buffer_size : 64 * 1024;
    std::vector<std::uint8_t> up(size);
    std::vector<std::uint8_t> down(size);
    detail::relay_state state(co_await asio::this_coro::executor, options.idle_timeout);
    co_await state.run(copy_direction(client, target, up, state.stats().client_to_target, state),
                       copy_direction(target, client, down, state.stats().target_to_client, state));
    co_return state.stats();
}

} // namespace weir::relay
