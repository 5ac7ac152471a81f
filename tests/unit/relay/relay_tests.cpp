#include "relay_harness.hpp"
#include "socks/relay/relay.hpp"

#include <cerrno>
#include <chrono>
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>

#include <asio/buffer.hpp>
#include <asio/error.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/read.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <catch2/catch.hpp>

using namespace std::chrono_literals;
using namespace weir::relay;
using namespace weir::relay::test;

namespace {

/// Both relays, with their default sizes and with small odd ones (many
/// partial moves; splice without the probe: pipes from the first byte).
relay_options options_for(relay_impl impl, bool small) {
    relay_options options;
    options.kind = impl;
    options.idle_timeout = 0s;
    if (small) {
        options.pipe_size = 4096;
        options.buffer_size = 1000;
        options.splice_probe = 0;
    }
    return options;
}

/// Sends small chunks at `interval`, `count` times, then half-closes.
asio::awaitable<void> trickle(tcp::socket& socket, const bytes& chunk, int count,
                              std::chrono::milliseconds interval) {
    for (int i = 0; i < count; ++i) {
        co_await send(socket, chunk, false);
        co_await sleep_for(interval);
    }
    socket.shutdown(tcp::socket::shutdown_send);
}

/// Sends until the connection fails.
asio::awaitable<void> flood(tcp::socket& socket) {
    const bytes chunk = random_bytes(64 * 1024, 5);
    for (;;) {
        auto [ec, n] = co_await asio::async_write(
            socket, asio::buffer(chunk), asio::experimental::as_tuple(asio::use_awaitable));
        if (ec) co_return;
    }
}

/// Reads `count` bytes, then resets the connection.
asio::awaitable<void> read_then_reset(tcp::socket& socket, std::size_t count) {
    bytes chunk(count);
    co_await asio::async_read(socket, asio::buffer(chunk),
                              asio::experimental::as_tuple(asio::use_awaitable));
    reset_close(socket);
}

} // namespace

TEST_CASE("relay moves megabytes both ways at once, byte for byte", "[relay]") {
    const auto impl = GENERATE(relay_impl::splice, relay_impl::copy);
    const bool small = GENERATE(false, true);
    CAPTURE(name(impl), small);
    const bytes up = random_bytes(4 << 20, 1);
    const bytes down = random_bytes((3 << 20) + 12345, 2);
    relay_harness h;
    read_result at_client;
    read_result at_target;
    h.spawn(send(h.client, up, true));
    h.spawn(read_to_end(h.client, at_client));
    h.spawn(send(h.target, down, true));
    h.spawn(read_to_end(h.target, at_target));
    h.start_relay(impl, options_for(impl, small));
    REQUIRE(h.run());

    REQUIRE(h.stats);
    CHECK(h.stats->client_to_target == up.size());
    CHECK(h.stats->target_to_client == down.size());
    CHECK_FALSE(h.stats->error);
    CHECK_FALSE(h.stats->idle_timeout);
    CHECK(h.stats->spliced == (impl == relay_impl::splice));
    CHECK_FALSE(at_target.error);
    CHECK(at_target.data.size() == up.size());
    CHECK(same_bytes(at_target.data, up));
    CHECK_FALSE(at_client.error);
    CHECK(at_client.data.size() == down.size());
    CHECK(same_bytes(at_client.data, down));
    CHECK(h.fds_after == h.fds_before);
}

TEST_CASE("relay passes each half-close on and keeps the other direction flowing",
          "[relay][half-close]") {
    const auto impl = GENERATE(relay_impl::splice, relay_impl::copy);
    const bool client_first = GENERATE(true, false);
    CAPTURE(name(impl), client_first);
    const bytes first_says = random_bytes(300'000, 3);
    const bytes second_says = random_bytes(700'000, 4);
    relay_harness h;
    tcp::socket& first = client_first ? h.client : h.target;
    tcp::socket& second = client_first ? h.target : h.client;
    read_result at_first;
    read_result at_second;
    h.spawn(talk_then_listen(first, first_says, at_first));
    h.spawn(listen_then_answer(second, second_says, at_second));
    h.start_relay(impl, options_for(impl, false));
    REQUIRE(h.run());

    REQUIRE(h.stats);
    const auto from_first = client_first ? h.stats->client_to_target : h.stats->target_to_client;
    const auto from_second = client_first ? h.stats->target_to_client : h.stats->client_to_target;
    CHECK(from_first == first_says.size());
    CHECK(from_second == second_says.size());
    CHECK_FALSE(h.stats->error);
    CHECK_FALSE(h.stats->idle_timeout);
    CHECK_FALSE(at_second.error);
    CHECK(same_bytes(at_second.data, first_says));
    CHECK_FALSE(at_first.error);
    CHECK(same_bytes(at_first.data, second_says));
    CHECK(h.fds_after == h.fds_before);
}

TEST_CASE("a reset on either end ends the relay with an error", "[relay][reset]") {
    const auto impl = GENERATE(relay_impl::splice, relay_impl::copy);
    const bool client_resets = GENERATE(true, false);
    CAPTURE(name(impl), client_resets);
    relay_harness h;
    tcp::socket& resetting = client_resets ? h.client : h.target;
    tcp::socket& sending = client_resets ? h.target : h.client;
    h.spawn(flood(sending));
    h.spawn(read_then_reset(resetting, 100'000));
    h.start_relay(impl, options_for(impl, false));
    REQUIRE(h.run());

    REQUIRE(h.stats);
    CAPTURE(h.stats->error.message());
    CHECK((h.stats->error == asio::error::connection_reset ||
           h.stats->error == asio::error::broken_pipe));
    CHECK_FALSE(h.stats->idle_timeout);
    const auto towards_reset =
        client_resets ? h.stats->target_to_client : h.stats->client_to_target;
    CHECK(towards_reset >= 100'000);
    if (impl == relay_impl::splice) {
        // splice(2) into a reset socket raises SIGPIPE: the relay ignores it.
        struct sigaction sigpipe {};
        REQUIRE(::sigaction(SIGPIPE, nullptr, &sigpipe) == 0);
        CHECK(sigpipe.sa_handler == SIG_IGN);
    }
    CHECK(h.fds_after == h.fds_before);
}

TEST_CASE("relay ends when both directions stay idle", "[relay][idle]") {
    const auto impl = GENERATE(relay_impl::splice, relay_impl::copy);
    CAPTURE(name(impl));
    relay_harness h;
    read_result at_client;
    read_result at_target;
    h.spawn(read_to_end(h.client, at_client));
    h.spawn(read_to_end(h.target, at_target));
    auto options = options_for(impl, false);
    options.idle_timeout = 200ms;
    h.start_relay(impl, options);
    REQUIRE(h.run());

    REQUIRE(h.stats);
    CHECK(h.stats->idle_timeout);
    CHECK_FALSE(h.stats->error);
    CHECK(h.stats->client_to_target == 0);
    CHECK(h.stats->target_to_client == 0);
    // The proxy's sockets were closed after the relay: both ends see EOF.
    CHECK_FALSE(at_client.error);
    CHECK_FALSE(at_target.error);
    CHECK(h.fds_after == h.fds_before);
}

TEST_CASE("traffic in one direction keeps the relay from going idle", "[relay][idle]") {
    const auto impl = GENERATE(relay_impl::splice, relay_impl::copy);
    CAPTURE(name(impl));
    const bytes chunk = random_bytes(16, 6);
    const bytes nothing;
    constexpr int chunks = 25; // 2.5 s of traffic, one chunk every 100 ms
    bytes expected;
    for (int i = 0; i < chunks; ++i)
        expected.insert(expected.end(), chunk.begin(), chunk.end());
    relay_harness h;
    read_result at_client;
    read_result at_target;
    h.spawn(trickle(h.client, chunk, chunks, 100ms));
    h.spawn(read_to_end(h.client, at_client));
    h.spawn(listen_then_answer(h.target, nothing, at_target));
    auto options = options_for(impl, false);
    options.idle_timeout = 2s;
    h.start_relay(impl, options);
    REQUIRE(h.run());

    REQUIRE(h.stats);
    CHECK_FALSE(h.stats->idle_timeout);
    CHECK_FALSE(h.stats->error);
    CHECK(h.stats->client_to_target == expected.size());
    CHECK(h.stats->target_to_client == 0);
    CHECK(same_bytes(at_target.data, expected));
    CHECK_FALSE(at_client.error);
    CHECK(h.fds_after == h.fds_before);
}

TEST_CASE("cancelling the caller ends the relay with nothing left pending", "[relay][cancel]") {
    const auto impl = GENERATE(relay_impl::splice, relay_impl::copy);
    CAPTURE(name(impl));
    relay_harness h;
    read_result at_client;
    read_result at_target;
    h.spawn(read_to_end(h.client, at_client));
    h.spawn(read_to_end(h.target, at_target));
    h.start_relay(impl, options_for(impl, false), 200ms);
    REQUIRE(h.run());

    CHECK(h.cancelled);
    CHECK_FALSE(at_client.error);
    CHECK_FALSE(at_target.error);
    CHECK(h.fds_after == h.fds_before);
}

TEST_CASE("without pipes a splice relay copies instead", "[relay][fallback]") {
    const bytes up = random_bytes(500'000, 7);
    const bytes down = random_bytes(200'000, 8);
    relay_harness h;
    read_result at_client;
    read_result at_target;
    h.spawn(talk_then_listen(h.client, up, at_client));
    h.spawn(listen_then_answer(h.target, down, at_target));
    shortages.clear();
    auto options = options_for(relay_impl::splice, false);
    options.on_pipe_shortage = record_shortage;
    const auto before = local_pool_stats();
    {
        const fd_limit_guard no_new_fds;
        h.start_relay(relay_impl::splice, options);
        REQUIRE(h.run());
    }

    REQUIRE(h.stats);
    CHECK(h.fds_after == h.fds_before);
    CHECK_FALSE(h.stats->error);
    CHECK(h.stats->client_to_target == up.size());
    CHECK(h.stats->target_to_client == down.size());
    CHECK(same_bytes(at_target.data, up));
    CHECK(same_bytes(at_client.data, down));
    // No pipe was made; each burst that wanted one copied and said why: pipe2 failed.
    const auto after = local_pool_stats();
    CHECK(after.pipes_made == before.pipes_made);
    REQUIRE_FALSE(shortages.empty());
    CHECK(shortages.size() == after.copy_fallbacks - before.copy_fallbacks);
    for (const auto& s : shortages) {
        CHECK(s.why == pipe_shortage::cause::open_failed);
        CHECK(s.error == EMFILE);
        CHECK(s.pipe_size == options.pipe_size);
    }
}

TEST_CASE("relays still running when their io_context goes away close their sockets",
          "[relay][shutdown]") {
    asio::io_context ends_io; // the ends outlive the relay's context
    tcp::acceptor acceptor(ends_io, tcp::endpoint(asio::ip::make_address_v4("127.0.0.1"), 0));
    tcp::socket client(ends_io);
    tcp::socket target(ends_io);
    bool completed = false;
    int proxy_fds[2] = {-1, -1};
    {
        asio::io_context io;
        weir::io::tcp_socket proxy_client(io);
        weir::io::tcp_socket proxy_target(io);
        client.connect(acceptor.local_endpoint());
        acceptor.accept(proxy_client);
        proxy_target.connect(acceptor.local_endpoint());
        acceptor.accept(target);
        proxy_fds[0] = proxy_client.native_handle();
        proxy_fds[1] = proxy_target.native_handle();
        relay_options options;
        async_relay(std::move(proxy_client), std::move(proxy_target), options,
                    [&](const relay_stats&) { completed = true; });
        io.run_for(50ms); // both directions wait: nothing to relay
    }
    CHECK_FALSE(completed);
    for (const int fd : proxy_fds)
        CHECK(::fcntl(fd, F_GETFD) == -1);
    // Both ends see the proxy's side close.
    std::uint8_t byte = 0;
    CHECK(::recv(client.native_handle(), &byte, 1, MSG_DONTWAIT) == 0);
    CHECK(::recv(target.native_handle(), &byte, 1, MSG_DONTWAIT) == 0);
}
