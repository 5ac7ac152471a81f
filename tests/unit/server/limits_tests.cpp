#include "socks/server/admission.hpp"
#include "socks/server/session.hpp"

#include <chrono>
#include <string>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

#include <asio/ip/address.hpp>
#include <catch2/catch.hpp>

using namespace weir::server;
using namespace std::chrono_literals;

namespace {

// A connected pair: `ours` stands for an accepted socket, `peer` for the client.
struct socket_pair {
    int ours = -1;
    int peer = -1;
    socket_pair() {
        int fds[2];
        REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
        ours = fds[0];
        peer = fds[1];
    }
    socket_pair(const socket_pair&) = delete;
    socket_pair& operator=(const socket_pair&) = delete;
    ~socket_pair() {
        ::close(ours);
        ::close(peer);
    }
    // Whether `ours` was shut down: both ends read EOF at once rather than EAGAIN.
    bool shut_down() const {
        char byte = 0;
        const bool peer_eof = ::recv(peer, &byte, 1, MSG_DONTWAIT) == 0;
        const bool ours_eof = ::recv(ours, &byte, 1, MSG_DONTWAIT) == 0;
        CHECK(peer_eof == ours_eof);
        return peer_eof;
    }
};

} // namespace

TEST_CASE("admission: total, per-client and handshake limits", "[limits]") {
    admission a({3, 2, 0});
    admission::ticket t1, t2, t3, t4;
    CHECK(a.admit("10.0.0.1", -1, t1) == refusal::none);
    CHECK(a.admit("10.0.0.1", -1, t2) == refusal::none);
    CHECK(a.admit("10.0.0.1", -1, t3) == refusal::client_sessions);
    CHECK(a.admit("10.0.0.2", -1, t3) == refusal::none);
    CHECK(a.sessions() == 3);
    CHECK(a.admit("10.0.0.3", -1, t4) == refusal::sessions);
    t1 = admission::ticket{}; // a session ends: its places are free again
    CHECK(a.sessions() == 2);
    CHECK(a.admit("10.0.0.1", -1, t4) == refusal::none);
    CHECK(a.sessions() == 3);
}

TEST_CASE("admission: handshake places are freed when the handshake ends", "[limits]") {
    admission a({0, 0, 2});
    admission::ticket t1, t2, t3;
    REQUIRE(a.admit("c", -1, t1) == refusal::none);
    REQUIRE(a.admit("c", -1, t2) == refusal::none);
    CHECK(a.handshakes() == 2);
    CHECK(a.admit("c", -1, t3) == refusal::handshakes);
    t1.handshake_done();
    t1.handshake_done(); // idempotent
    CHECK(a.handshakes() == 1);
    CHECK(a.admit("c", -1, t3) == refusal::none);
    { auto moved = std::move(t3); } // destroyed while still in its handshake
    CHECK(a.handshakes() == 1);
    CHECK(a.sessions() == 2);
}

TEST_CASE("admission: without a per-client limit one client may hold any number", "[limits]") {
    admission a({0, 0, 0});
    std::vector<admission::ticket> tickets(1000);
    for (auto& t : tickets)
        REQUIRE(a.admit("10.0.0.1", -1, t) == refusal::none);
    CHECK(a.sessions() == 1000);
    CHECK(a.handshakes() == 1000);
    CHECK(tickets.front().client() == "10.0.0.1");
    tickets.clear();
    CHECK(a.sessions() == 0);
    CHECK(a.handshakes() == 0);
}

TEST_CASE("admission: handshakes per client", "[limits]") {
    admission a({0, 0, 0, 2});
    admission::ticket t1, t2, t3, t4, t5;
    REQUIRE(a.admit("10.0.0.1", -1, t1) == refusal::none);
    REQUIRE(a.admit("10.0.0.1", -1, t2) == refusal::none);
    CHECK(a.admit("10.0.0.1", -1, t3) == refusal::client_handshakes);
    CHECK(a.admit("10.0.0.2", -1, t3) == refusal::none); // another client is not held back
    CHECK(a.handshakes() == 3);
    t1.handshake_done(); // a session, but no longer a handshake
    t1.handshake_done(); // idempotent
    CHECK(a.handshakes() == 2);
    CHECK(a.admit("10.0.0.1", -1, t4) == refusal::none);
    CHECK(a.admit("10.0.0.1", -1, t5) == refusal::client_handshakes);
    CHECK(a.sessions() == 4);
    t2 = admission::ticket{}; // ended during its handshake
    CHECK(a.handshakes() == 2);
    CHECK(a.admit("10.0.0.1", -1, t5) == refusal::none);
    CHECK(a.sessions() == 4);
    CHECK(a.handshakes() == 3);
    for (auto* t : {&t1, &t3, &t4, &t5})
        t->release();
    CHECK(a.sessions() == 0);
    CHECK(a.handshakes() == 0);
}

TEST_CASE("admission: full handshake places shed the biggest holder's oldest", "[limits]") {
    admission a({0, 0, 4, 0});
    std::vector<socket_pair> big(3);
    socket_pair small, new1, new2, new3;
    std::vector<admission::ticket> big_t(3);
    admission::ticket small_t, new_t1, new_t2, new_t3;
    for (std::size_t i = 0; i < big.size(); ++i)
        REQUIRE(a.admit("big", big[i].ours, big_t[i]) == refusal::none);
    REQUIRE(a.admit("small", small.ours, small_t) == refusal::none);
    REQUIRE(a.handshakes() == 4);

    std::string shed_from;
    CHECK(a.admit("new", new1.ours, new_t1, &shed_from) == refusal::none);
    CHECK(shed_from == "big");
    CHECK(a.shed() == 1);
    CHECK(big[0].shut_down()); // the oldest
    CHECK_FALSE(big[1].shut_down());
    CHECK_FALSE(big[2].shut_down());
    CHECK_FALSE(small.shut_down());
    CHECK_FALSE(new1.shut_down());
    CHECK(a.handshakes() == 4);
    CHECK(a.sessions() == 5);  // the shed session ends when it sees EOF
    big_t[0].handshake_done(); // its place was freed already: not freed twice
    CHECK(a.handshakes() == 4);

    // big holds 2, new2 would hold 1: big sheds again, its oldest left.
    shed_from.clear();
    CHECK(a.admit("new2", new2.ours, new_t2, &shed_from) == refusal::none);
    CHECK(shed_from == "big");
    CHECK(big[1].shut_down());
    CHECK_FALSE(big[2].shut_down());
    CHECK(a.shed() == 2);
    big_t[1] = admission::ticket{}; // the shed session ends: its session place only
    CHECK(a.handshakes() == 4);
    CHECK(a.sessions() == 5);

    // Everybody holds one: shedding would not help, new3 is refused.
    shed_from.clear();
    CHECK(a.admit("new3", new3.ours, new_t3, &shed_from) == refusal::handshakes);
    CHECK(shed_from.empty());
    CHECK(a.shed() == 2);
    CHECK_FALSE(big[2].shut_down());
    CHECK_FALSE(small.shut_down());

    big_t.clear();
    small_t.release();
    new_t1.release();
    new_t2.release();
    CHECK(a.sessions() == 0);
    CHECK(a.handshakes() == 0);
}

TEST_CASE("admission: no shed for the biggest holder nor to swap places", "[limits]") {
    admission a({0, 0, 3, 0});
    socket_pair a1, a2, b1, extra;
    admission::ticket ta1, ta2, tb1, t;
    REQUIRE(a.admit("a", a1.ours, ta1) == refusal::none);
    REQUIRE(a.admit("a", a2.ours, ta2) == refusal::none);
    REQUIRE(a.admit("b", b1.ours, tb1) == refusal::none);
    CHECK(a.admit("a", extra.ours, t) == refusal::handshakes); // a is the biggest itself
    CHECK(a.admit("b", extra.ours, t) == refusal::handshakes); // a 2, b 2 would be no fairer
    CHECK(a.shed() == 0);
    CHECK_FALSE(a1.shut_down());
    CHECK_FALSE(a2.shut_down());
    CHECK_FALSE(b1.shut_down());
    CHECK(a.admit("c", extra.ours, t) == refusal::none); // c would hold 1, a holds 2
    CHECK(a.shed() == 1);
    CHECK(a1.shut_down());
    CHECK_FALSE(a2.shut_down());
}

TEST_CASE("admission: a fresh client gets in past 16 clients holding all they may", "[limits]") {
    // --max-handshakes 256: 16 attackers at their 64 each would need 1024.
    admission a({0, 512, 256, 64});
    std::vector<admission::ticket> held;
    std::size_t admitted = 0;
    // Each attacker tries once more; their sockets are left out (-1): only counts matter.
    const auto attack = [&](std::size_t attacker) {
        admission::ticket t;
        if (a.admit("10.0.0." + std::to_string(attacker), -1, t) != refusal::none) return;
        ++admitted;
        held.push_back(std::move(t)); // shed or not, the session lingers: the worst case
    };
    for (std::size_t attacker = 0; attacker < 16; ++attacker)
        for (int i = 0; i < 64; ++i)
            attack(attacker);
    CHECK(admitted >= 256);
    CHECK(a.handshakes() == 256);

    std::vector<admission::ticket> fresh(10); // kept in their handshakes: the harder case
    for (std::size_t i = 0; i < fresh.size(); ++i) {
        CAPTURE(i);
        const auto shed_before = a.shed();
        std::string shed_from;
        REQUIRE(a.admit("192.0.2.1", -1, fresh[i], &shed_from) == refusal::none);
        CHECK(a.shed() == shed_before + 1);
        CHECK(shed_from.rfind("10.0.0.", 0) == 0);
        CHECK(a.handshakes() == 256);
        for (std::size_t attacker = 0; attacker < 16; ++attacker)
            for (int again = 0; again < 64; ++again)
                attack(attacker); // reconnecting as fast as they can
        CHECK(a.handshakes() == 256);
    }
    fresh.clear();
    held.clear();
    CHECK(a.sessions() == 0);
    CHECK(a.handshakes() == 0);
}

TEST_CASE("client keys: IPv4 address, IPv6 /64, mapped IPv4 as IPv4", "[limits]") {
    CHECK(client_key(asio::ip::make_address("192.0.2.7")) == "192.0.2.7");
    CHECK(client_key(asio::ip::make_address("2001:db8:1:2:3:4:5:6")) == "2001:db8:1:2::/64");
    CHECK(client_key(asio::ip::make_address("2001:db8::1")) == "2001:db8::/64");
    CHECK(client_key(asio::ip::make_address("2001:0:0:1::1")) == "2001:0:0:1::/64");
    CHECK(client_key(asio::ip::make_address("::ffff:192.0.2.7")) == "192.0.2.7");
}

// A PROXY protocol listener admits the load balancer's connection, then moves
// its place to the client the header names.
TEST_CASE("admission: a ticket moves to the real client within its limits", "[limits]") {
    admission a({0, 2, 0, 1});
    admission::ticket t1, t2, t3, t4;
    REQUIRE(a.admit("lb", -1, t1) == refusal::none);
    CHECK(t1.move_to("10.0.0.1") == refusal::none);
    CHECK(t1.client() == "10.0.0.1");
    REQUIRE(a.admit("lb", -1, t2) == refusal::none); // lb's handshake place is free again
    // 10.0.0.1 holds a handshake: a second one is over the limit and stays at lb.
    CHECK(t2.move_to("10.0.0.1") == refusal::client_handshakes);
    CHECK(t2.client() == "lb");
    t1.handshake_done();
    CHECK(t2.move_to("10.0.0.1") == refusal::none);
    t2.handshake_done();
    REQUIRE(a.admit("lb", -1, t3) == refusal::none);
    // Two sessions at 10.0.0.1 now: a third is over --max-sessions-per-client.
    CHECK(t3.move_to("10.0.0.1") == refusal::client_sessions);
    CHECK(t3.move_to("lb") == refusal::none); // where it is: nothing to do
    CHECK(t3.move_to("10.0.0.2") == refusal::none);
    CHECK(a.sessions() == 3);
    CHECK(a.handshakes() == 1);
    REQUIRE(a.admit("lb", -1, t4) == refusal::none); // lb holds nothing any more
    CHECK(a.handshakes() == 2);
    t3.release();
    CHECK(a.handshakes() == 1);
    for (auto* t : {&t1, &t2, &t4})
        t->release();
    CHECK(a.sessions() == 0);
    CHECK(a.handshakes() == 0);
}

TEST_CASE("admission: a moved handshake can be shed under its new client", "[limits]") {
    admission a({0, 0, 2, 0});
    socket_pair p1, p2, p3;
    admission::ticket t1, t2, t3;
    REQUIRE(a.admit("lb", p1.ours, t1) == refusal::none);
    REQUIRE(a.admit("lb", p2.ours, t2) == refusal::none);
    CHECK(t1.move_to("big") == refusal::none);
    CHECK(t2.move_to("big") == refusal::none);
    std::string shed_from;
    CHECK(a.admit("lb", p3.ours, t3, &shed_from) == refusal::none);
    CHECK(shed_from == "big");
    CHECK(p1.shut_down()); // the oldest of big's, found under its new key
    CHECK_FALSE(p2.shut_down());
    CHECK(a.handshakes() == 2);
    for (auto* t : {&t1, &t2, &t3})
        t->release();
    CHECK(a.sessions() == 0);
    CHECK(a.handshakes() == 0);
}

TEST_CASE("admission: without per-client limits a move only renames", "[limits]") {
    admission a({5, 0, 0, 0});
    admission::ticket t;
    REQUIRE(a.admit("lb", -1, t) == refusal::none);
    CHECK(t.move_to("10.0.0.1") == refusal::none);
    CHECK(t.client() == "10.0.0.1");
    t.release();
    CHECK(a.sessions() == 0);
    CHECK(a.handshakes() == 0);
}
