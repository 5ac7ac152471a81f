#include "io/poll_set.hpp"
#include "io/unique_fd.hpp"

#include <array>
#include <cerrno>
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

/// Two socket pairs and a reader of each.
struct two_pairs {
    pair a;
    pair b;
    reader ra;
    reader rb;
    two_pairs() {
        ra.fd = a.out.get();
        rb.fd = b.out.get();
    }
};

/// Members that take the own waits first, idle, so that the members a test
/// joins next go to the epoll set; they leave with leave_all().
struct crowd {
    std::vector<pair> pairs{poll_set::own_waits};
    std::vector<reader> readers{poll_set::own_waits};
    void join(poll_set& polls) {
        for (std::size_t i = 0; i < pairs.size(); ++i)
            REQUIRE_FALSE(polls.join(pairs[i].out.get(), readers[i]));
    }
    void leave_all(poll_set& polls) {
        for (auto& r : readers)
            polls.leave(r);
    }
};

/// A context's poll set, its members watched either way: by waits of their
/// own, or (a crowd there first) in the epoll set.
struct fixture {
    asio::io_context io;
    poll_set& polls = poll_set::of(io.get_executor());
    crowd others;
    bool in_set = GENERATE(false, true);
    fixture() {
        if (in_set) others.join(polls);
    }
    /// The test's last member leaves: so does the crowd.
    void last_left() {
        if (in_set) others.leave_all(polls);
    }
    void check_kind() const {
        CHECK(polls.own_size() == (in_set ? poll_set::own_waits : polls.size()));
    }
};

} // namespace

TEST_CASE_METHOD(fixture, "a member is told when its descriptor turns readable, once per edge",
                 "[poll_set]") {
    pair p;
    reader r;
    r.fd = p.out.get();
    REQUIRE_FALSE(polls.join(p.out.get(), r));
    check_kind();
    p.send(1);
    p.send(2);
    r.then = [&] {
        if (r.got.size() == 2) {
            p.send(3); // a new edge after the drain
            r.then = [&] {
                polls.leave(r); // the last member: the context runs out of work
                last_left();
            };
        }
    };
    io.run(); // returns only when no wait is pending
    CHECK(r.got == std::vector<std::uint8_t>{1, 2, 3});
    CHECK(r.told == 2);
    CHECK(polls.size() == 0);
}

TEST_CASE_METHOD(fixture, "a member that left is not told of events already taken", "[poll_set]") {
    two_pairs t;
    auto& [a, b, ra, rb] = t;
    REQUIRE_FALSE(polls.join(a.out.get(), ra));
    REQUIRE_FALSE(polls.join(b.out.get(), rb));
    check_kind();
    // Both ready in one wake-up; whichever is told first makes the other leave.
    ra.then = [&] {
        polls.leave(rb);
        polls.leave(ra);
        last_left();
    };
    rb.then = [&] {
        polls.leave(ra);
        polls.leave(rb);
        last_left();
    };
    a.send(7);
    b.send(8);
    io.run();
    CHECK(ra.told + rb.told == 1);
    CHECK(polls.size() == 0);
}

TEST_CASE_METHOD(fixture, "a member joining after the last one left is watched", "[poll_set]") {
    two_pairs t;
    auto& [a, b, ra, rb] = t;
    REQUIRE_FALSE(polls.join(a.out.get(), ra));
    // The set empties (its wait is cancelled) and gets a member again before
    // the cancellation is delivered: the wait must come back.
    asio::post(io, [&] {
        polls.leave(ra);
        REQUIRE_FALSE(polls.join(b.out.get(), rb));
        b.send(9);
    });
    rb.then = [&] {
        polls.leave(rb);
        last_left();
    };
    io.run();
    CHECK(ra.told == 0);
    CHECK(rb.got == std::vector<std::uint8_t>{9});
}

TEST_CASE_METHOD(fixture, "joining a descriptor that is not one fails with the kernel's error",
                 "[poll_set]") {
    reader r;
    const auto before = polls.size();
    CHECK(polls.join(-1, r) == std::error_code(EBADF, std::system_category()));
    CHECK(polls.size() == before);
    last_left();
    io.run(); // nothing pending
}

TEST_CASE("members past the own waits join the epoll set; leaving frees an own wait",
          "[poll_set]") {
    asio::io_context io;
    auto& polls = poll_set::of(io.get_executor());
    crowd first;
    first.join(polls);
    pair p;
    reader r;
    r.fd = p.out.get();
    REQUIRE_FALSE(polls.join(p.out.get(), r));
    CHECK(polls.own_size() == poll_set::own_waits);
    CHECK(polls.size() == poll_set::own_waits + 1);
    polls.leave(first.readers.front());
    pair q;
    reader rq;
    rq.fd = q.out.get();
    REQUIRE_FALSE(polls.join(q.out.get(), rq)); // takes the own wait left free
    CHECK(polls.own_size() == poll_set::own_waits);
    CHECK(polls.size() == poll_set::own_waits + 1);
}
