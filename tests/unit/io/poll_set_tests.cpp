#include "io/poll_set.hpp"
#include "io/unique_fd.hpp"

#include <array>
#include <cstdint>
#include <functional>
#include <sys/socket.h>
#include <vector>

#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <catch2/catch.hpp>

using weir::io::poll_member;
using weir::io::poll_set;
using weir::io::unique_fd;

namespace {

/// A non-blocking datagram socket pair: write to `in`, `out` turns readable.
struct pair {
    unique_fd in;
    unique_fd out;
    pair() {
        std::array<int, 2> fds{};
        REQUIRE(::socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds.data()) ==
                0);
        in.reset(fds[0]);
        out.reset(fds[1]);
    }
    void send(std::uint8_t byte) const { REQUIRE(::send(in.get(), &byte, 1, 0) == 1); }
};

/// Reads everything its descriptor has when told; records the bytes.
struct reader final : poll_member {
    int fd = -1;
    std::vector<std::uint8_t> got;
    int told = 0;
    std::function<void()> then; ///< runs inside on_readable(), after the reads

    void on_readable() override {
        ++told;
        std::uint8_t b = 0;
        while (::recv(fd, &b, 1, 0) == 1)
            got.push_back(b);
        if (then) then();
    }
};

/// Two socket pairs and their readers, on one context's poll set.
struct two_members {
    asio::io_context io;
    poll_set& polls = poll_set::of(io.get_executor());
    pair a;
    pair b;
    reader ra;
    reader rb;
    two_members() {
        ra.fd = a.out.get();
        rb.fd = b.out.get();
    }
};

} // namespace

TEST_CASE("a member is told when its descriptor turns readable, once per edge", "[poll_set]") {
    asio::io_context io;
    auto& polls = poll_set::of(io.get_executor());
    pair p;
    reader r;
    r.fd = p.out.get();
    REQUIRE_FALSE(polls.join(p.out.get(), r));
    CHECK(polls.size() == 1);
    p.send(1);
    p.send(2);
    r.then = [&] {
        if (r.got.size() == 2) {
            p.send(3); // a new edge after the drain
            r.then = [&] {
                polls.leave(r); // the last member: the context runs out of work
            };
        }
    };
    io.run(); // returns only when the set's wait is no longer pending
    CHECK(r.got == std::vector<std::uint8_t>{1, 2, 3});
    CHECK(r.told == 2);
    CHECK(polls.size() == 0);
}

TEST_CASE_METHOD(two_members, "a member that left is not told of events already taken",
                 "[poll_set]") {
    REQUIRE_FALSE(polls.join(a.out.get(), ra));
    REQUIRE_FALSE(polls.join(b.out.get(), rb));
    // Both ready in one wake-up; whichever is told first makes the other leave.
    ra.then = [&] {
        polls.leave(rb);
        polls.leave(ra);
    };
    rb.then = [&] {
        polls.leave(ra);
        polls.leave(rb);
    };
    a.send(7);
    b.send(8);
    io.run();
    CHECK(ra.told + rb.told == 1);
    CHECK(polls.size() == 0);
}

TEST_CASE_METHOD(two_members, "a member joining after the set emptied is watched again",
                 "[poll_set]") {
    REQUIRE_FALSE(polls.join(a.out.get(), ra));
    // The set empties (its wait is cancelled) and gets a member again before
    // the cancellation is delivered: the wait must come back.
    asio::post(io, [&] {
        polls.leave(ra);
        REQUIRE_FALSE(polls.join(b.out.get(), rb));
        b.send(9);
    });
    rb.then = [&] { polls.leave(rb); };
    io.run();
    CHECK(ra.told == 0);
    CHECK(rb.got == std::vector<std::uint8_t>{9});
}

TEST_CASE("joining a descriptor that is not one fails with the kernel's error", "[poll_set]") {
    asio::io_context io;
    auto& polls = poll_set::of(io.get_executor());
    reader r;
    CHECK(polls.join(-1, r) == std::error_code(EBADF, std::system_category()));
    CHECK(polls.size() == 0);
    io.run(); // nothing pending
}
