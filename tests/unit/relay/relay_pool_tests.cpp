// What the relay holds: nothing while idle, pooled pipes and buffers while
// bytes move, a copy when the pipe budget is spent.
#include "relay_harness.hpp"
#include "socks/relay/direction.hpp"
#include "socks/relay/relay.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <fcntl.h>
#include <memory>
#include <optional>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <system_error>
#include <thread>
#include <unistd.h>
#include <utility>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/ip/address_v4.hpp>
#include <asio/use_awaitable.hpp>
#include <catch2/catch.hpp>

using namespace std::chrono_literals;
using namespace weir::relay;
using namespace weir::relay::test;

namespace {

using detail::direction;

/// A turn of one 64 KiB read, what a relay gets while others share its thread.
constexpr std::size_t one_read = 64 * 1024;

relay_options options_for(relay_impl impl,
                          std::size_t splice_probe = relay_options{}.splice_probe) {
    relay_options options;
    options.kind = impl;
    options.idle_timeout = 0s;
    options.splice_probe = splice_probe;
    return options;
}

/// A relay_harness and what each end read to its end. The ends send, then
/// half-close; the bytes they send must outlive run_relay().
struct relay_run : relay_harness {
    void client_sends(const bytes& up) {
        spawn(send(client, up, true));
        spawn(read_to_end(client, at_client));
    }
    void target_sends(const bytes& down) {
        spawn(send(target, down, true));
        spawn(read_to_end(target, at_target));
    }
    /// Runs the relay and every task to the end; the relay must end without error.
    void run_relay(const relay_options& options) {
        start_relay(options.kind, options);
        REQUIRE(run());
        REQUIRE(stats);
        CHECK_FALSE(stats->error);
    }
    /// `up` reached the target and `down` the client, every byte counted.
    void check_delivered(const bytes& up, const bytes& down) const {
        CHECK(stats->client_to_target == up.size());
        CHECK(stats->target_to_client == down.size());
        CHECK(same_bytes(at_target.data, up));
        CHECK(same_bytes(at_client.data, down));
    }
    read_result at_client;
    read_result at_target;
};

/// One relay's four sockets, as in relay_harness but on a shared io_context.
struct relay_sockets {
    relay_sockets(asio::io_context& io, tcp::acceptor& acceptor)
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
    bool up_ok = false;   ///< the target read exactly what the client sent
    bool down_ok = false; ///< and the client what the target sent
};

asio::awaitable<void> run_one(relay_sockets& s, relay_options options) {
    s.stats = co_await async_relay(std::move(s.proxy_client), std::move(s.proxy_target), options,
                                   asio::use_awaitable);
}

/// `from` sends 8 bytes made of `tag` and half-closes; `ok`: `to` read exactly those.
asio::awaitable<void> pass_tag(tcp::socket& from, tcp::socket& to, std::uint64_t tag, bool& ok) {
    bytes out(8);
    std::memcpy(out.data(), &tag, out.size());
    co_await send(from, out, true);
    read_result in;
    co_await read_to_end(to, in);
    ok = !in.error && in.data == out;
}

/// `count` relays' sockets on one io_context.
struct idle_relays {
    explicit idle_relays(std::size_t count) {
        for (std::size_t i = 0; i < count; ++i)
            all.push_back(std::make_unique<relay_sockets>(io, acceptor));
    }
    /// Starts every relay and runs until all of them wait.
    void start(const relay_options& options) {
        for (auto& s : all)
            asio::co_spawn(io, run_one(*s, options), [](std::exception_ptr e) {
                if (e) std::rethrow_exception(e);
            });
        while (io.poll() > 0) {
        }
    }
    /// Each end of relay `i` sends 8 bytes (`i` up, `~i` down); runs until all have ended.
    void wake_each() {
        for (std::size_t i = 0; i < all.size(); ++i) {
            auto& s = *all[i];
            asio::co_spawn(io, pass_tag(s.client, s.target, i, s.up_ok), [](std::exception_ptr) {});
            asio::co_spawn(io, pass_tag(s.target, s.client, ~i, s.down_ok),
                           [](std::exception_ptr) {});
        }
        io.run_for(60s);
    }
    asio::io_context io;
    tcp::acceptor acceptor{io, tcp::endpoint(asio::ip::make_address_v4("127.0.0.1"), 0)};
    std::vector<std::unique_ptr<relay_sockets>> all;
};

/// A process allowed one 64 KiB pipe, each shortage in `shortages`, no spare pipes.
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
asio::awaitable<void> answer_while_pipe_is_held(relay_run& r, const bytes& down) {
    co_await wait_until([] {
        const auto now = local_pool_stats();
        return now.pipe_bytes > 0 && now.spare_pipes == 0;
    });
    co_await send(r.target, down, true);
    co_await wait_until([&] { return r.at_client.data.size() >= down.size(); });
    co_await read_to_end(r.target, r.at_target);
}

/// Writes `first`, waits until the target has it all, frees the pipe the
/// test held (the budget's only one), then writes `second` and half-closes.
asio::awaitable<void> send_freeing_the_pipe_between(relay_run& r, const bytes& first,
                                                    const bytes& second, detail::pipe_fds held,
                                                    const relay_options& options,
                                                    std::size_t& told_while_held,
                                                    pool_stats& when_freed) {
    co_await send(r.client, first, false);
    co_await wait_until([&] { return r.at_target.data.size() >= first.size(); });
    told_while_held = shortages.size();
    detail::pipe_pool::local().give_back(held, options.spare_pipes);
    when_freed = local_pool_stats();
    co_await send(r.client, second, true);
}

/// The client sends `up` and listens; the target reads it all, then answers
/// `down`. With the pools kept, both must arrive.
void relay_request_reply(const relay_options& options, const bytes& up, const bytes& down) {
    relay_run r;
    r.trim_pools = false;
    r.spawn(talk_then_listen(r.client, up, r.at_client));
    r.spawn(listen_then_answer(r.target, down, r.at_target));
    r.run_relay(options);
    r.check_delivered(up, down);
}

} // namespace

TEST_CASE("500 idle relays hold no pipe and no buffer, and each relays when woken",
          "[relay][pool][idle]") {
    const auto impl = GENERATE(relay_impl::splice, relay_impl::copy);
    CAPTURE(name(impl));
    trim_local_pools();
    idle_relays relays(500);
    const auto with_sockets = open_fds({});
    const auto before = local_pool_stats();
    relays.start(options_for(impl));
    const auto idle = local_pool_stats();
    // The relay's start-up check (can a pipe be had?) may have made one spare pipe, no more.
    CHECK(idle.pipes_made - before.pipes_made <= 1);
    CHECK(idle.spare_pipes == idle.pipes_made - before.pipes_made);
    CHECK(idle.pipes_reused == before.pipes_reused);
    CHECK(idle.buffers_made == before.buffers_made);
    CHECK(open_fds({}).size() == with_sockets.size() + 2 * idle.spare_pipes);

    relays.wake_each();
    for (std::size_t i = 0; i < relays.all.size(); ++i) {
        CAPTURE(i);
        const auto& s = *relays.all[i];
        REQUIRE(s.stats);
        CHECK(s.up_ok);
        CHECK(s.down_ok);
        CHECK(s.stats->client_to_target == 8);
        CHECK(s.stats->target_to_client == 8);
        CHECK_FALSE(s.stats->error);
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
        relay_run r;
        r.trim_pools = false;
        r.client_sends(up);
        r.target_sends(down);
        r.run_relay(options_for(relay_impl::splice));
        r.check_delivered(up, down);
        const auto after = local_pool_stats();
        // At most one pipe per direction at a time, every one back in the pool.
        CHECK(after.pipes_made - start.pipes_made >= 1);
        CHECK(after.pipes_made - start.pipes_made <= 2);
        CHECK(after.spare_pipes == after.pipes_made - start.pipes_made);
        if (round == 0) {
            CHECK(r.fds_after.size() == r.fds_before.size() + 2 * after.spare_pipes);
        } else {
            CHECK(after.pipes_reused > before.pipes_reused);
            CHECK(after.pipes_made == before.pipes_made); // nothing new: all reused
            CHECK(r.fds_after == r.fds_before);
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
    relay_run r;
    r.target.set_option(asio::socket_base::receive_buffer_size(16 * 1024));
    r.client_sends(up);
    r.spawn(answer_while_pipe_is_held(r, down));
    r.run_relay(options);

    CHECK(r.stats->spliced);
    r.check_delivered(up, down);
    const auto after = local_pool_stats();
    CHECK(after.pipes_made - before.pipes_made == 1);
    CHECK(after.copy_fallbacks > before.copy_fallbacks);
    CHECK(r.fds_after == r.fds_before);
    // Each copy was told, with its cause.
    REQUIRE(shortages.size() == after.copy_fallbacks - before.copy_fallbacks);
    for (const auto& s : shortages) {
        CHECK(s.why == pipe_shortage::cause::budget);
        CHECK(s.error == 0);
        CHECK(s.pipe_size == 64 * 1024);
    }
}

TEST_CASE("a relay that began with no pipe to be had splices once one is free",
          "[relay][pool][budget]") {
    const bytes first = random_bytes(1 << 20, 21);
    const bytes second = random_bytes(1 << 20, 22);
    bytes both = first;
    both.insert(both.end(), second.begin(), second.end());
    const bytes nothing;
    const auto options = one_pipe_budget();
    // The budget's only pipe, held here while the relay starts and the first megabyte moves.
    const auto held = detail::pipe_pool::local().take(options);
    REQUIRE(held);
    relay_run r;
    r.trim_pools = false;
    std::size_t told_while_held = 0;
    pool_stats when_freed;
    r.target_sends(nothing);
    r.spawn(read_to_end(r.client, r.at_client));
    r.spawn(send_freeing_the_pipe_between(r, first, second, *held, options, told_while_held,
                                          when_freed));
    r.run_relay(options);

    CHECK(r.stats->spliced);
    r.check_delivered(both, nothing);
    // While the pipe was held the bursts copied, each for want of budget ...
    CHECK(told_while_held > 0);
    for (const auto& s : shortages)
        CHECK(s.why == pipe_shortage::cause::budget);
    // ... and once it was free, the relay took it from the pool.
    const auto after = local_pool_stats();
    CHECK(after.pipes_reused > when_freed.pipes_reused);
    CHECK(after.pipes_made == when_freed.pipes_made);
    CHECK(r.fds_after == r.fds_before); // the pipe is a spare again
    trim_local_pools();
}

TEST_CASE("with a probe, small exchanges never take a pipe and bulk still splices",
          "[relay][pool][probe]") {
    const auto options = options_for(relay_impl::splice, 4096);
    trim_local_pools();
    SECTION("small") {
        const bytes chunk = random_bytes(100, 15);
        const auto before = local_pool_stats();
        relay_request_reply(options, chunk, chunk);
        CHECK(local_pool_stats().pipes_reused == before.pipes_reused);
    }
    SECTION("bulk") {
        const bytes up = random_bytes(3 << 20, 16);
        const bytes down = random_bytes((1 << 20) + 4097, 17);
        const auto before = local_pool_stats();
        relay_request_reply(options, up, down);
        CHECK(local_pool_stats().pipes_reused > before.pipes_reused);
    }
    trim_local_pools();
}

namespace {

constexpr std::size_t inbox = direction::inbox_size;

/// A connected loopback TCP pair as plain non-blocking descriptors.
struct fd_pair {
    int near = -1;
    int far = -1;
};
fd_pair loopback_pair() {
    asio::io_context io;
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address_v4("127.0.0.1"), 0));
    tcp::socket a(io);
    tcp::socket b(io);
    a.connect(acceptor.local_endpoint());
    acceptor.accept(b);
    const fd_pair pair{a.release(), b.release()};
    for (const int fd : {pair.near, pair.far})
        ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    return pair;
}

void wait_readable(int fd) {
    pollfd ready{fd, POLLIN, 0};
    REQUIRE(::poll(&ready, 1, 10'000) == 1); // every descriptor here is non-blocking
}

/// One direction driven by hand on this thread's emptied pools: the client
/// writes to from.near, the direction moves from.far to to.near, the target
/// reads to.far. At the end the direction is released and the pools emptied.
struct direction_rig {
    direction_rig(const relay_options& chosen, bool splice)
        : options(chosen)
        , d(from.far, to.near, options, splice) {
        trim_local_pools();
    }
    ~direction_rig() {
        d.release();
        trim_local_pools();
        for (const int fd : {from.near, from.far, to.near, to.far})
            ::close(fd);
    }
    /// The client sends `size` bytes made from `seed` (they fit in the loopback buffers).
    bytes client_sends(std::size_t size, std::uint32_t seed) {
        const bytes chunk = random_bytes(size, seed);
        for (std::size_t done = 0; done < size;) {
            const auto n = ::send(from.near, chunk.data() + done, size - done, MSG_NOSIGNAL);
            REQUIRE(n > 0);
            done += static_cast<std::size_t>(n);
        }
        sent += size;
        return chunk;
    }
    void client_ends() { ::shutdown(from.near, SHUT_WR); }
    /// Waits until the direction's source has `size` bytes queued to read.
    void wait_queued(std::size_t size) {
        int queued = 0;
        for (int tries = 0; tries < 1000; ++tries) {
            REQUIRE(::ioctl(from.far, FIONREAD, &queued) == 0);
            if (static_cast<std::size_t>(queued) >= size) return;
            std::this_thread::sleep_for(10ms);
        }
        FAIL("the source has " << queued << " bytes queued, not " << size);
    }
    bytes target_reads(std::size_t size, bool then_eof = false);
    /// What the relay's wait does with the inbox: one read of the source into it.
    void wait_into_inbox() {
        wait_readable(from.far);
        const auto n = ::recv(from.far, d.inbox().data(), d.inbox().size(), 0);
        REQUIRE(n >= 0);
        d.received(static_cast<std::size_t>(n));
    }
    /// Pumps until the direction waits for its source (its turns may end first).
    direction::next pump_until_waiting() {
        auto next = d.pump(error, one_read);
        while (next == direction::next::more)
            next = d.pump(error, one_read);
        return next;
    }
    /// The client sends `size` bytes; the direction, woken for readiness only,
    /// moves all of them on before it waits again, and the target reads them.
    void burst(std::size_t size) {
        const bytes chunk = client_sends(size, 21);
        CHECK(pump_until_waiting() == direction::next::readable);
        CHECK(same_bytes(target_reads(size), chunk));
    }
    /// The client sends `size` bytes, fewer than the inbox holds: the wait reads
    /// them all, one pump sends them on.
    void through_inbox_alone(std::size_t size) {
        const bytes chunk = client_sends(size, 31);
        REQUIRE(d.reads_while_waiting());
        wait_into_inbox();
        CHECK(d.pump(error, one_read) == direction::next::readable);
        CHECK(target_reads(size) == chunk);
    }
    void relay_burst(std::size_t size);

    const fd_pair from = loopback_pair();
    const fd_pair to = loopback_pair();
    const relay_options options; ///< the direction keeps a reference
    direction d;
    std::error_code error;
    std::uint64_t sent = 0; ///< bytes the client has sent
};

/// What the target reads: exactly `size` bytes, then, with `then_eof`, the end.
bytes direction_rig::target_reads(std::size_t size, bool then_eof) {
    bytes got(size);
    for (std::size_t done = 0; done < size;) {
        wait_readable(to.far);
        const auto n = ::recv(to.far, got.data() + done, size - done, 0);
        REQUIRE(n > 0);
        done += static_cast<std::size_t>(n);
    }
    if (then_eof) {
        wait_readable(to.far);
        char extra = 0;
        REQUIRE(::recv(to.far, &extra, 1, 0) == 0);
    }
    return got;
}

/// The client sends `size` bytes; the direction relays until the target has
/// them all, waiting for the source as the relay does: into the inbox, or for
/// readiness only.
void direction_rig::relay_burst(std::size_t size) {
    CAPTURE(size);
    const bytes chunk = client_sends(size, static_cast<std::uint32_t>(size));
    bytes got(size);
    std::size_t done = 0;
    auto next = direction::next::readable;
    for (int rounds = 0; done < size && rounds < 100'000; ++rounds) {
        const auto n = ::recv(to.far, got.data() + done, size - done, MSG_DONTWAIT);
        if (n > 0) done += static_cast<std::size_t>(n);
        if (next == direction::next::writable) {
            next = pump_until_waiting();
            continue;
        }
        REQUIRE(next == direction::next::readable);
        pollfd ready{from.far, POLLIN, 0};
        if (::poll(&ready, 1, 10) != 1) continue;
        if (d.reads_while_waiting()) wait_into_inbox();
        next = pump_until_waiting();
    }
    REQUIRE_FALSE(error);
    REQUIRE(done == size);
    CHECK(same_bytes(got, chunk));
}

} // namespace

TEST_CASE("after a burst that outgrew the probe the next splices at once; after a small one it "
          "probes again",
          "[relay][pool][probe]") {
    direction_rig rig(options_for(relay_impl::splice, 4096), true);

    // One burst of 80 KiB (probe, then a pipe), read to the end.
    rig.burst(80 * 1024);
    const auto after_bulk = local_pool_stats();
    CHECK(after_bulk.spare_pipes == 1);

    // A 100-byte burst right after it takes the pipe from its first byte.
    rig.burst(100);
    const auto after_small = local_pool_stats();
    CHECK(after_small.pipes_reused == after_bulk.pipes_reused + 1);

    // The next 100-byte burst follows a small one: the probe carries it, no pipe.
    rig.burst(100);
    CHECK(local_pool_stats().pipes_reused == after_small.pipes_reused);
    CHECK(local_pool_stats().pipes_made == after_small.pipes_made);
    CHECK_FALSE(rig.error);
    CHECK(rig.d.delivered() == 80 * 1024 + 200);
}

TEST_CASE("a turn ends once it has read the bytes it was given; the next goes on where it stopped",
          "[relay][pool][turn]") {
    constexpr std::size_t read_size = 8 * 1024;
    relay_options options = options_for(relay_impl::copy);
    options.buffer_size = read_size;
    direction_rig rig(options, false);
    // Four reads' worth and a little more, all in the source's queue before the first read.
    const bytes chunk = rig.client_sends(4 * read_size + 1000, 41);
    rig.wait_queued(chunk.size());

    CHECK(rig.d.pump(rig.error, read_size) == direction::next::more);
    CHECK(rig.d.delivered() == read_size);
    // A turn ends after the read that reaches its size.
    CHECK(rig.d.pump(rig.error, read_size + 1) == direction::next::more);
    CHECK(rig.d.delivered() == 3 * read_size);
    // A turn long enough for the rest ends when the source would block.
    CHECK(rig.d.pump(rig.error, 16 * read_size) == direction::next::readable);
    CHECK(rig.d.delivered() == chunk.size());
    CHECK(same_bytes(rig.target_reads(chunk.size()), chunk));
    CHECK_FALSE(rig.error);
}

TEST_CASE("the wait's inbox carries a small exchange alone and leads a larger one, in order",
          "[relay][pool][inbox]") {
    const auto splice = GENERATE(true, false);
    const std::size_t probe = GENERATE(std::size_t{4096}, std::size_t{0});
    CAPTURE(splice, probe);
    direction_rig rig(options_for(splice ? relay_impl::splice : relay_impl::copy, probe), splice);

    SECTION("shorter than the inbox: one send, no buffer, no pipe") {
        const auto before = local_pool_stats();
        rig.through_inbox_alone(1);
        rig.through_inbox_alone(inbox - 1);
        const auto after = local_pool_stats();
        CHECK(after.buffers_made == before.buffers_made);
        CHECK(after.pipes_made == before.pipes_made);
        CHECK(after.pipes_reused == before.pipes_reused);
        CHECK(rig.d.reads_while_waiting());
    }
    SECTION("a full inbox is followed by the rest of the burst") {
        for (const std::size_t size : {inbox, inbox + 1, std::size_t{3000}, std::size_t{200'000}})
            rig.relay_burst(size);
        // 200,000 bytes were bulk: the next wait only waits, and the burst goes to a pipe.
        CHECK_FALSE(rig.d.reads_while_waiting());
    }
    SECTION("a full inbox, then the end: the bytes, then the end passed on") {
        const bytes chunk = rig.client_sends(inbox, 33);
        rig.client_ends();
        rig.wait_into_inbox();
        CHECK(rig.pump_until_waiting() == direction::next::done);
        CHECK(rig.target_reads(inbox, true) == chunk);
    }
    SECTION("an empty read is the end") {
        rig.client_ends();
        rig.wait_into_inbox();
        CHECK(rig.d.pump(rig.error, one_read) == direction::next::done);
        CHECK(rig.target_reads(0, true).empty());
    }
    CHECK_FALSE(rig.error);
    CHECK(rig.d.delivered() == rig.sent);
}
