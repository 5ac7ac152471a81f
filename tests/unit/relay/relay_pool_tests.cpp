// What the relay holds: nothing while idle, pooled pipes and buffers while
// bytes move, a copy when the pipe budget is spent.
#include "relay_harness.hpp"
#include "socks/relay/direction.hpp"
#include "socks/relay/relay.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <memory>
#include <optional>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

#include <asio/buffer.hpp>
#include <asio/co_spawn.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/ip/address_v4.hpp>
#include <asio/read.hpp>
#include <asio/use_awaitable.hpp>
#include <catch2/catch.hpp>

using namespace std::chrono_literals;
using namespace weir::relay;
using namespace weir::relay::test;

namespace {

constexpr auto as_tuple = asio::experimental::as_tuple(asio::use_awaitable);

/// The four sockets of one relay, as in relay_harness, on a shared io_context.
struct relay_sockets {
    explicit relay_sockets(asio::io_context& io, tcp::acceptor& acceptor)
        : client(io)
        , proxy_client(io)
        , proxy_target(io)
        , target(io) {
        client.connect(acceptor.local_endpoint());
        acceptor.accept(proxy_client);
        proxy_target.connect(acceptor.local_endpoint());
        acceptor.accept(target);
    }
    tcp::socket client;
    weir::io::tcp_socket proxy_client, proxy_target;
    tcp::socket target;
    std::optional<relay_stats> stats;
};

relay_options options_for(relay_impl impl) {
    relay_options options;
    options.kind = impl;
    options.idle_timeout = 0s;
    return options;
}

asio::awaitable<void> run_one(relay_sockets& s, relay_options options) {
    s.stats = co_await async_relay(std::move(s.proxy_client), std::move(s.proxy_target), options,
                                   asio::use_awaitable);
}

/// `from` sends 8 bytes made of `tag`; `to` must read exactly those, then
/// both half-close their sending side.
asio::awaitable<void> exchange(tcp::socket& from, tcp::socket& to, std::uint64_t tag, bool& ok) {
    bytes out(8);
    std::memcpy(out.data(), &tag, out.size());
    co_await send(from, out, true);
    read_result in;
    co_await read_to_end(to, in);
    ok = !in.error && in.data == out;
}

/// Options for a process allowed one 64 KiB pipe, every shortage recorded
/// in `shortages`; the thread's spare pipes closed.
relay_options one_pipe_budget() {
    auto options = options_for(relay_impl::splice);
    options.pipe_size = 64 * 1024;
    options.pipe_budget = 64 * 1024;
    options.on_pipe_shortage = record_shortage;
    shortages.clear();
    trim_local_pools();
    return options;
}

/// Waits, without holding the thread, until `ready()` is true.
template <typename Predicate>
asio::awaitable<void> wait_until(Predicate ready) {
    for (int i = 0; i < 6000 && !ready(); ++i)
        co_await sleep_for(10ms);
}

/// The target: reads nothing until the upward direction waits to write with
/// the only pipe (a lease outlives a handler only then), sends `down`, and
/// reads once the client has all of it.
asio::awaitable<void> answer_while_pipe_is_held(tcp::socket& target, const bytes& down,
                                                const read_result& at_client,
                                                read_result& at_target) {
    co_await wait_until([] {
        const auto now = local_pool_stats();
        return now.pipe_bytes > 0 && now.spare_pipes == 0;
    });
    co_await send(target, down, true);
    co_await wait_until([&] { return at_client.data.size() >= down.size(); });
    co_await read_to_end(target, at_target);
}

} // namespace

TEST_CASE("500 idle relays hold no pipe and no buffer, and each relays when woken",
          "[relay][pool][idle]") {
    const auto impl = GENERATE(relay_impl::splice, relay_impl::copy);
    CAPTURE(name(impl));
    constexpr std::size_t count = 500;
    trim_local_pools();
    asio::io_context io;
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address_v4("127.0.0.1"), 0));
    std::vector<std::unique_ptr<relay_sockets>> relays;
    for (std::size_t i = 0; i < count; ++i)
        relays.push_back(std::make_unique<relay_sockets>(io, acceptor));
    const auto with_sockets = open_fds({});
    const auto before = local_pool_stats();
    for (auto& s : relays)
        asio::co_spawn(io, run_one(*s, options_for(impl)), [](std::exception_ptr e) {
            if (e) std::rethrow_exception(e);
        });
    while (io.poll() > 0) {
    }
    const auto idle = local_pool_stats();
    // The relay's start-up check (can a pipe be had?) may have made one spare pipe, no more.
    CHECK(idle.pipes_made - before.pipes_made <= 1);
    CHECK(idle.spare_pipes == idle.pipes_made - before.pipes_made);
    CHECK(idle.pipes_reused == before.pipes_reused);
    CHECK(idle.buffers_made == before.buffers_made);
    CHECK(open_fds({}).size() == with_sockets.size() + 2 * idle.spare_pipes);

    const auto up_ok = std::make_unique<bool[]>(count);
    const auto down_ok = std::make_unique<bool[]>(count);
    for (std::size_t i = 0; i < count; ++i) {
        auto& s = *relays[i];
        asio::co_spawn(io, exchange(s.client, s.target, i, up_ok[i]), [](std::exception_ptr) {});
        asio::co_spawn(io, exchange(s.target, s.client, ~i, down_ok[i]), [](std::exception_ptr) {});
    }
    io.run_for(60s);
    for (std::size_t i = 0; i < count; ++i) {
        CAPTURE(i);
        REQUIRE(relays[i]->stats);
        CHECK(up_ok[i]);
        CHECK(down_ok[i]);
        CHECK(relays[i]->stats->client_to_target == 8);
        CHECK(relays[i]->stats->target_to_client == 8);
        CHECK_FALSE(relays[i]->stats->error);
    }
    const auto after = local_pool_stats();
    CHECK(after.spare_pipes <= 16);
    CHECK(after.spare_buffers <= 16);
    trim_local_pools();
}

TEST_CASE("pipes go back to the pool and are reused, not made again", "[relay][pool]") {
    const bytes up = random_bytes(2 << 20, 11);
    const bytes down = random_bytes(1 << 20, 12);
    trim_local_pools();
    const auto start = local_pool_stats();
    for (int round = 0; round < 2; ++round) {
        CAPTURE(round);
        const auto before = local_pool_stats();
        relay_harness h;
        h.trim_pools = false;
        read_result at_client;
        read_result at_target;
        h.spawn(send(h.client, up, true));
        h.spawn(read_to_end(h.client, at_client));
        h.spawn(send(h.target, down, true));
        h.spawn(read_to_end(h.target, at_target));
        h.start_relay(relay_impl::splice, options_for(relay_impl::splice));
        REQUIRE(h.run());

        REQUIRE(h.stats);
        CHECK_FALSE(h.stats->error);
        CHECK(same_bytes(at_target.data, up));
        CHECK(same_bytes(at_client.data, down));
        const auto after = local_pool_stats();
        // At most one pipe per direction at a time, every one back in the pool.
        CHECK(after.pipes_made - start.pipes_made >= 1);
        CHECK(after.pipes_made - start.pipes_made <= 2);
        CHECK(after.spare_pipes == after.pipes_made - start.pipes_made);
        if (round == 0) {
            CHECK(h.fds_after.size() == h.fds_before.size() + 2 * after.spare_pipes);
        } else {
            CHECK(after.pipes_reused > before.pipes_reused);
            CHECK(after.pipes_made == before.pipes_made); // nothing new: all reused
            CHECK(h.fds_after == h.fds_before);
        }
    }
    trim_local_pools();
    CHECK(local_pool_stats().spare_pipes == 0);
}

TEST_CASE("with the pipe budget spent, a direction copies instead, byte for byte",
          "[relay][pool][budget]") {
    const bytes up = random_bytes(4 << 20, 13);
    const bytes down = random_bytes(1 << 20, 14);
    const auto options = one_pipe_budget();
    const auto before = local_pool_stats();
    relay_harness h;
    h.target.set_option(asio::socket_base::receive_buffer_size(16 * 1024));
    read_result at_client;
    read_result at_target;
    h.spawn(send(h.client, up, true));
    h.spawn(read_to_end(h.client, at_client));
    h.spawn(answer_while_pipe_is_held(h.target, down, at_client, at_target));
    h.start_relay(relay_impl::splice, options);
    REQUIRE(h.run());

    REQUIRE(h.stats);
    CHECK_FALSE(h.stats->error);
    CHECK(h.stats->spliced);
    CHECK(h.stats->client_to_target == up.size());
    CHECK(h.stats->target_to_client == down.size());
    CHECK(same_bytes(at_target.data, up));
    CHECK(same_bytes(at_client.data, down));
    const auto after = local_pool_stats();
    CHECK(after.pipes_made - before.pipes_made == 1);
    CHECK(after.copy_fallbacks > before.copy_fallbacks);
    CHECK(h.fds_after == h.fds_before);
    // Each copy was told, with its cause.
    REQUIRE(shortages.size() == after.copy_fallbacks - before.copy_fallbacks);
    for (const auto& s : shortages) {
        CHECK(s.why == pipe_shortage::cause::budget);
        CHECK(s.error == 0);
        CHECK(s.pipe_size == 64 * 1024);
    }
}

namespace {

/// Writes `first`, waits until the target has it all, frees the pipe the
/// test held (the budget's only one), then writes `second` and half-closes.
asio::awaitable<void>
send_freeing_the_pipe_between(tcp::socket& client, const bytes& first, const bytes& second,
                              const read_result& at_target, detail::pipe_fds held,
                              const relay_options& options, std::size_t& told_while_held,
                              pool_stats& when_freed) {
    co_await send(client, first, false);
    co_await wait_until([&] { return at_target.data.size() >= first.size(); });
    told_while_held = shortages.size();
    detail::pipe_pool::local().give_back(held, options.spare_pipes);
    when_freed = local_pool_stats();
    co_await send(client, second, true);
}

} // namespace

TEST_CASE("a relay that began with no pipe to be had splices once one is free",
          "[relay][pool][budget]") {
    const bytes first = random_bytes(1 << 20, 21);
    const bytes second = random_bytes(1 << 20, 22);
    const auto options = one_pipe_budget();
    // The budget's only pipe, held here while the relay starts and the first megabyte moves.
    const auto held = detail::pipe_pool::local().take(options);
    REQUIRE(held);
    relay_harness h;
    h.trim_pools = false;
    read_result at_client;
    read_result at_target;
    std::size_t told_while_held = 0;
    pool_stats when_freed;
    const bytes nothing;
    h.spawn(send(h.target, nothing, true)); // nothing comes down
    h.spawn(read_to_end(h.client, at_client));
    h.spawn(read_to_end(h.target, at_target));
    h.spawn(send_freeing_the_pipe_between(h.client, first, second, at_target, *held, options,
                                          told_while_held, when_freed));
    h.start_relay(relay_impl::splice, options);
    REQUIRE(h.run());

    REQUIRE(h.stats);
    CHECK_FALSE(h.stats->error);
    CHECK(h.stats->spliced);
    CHECK(h.stats->client_to_target == first.size() + second.size());
    CHECK(h.stats->target_to_client == 0);
    bytes both = first;
    both.insert(both.end(), second.begin(), second.end());
    CHECK(same_bytes(at_target.data, both));
    CHECK(at_client.data.empty());
    // While the pipe was held the bursts copied, each for want of budget ...
    CHECK(told_while_held > 0);
    for (const auto& s : shortages)
        CHECK(s.why == pipe_shortage::cause::budget);
    // ... and once it was free, the relay took it from the pool.
    const auto after = local_pool_stats();
    CHECK(after.pipes_reused > when_freed.pipes_reused);
    CHECK(after.pipes_made == when_freed.pipes_made);
    CHECK(h.fds_after == h.fds_before); // the pipe is a spare again
    trim_local_pools();
}

TEST_CASE("with a probe, small exchanges never take a pipe and bulk still splices",
          "[relay][pool][probe]") {
    auto options = options_for(relay_impl::splice);
    options.splice_probe = 4096;
    trim_local_pools();
    SECTION("small") {
        const bytes chunk = random_bytes(100, 15);
        const auto before = local_pool_stats();
        relay_harness h;
        h.trim_pools = false;
        read_result at_client;
        read_result at_target;
        h.spawn(talk_then_listen(h.client, chunk, at_client));
        h.spawn(listen_then_answer(h.target, chunk, at_target));
        h.start_relay(relay_impl::splice, options);
        REQUIRE(h.run());
        REQUIRE(h.stats);
        CHECK_FALSE(h.stats->error);
        CHECK(same_bytes(at_target.data, chunk));
        CHECK(same_bytes(at_client.data, chunk));
        CHECK(local_pool_stats().pipes_reused == before.pipes_reused);
    }
    SECTION("bulk") {
        const bytes up = random_bytes(3 << 20, 16);
        const bytes down = random_bytes((1 << 20) + 4097, 17);
        const auto before = local_pool_stats();
        relay_harness h;
        h.trim_pools = false;
        read_result at_client;
        read_result at_target;
        h.spawn(talk_then_listen(h.client, up, at_client));
        h.spawn(listen_then_answer(h.target, down, at_target));
        h.start_relay(relay_impl::splice, options);
        REQUIRE(h.run());
        REQUIRE(h.stats);
        CHECK_FALSE(h.stats->error);
        CHECK(same_bytes(at_target.data, up));
        CHECK(same_bytes(at_client.data, down));
        CHECK(local_pool_stats().pipes_reused > before.pipes_reused);
    }
    trim_local_pools();
}

namespace {

/// A connected loopback TCP pair of plain descriptors.
struct tcp_pair {
    tcp_pair() {
        asio::io_context io;
        tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address_v4("127.0.0.1"), 0));
        tcp::socket a(io);
        tcp::socket b(io);
        a.connect(acceptor.local_endpoint());
        acceptor.accept(b);
        near = a.release();
        far = b.release();
        ::fcntl(far, F_SETFL, ::fcntl(far, F_GETFL) | O_NONBLOCK);
        ::fcntl(near, F_SETFL, ::fcntl(near, F_GETFL) | O_NONBLOCK);
    }
    ~tcp_pair() {
        ::close(near);
        ::close(far);
    }
    tcp_pair(const tcp_pair&) = delete;
    tcp_pair& operator=(const tcp_pair&) = delete;
    int near = -1;
    int far = -1;
};

/// Writes `data` to `fd` (it fits in the loopback buffers).
void send_bytes(int fd, const bytes& data) {
    std::size_t done = 0;
    while (done < data.size()) {
        const auto n = ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
        REQUIRE(n > 0);
        done += static_cast<std::size_t>(n);
    }
}

void write_all_fd(int fd, std::size_t size) {
    send_bytes(fd, random_bytes(size, 21));
}

/// Reads exactly `size` bytes from `fd`, then, with `then_eof`, its end.
bytes read_bytes(int fd, std::size_t size, bool then_eof = false) {
    bytes got(size);
    std::size_t done = 0;
    while (done < size || then_eof) {
        pollfd ready{fd, POLLIN, 0};
        REQUIRE(::poll(&ready, 1, 10'000) == 1); // the far ends are non-blocking too
        if (done == size) {
            char extra = 0;
            REQUIRE(::recv(fd, &extra, 1, 0) == 0);
            break;
        }
        const auto n = ::recv(fd, got.data() + done, size - done, 0);
        REQUIRE(n > 0);
        done += static_cast<std::size_t>(n);
    }
    return got;
}

void read_exactly(int fd, std::size_t size) {
    (void)read_bytes(fd, size);
}

/// What the relay's wait does with the inbox: one read of the source into it.
std::size_t wait_into_inbox(weir::relay::detail::direction& d, int src) {
    pollfd ready{src, POLLIN, 0};
    REQUIRE(::poll(&ready, 1, 10'000) == 1);
    const auto n = ::recv(src, d.inbox().data(), d.inbox().size(), 0);
    REQUIRE(n >= 0);
    return static_cast<std::size_t>(n);
}

/// Pumps until the direction waits for its source (its turns may end first).
weir::relay::detail::direction::next pump_until_waiting(weir::relay::detail::direction& d,
                                                        std::error_code& error) {
    auto next = d.pump(error);
    while (next == weir::relay::detail::direction::next::more)
        next = d.pump(error);
    return next;
}

/// Relays until `size` bytes reach `far` (the destination's peer), waiting
/// for the source as the relay does: into the inbox, or for readiness only.
bytes relay_through(weir::relay::detail::direction& d, int src, int far, std::size_t size) {
    using weir::relay::detail::direction;
    bytes got(size);
    std::size_t done = 0;
    std::error_code error;
    auto next = direction::next::readable;
    for (int rounds = 0; done < size && rounds < 100'000; ++rounds) {
        const auto n = ::recv(far, got.data() + done, size - done, MSG_DONTWAIT);
        if (n > 0) done += static_cast<std::size_t>(n);
        if (next == direction::next::writable) {
            next = pump_until_waiting(d, error);
            continue;
        }
        REQUIRE(next == direction::next::readable);
        pollfd ready{src, POLLIN, 0};
        if (::poll(&ready, 1, 10) != 1) continue;
        if (d.reads_while_waiting()) d.received(wait_into_inbox(d, src));
        next = pump_until_waiting(d, error);
    }
    REQUIRE_FALSE(error);
    REQUIRE(done == size);
    return got;
}

} // namespace

TEST_CASE("after a burst that outgrew the probe the next splices at once; after a small one it "
          "probes again",
          "[relay][pool][probe]") {
    using weir::relay::detail::direction;
    auto options = options_for(relay_impl::splice);
    options.splice_probe = 4096;
    trim_local_pools();
    tcp_pair from; // from.near: the client; from.far: the proxy's source
    tcp_pair to;   // to.near: the proxy's destination; to.far: the target
    direction d(from.far, to.near, options, true);
    std::error_code error;

    // One burst of 80 KiB (probe, then a pipe), read to the end.
    write_all_fd(from.near, 80 * 1024);
    CHECK(pump_until_waiting(d, error) == direction::next::readable);
    read_exactly(to.far, 80 * 1024);
    const auto after_bulk = local_pool_stats();
    CHECK(after_bulk.spare_pipes == 1);

    // A 100-byte burst right after it takes the pipe from its first byte.
    write_all_fd(from.near, 100);
    CHECK(pump_until_waiting(d, error) == direction::next::readable);
    read_exactly(to.far, 100);
    const auto after_small = local_pool_stats();
    CHECK(after_small.pipes_reused == after_bulk.pipes_reused + 1);

    // The next 100-byte burst follows a small one: the probe carries it, no pipe.
    write_all_fd(from.near, 100);
    CHECK(pump_until_waiting(d, error) == direction::next::readable);
    read_exactly(to.far, 100);
    CHECK(local_pool_stats().pipes_reused == after_small.pipes_reused);
    CHECK(local_pool_stats().pipes_made == after_small.pipes_made);
    CHECK_FALSE(error);
    CHECK(d.delivered() == 80 * 1024 + 200);
    d.release();
    trim_local_pools();
}

TEST_CASE("the wait's inbox carries a small exchange alone and leads a larger one, in order",
          "[relay][pool][inbox]") {
    using weir::relay::detail::direction;
    constexpr std::size_t inbox = direction::inbox_size;
    const auto splice = GENERATE(true, false);
    const std::size_t probe = GENERATE(std::size_t{4096}, std::size_t{0});
    CAPTURE(splice, probe);
    auto options = options_for(splice ? relay_impl::splice : relay_impl::copy);
    options.splice_probe = probe;
    trim_local_pools();
    tcp_pair from;
    tcp_pair to;
    direction d(from.far, to.near, options, splice);
    std::error_code error;
    std::uint64_t sent = 0;

    SECTION("shorter than the inbox: one send, no buffer, no pipe") {
        const auto before = local_pool_stats();
        for (const std::size_t size : {std::size_t{1}, inbox - 1}) {
            const bytes chunk = random_bytes(size, 31);
            send_bytes(from.near, chunk);
            REQUIRE(d.reads_while_waiting());
            d.received(wait_into_inbox(d, from.far));
            CHECK(d.pump(error) == direction::next::readable);
            CHECK(read_bytes(to.far, size) == chunk);
            sent += size;
        }
        const auto after = local_pool_stats();
        CHECK(after.buffers_made == before.buffers_made);
        CHECK(after.pipes_made == before.pipes_made);
        CHECK(after.pipes_reused == before.pipes_reused);
        CHECK(d.reads_while_waiting());
    }
    SECTION("a full inbox is followed by the rest of the burst") {
        for (const std::size_t size : {inbox, inbox + 1, std::size_t{3000}, std::size_t{200'000}}) {
            CAPTURE(size);
            const bytes chunk = random_bytes(size, static_cast<std::uint32_t>(size));
            send_bytes(from.near, chunk);
            CHECK(relay_through(d, from.far, to.far, size) == chunk);
            sent += size;
        }
        // 200,000 bytes were bulk: the next wait only waits, and the burst goes to a pipe.
        CHECK_FALSE(d.reads_while_waiting());
    }
    SECTION("a full inbox, then the end: the bytes, then the end passed on") {
        const bytes chunk = random_bytes(inbox, 33);
        send_bytes(from.near, chunk);
        ::shutdown(from.near, SHUT_WR);
        d.received(wait_into_inbox(d, from.far));
        CHECK(pump_until_waiting(d, error) == direction::next::done);
        CHECK(read_bytes(to.far, inbox, true) == chunk);
        sent = inbox;
    }
    SECTION("an empty read is the end") {
        ::shutdown(from.near, SHUT_WR);
        d.received(wait_into_inbox(d, from.far));
        CHECK(d.pump(error) == direction::next::done);
        CHECK(read_bytes(to.far, 0, true).empty());
    }
    CHECK_FALSE(error);
    CHECK(d.delivered() == sent);
    d.release();
    trim_local_pools();
}
