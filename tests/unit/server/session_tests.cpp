// A scripted client against run_session on a real loopback socket pair: exact
// reply bytes, a local target server for CONNECT, the session's log line.
#include "auth/rule.hpp"
#include "auth/user_db.hpp"
#include "auth/verifier.hpp"
#include "io/task.hpp"
#include "io/tcp_socket.hpp"
#include "socks/server/access.hpp"
#include "socks/server/admission.hpp"
#include "socks/server/config.hpp"
#include "socks/server/context.hpp"
#include "socks/server/host_addresses.hpp"
#include "socks/server/listen_url.hpp"
#include "socks/server/listener.hpp"
#include "socks/server/offload_pool.hpp"
#include "socks/server/session.hpp"
#include "tests/unit/auth/cheap_hash.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <future>
#include <initializer_list>
#include <memory>
#include <netinet/in.h>
#include <poll.h>
#include <stdexcept>
#include <string>
#include <string_view>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <utility>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <catch2/catch.hpp>

using namespace weir;
using namespace weir::server;
using namespace std::chrono_literals;
using asio::ip::tcp;
using Catch::Contains;

namespace {

using bytes = std::vector<std::uint8_t>;

// Only a guard against hangs: no assertion depends on how long anything takes.
constexpr int guard_ms = 20'000;

bytes hex(std::string_view text) {
    bytes out;
    for (std::size_t i = 0; i + 1 < text.size();) {
        if (text[i] == ' ') {
            ++i;
            continue;
        }
        out.push_back(
            static_cast<std::uint8_t>(std::stoi(std::string(text.substr(i, 2)), nullptr, 16)));
        i += 2;
    }
    return out;
}

bytes ascii(std::string_view text) {
    return bytes(text.begin(), text.end());
}

bytes cat(std::initializer_list<bytes> parts) {
    bytes out;
    for (const auto& p : parts)
        out.insert(out.end(), p.begin(), p.end());
    return out;
}

bytes port_bytes(std::uint16_t port) {
    return {static_cast<std::uint8_t>(port >> 8), static_cast<std::uint8_t>(port & 0xff)};
}

sockaddr_in loopback(std::uint16_t port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

bool readable(int fd, int timeout_ms) {
    pollfd p{fd, POLLIN, 0};
    return ::poll(&p, 1, timeout_ms) == 1;
}

// One end of a TCP connection, driven with blocking calls from the test's thread.
class blocking_socket {
public:
    explicit blocking_socket(int fd)
        : fd_(fd) {}
    blocking_socket(blocking_socket&& o) noexcept
        : fd_(std::exchange(o.fd_, -1)) {}
    blocking_socket& operator=(blocking_socket&&) = delete;
    ~blocking_socket() { close(); }

    static blocking_socket connect_to(std::uint16_t port) {
        blocking_socket s(::socket(AF_INET, SOCK_STREAM, 0));
        const auto a = loopback(port);
        REQUIRE(::connect(s.fd_, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0);
        return s;
    }

    void send(const bytes& b) {
        REQUIRE(::send(fd_, b.data(), b.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(b.size()));
    }

    // Exactly n bytes, or fewer if the peer closed first.
    bytes recv(std::size_t n) {
        bytes out(n);
        std::size_t got = 0;
        while (got < n) {
            REQUIRE(readable(fd_, guard_ms));
            const auto r = ::recv(fd_, out.data() + got, n - got, 0);
            if (r <= 0) break;
            got += static_cast<std::size_t>(r);
        }
        out.resize(got);
        return out;
    }

    // The peer closed (recv returns 0) rather than sending more.
    bool closed_by_peer() {
        REQUIRE(readable(fd_, guard_ms));
        std::uint8_t byte = 0;
        return ::recv(fd_, &byte, 1, 0) == 0;
    }

    void shutdown_write() { ::shutdown(fd_, SHUT_WR); }
    void close() {
        if (fd_ >= 0) ::close(std::exchange(fd_, -1));
    }

private:
    int fd_;
};

// The target of CONNECT: a listening socket on 127.0.0.1 with an ephemeral port.
class target_server {
public:
    target_server()
        : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
        auto a = loopback(0);
        socklen_t len = sizeof a;
        REQUIRE(::bind(fd_, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0);
        REQUIRE(::listen(fd_, 8) == 0);
        REQUIRE(::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) == 0);
        port_ = ntohs(a.sin_port);
    }
    target_server(const target_server&) = delete;
    target_server& operator=(const target_server&) = delete;
    ~target_server() { ::close(fd_); }

    std::uint16_t port() const noexcept { return port_; }

    // The proxy's connection, and the port of its end (as this server sees its peer).
    std::pair<blocking_socket, std::uint16_t> accept() {
        REQUIRE(readable(fd_, guard_ms));
        sockaddr_in peer{};
        socklen_t len = sizeof peer;
        const int fd = ::accept(fd_, reinterpret_cast<sockaddr*>(&peer), &len);
        REQUIRE(fd >= 0);
        return {blocking_socket(fd), ntohs(peer.sin_port)};
    }

    bool has_pending() const { return readable(fd_, 0); }

private:
    int fd_;
    std::uint16_t port_ = 0;
};

// Sends stderr (where the log writes its lines) to a file until stop(); hands
// on whatever was not a weir info line (a sanitizer report, say).
class stderr_capture {
public:
    stderr_capture()
        : file_(std::tmpfile())
        , saved_(::dup(STDERR_FILENO)) {
        REQUIRE((file_ != nullptr && saved_ >= 0));
        ::dup2(::fileno(file_), STDERR_FILENO);
    }
    stderr_capture(const stderr_capture&) = delete;
    stderr_capture& operator=(const stderr_capture&) = delete;
    ~stderr_capture() { stop(); }

    const std::string& stop() {
        if (saved_ < 0) return text_;
        ::dup2(saved_, STDERR_FILENO);
        ::close(std::exchange(saved_, -1));
        std::rewind(file_);
        for (int c; (c = std::fgetc(file_)) != EOF;)
            text_.push_back(static_cast<char>(c));
        std::fclose(file_);
        for (std::size_t at = 0, end; at < text_.size(); at = end + 1) {
            end = std::min(text_.find('\n', at), text_.size());
            const auto line = std::string_view(text_).substr(at, end - at);
            if (line.find("Z info ") == std::string_view::npos)
                std::fprintf(stderr, "%.*s\n", static_cast<int>(line.size()), line.data());
        }
        return text_;
    }

private:
    std::FILE* file_;
    int saved_;
    std::string text_;
};

struct setup {
    const char* url = "socks://127.0.0.1:0"; ///< the port is replaced by the bound one
    std::vector<std::string> rules = {};
    auth::verifier* verifier = nullptr;
    std::chrono::steady_clock::duration handshake_timeout = 20s;
};

// One listener on 127.0.0.1 that accepts one connection and runs run_session
// on it, on an io_context of its own thread.
class harness {
public:
    explicit harness(const setup& s);
    harness(const harness&) = delete;
    harness& operator=(const harness&) = delete;
    ~harness();

    std::uint16_t port() const { return listener_.spec.port; }
    /// Waits for the session (and its relay) to end; the log's text.
    std::string finish();

private:
    io::task<void> accept_one();
    auto on_failure() {
        return [this](std::exception_ptr e) {
            if (e) failure_ = e;
        };
    }
    void join();

    stderr_capture log_;
    admission admission_{admission::limits{}};
    config cfg_;
    access_table access_;
    host_addresses hosts_;
    listener_info listener_;
    asio::io_context io_;
    offload_pool resolver_{"test-resolve", 1, 8};
    offload_pool auth_pool_{"test-auth", 1, 8};
    std::atomic<bool> closing_{false};
    server_context ctx_;
    listen_socket proxy_;
    std::exception_ptr failure_;
    std::promise<void> ended_;
    std::thread runner_;
};

harness::harness(const setup& s)
    : ctx_{cfg_, resolver_, auth_pool_, s.verifier, nullptr, access_, hosts_, closing_}
    , proxy_(io_.get_executor(), tcp::endpoint(asio::ip::address_v4::loopback(), 0)) {
    cfg_.handshake_timeout = s.handshake_timeout;
    listener_.spec = parse_listen_url(s.url);
    listener_.spec.port = proxy_.local_endpoint().port();
    listener_.url = to_url(listener_.spec);
    listener_.handshake = handshake_options(listener_.spec);
    std::vector<auth::rule> rules;
    for (const auto& r : s.rules)
        rules.push_back(auth::parse_rule(r));
    access_.set({policy_for(listener_.spec, listener_.url, rules, access_config{})});
    asio::co_spawn(io_, accept_one(), on_failure());
    runner_ = std::thread([this] {
        io_.run();
        ended_.set_value();
    });
}

harness::~harness() {
    join();
}

// The session is spawned as the server spawns it, from a named `accepted`:
// GCC 12.2 destroys a braced temporary in a co_await expression twice (the
// client socket was closed under the relay, the ticket's string freed twice).
io::task<void> harness::accept_one() {
    tcp::endpoint remote;
    auto socket = co_await proxy_.async_accept(remote, io::use_task);
    accepted conn{std::move(socket), remote, {}};
    if (admission_.admit(client_key(remote.address()), conn.socket.native_handle(), conn.ticket) !=
        refusal::none)
        throw std::runtime_error("admission refused the connection");
    asio::co_spawn(io_, run_session(std::move(conn), listener_, ctx_), on_failure());
}

// The session and its relay end on their own; a hang is stopped, not waited out.
void harness::join() {
    if (!runner_.joinable()) return;
    if (ended_.get_future().wait_for(std::chrono::milliseconds(guard_ms)) !=
        std::future_status::ready)
        io_.stop();
    runner_.join();
}

std::string harness::finish() {
    join();
    auto text = log_.stop();
    if (failure_) std::rethrow_exception(failure_);
    CHECK(admission_.sessions() == 0); // the session's place was freed
    return text;
}

// A SOCKS5 CONNECT request to 127.0.0.1:port.
bytes socks5_connect(std::uint16_t port) {
    return cat({hex("05 01 00 01 7f 00 00 01"), port_bytes(port)});
}

// A SOCKS5 CONNECT request to the domain `name`.
bytes socks5_connect(std::string_view name, std::uint16_t port) {
    return cat({hex("05 01 00 03"),
                {static_cast<std::uint8_t>(name.size())},
                ascii(name),
                port_bytes(port)});
}

// A SOCKS5 reply with a zero IPv4 BND.ADDR: a refusal.
bytes socks5_refusal(std::string_view code) {
    return cat({hex("05"), hex(code), hex("00 01 00 00 00 00 00 00")});
}

// Greets without authentication and sends `request`; the reply.
bytes socks5_no_auth(blocking_socket& c, const bytes& request) {
    c.send(hex("05 01 00"));
    CHECK(c.recv(2) == hex("05 00"));
    c.send(request);
    return c.recv(10);
}

// Bytes both ways through the relay, then EOF both ways (half-close passed on).
void check_relay(blocking_socket& client, blocking_socket& target) {
    client.send(ascii("ping"));
    CHECK(target.recv(4) == ascii("ping"));
    target.send(ascii("pong"));
    CHECK(client.recv(4) == ascii("pong"));
    client.shutdown_write();
    CHECK(target.closed_by_peer());
    target.send(ascii("last"));
    CHECK(client.recv(4) == ascii("last"));
    target.close();
    CHECK(client.closed_by_peer());
}

// A session that refused a SOCKS5 request with `code`; its log.
std::string socks5_refused(const setup& s, const bytes& request, std::string_view code) {
    harness h(s);
    auto client = blocking_socket::connect_to(h.port());
    CHECK(socks5_no_auth(client, request) == socks5_refusal(code));
    CHECK(client.closed_by_peer());
    return h.finish();
}

} // namespace

TEST_CASE("session: SOCKS5 CONNECT replies with the bound address and relays", "[session]") {
    harness h(setup{});
    target_server target;
    auto client = blocking_socket::connect_to(h.port());
    const auto reply = socks5_no_auth(client, socks5_connect(target.port()));
    auto [peer, proxy_port] = target.accept();
    CHECK(reply == cat({hex("05 00 00 01 7f 00 00 01"), port_bytes(proxy_port)}));
    check_relay(client, peer);
    const auto log = h.finish();
    CHECK_THAT(log, Contains("proto=socks5 user=- target=127.0.0.1:" +
                             std::to_string(target.port()) + " result=succeeded end=eof"));
    CHECK_THAT(log, Contains("up=4 down=8")); // "ping"; "pong" and "last"
}

TEST_CASE("session: bytes pipelined behind the request reach the target", "[session]") {
    harness h(setup{});
    target_server target;
    auto client = blocking_socket::connect_to(h.port());
    // Greeting, request and early data in one write: one read is not one message.
    client.send(cat({hex("05 01 00"), socks5_connect(target.port()), ascii("early bytes")}));
    CHECK(client.recv(2) == hex("05 00"));
    const auto reply = client.recv(10);
    auto [peer, proxy_port] = target.accept();
    CHECK(reply == cat({hex("05 00 00 01 7f 00 00 01"), port_bytes(proxy_port)}));
    CHECK(peer.recv(11) == ascii("early bytes"));
    check_relay(client, peer);
    const auto log = h.finish();
    CHECK_THAT(log, Contains("result=succeeded end=eof"));
    CHECK_THAT(log, Contains("up=15 down=8")); // the early bytes count as sent up
}

TEST_CASE("session: SOCKS4 CONNECT is granted with a zero bound address", "[session]") {
    harness h(setup{});
    target_server target;
    auto client = blocking_socket::connect_to(h.port());
    client.send(
        cat({hex("04 01"), port_bytes(target.port()), hex("7f 00 00 01"), ascii("u"), hex("00")}));
    CHECK(client.recv(8) == hex("00 5a 00 00 00 00 00 00"));
    auto peer = target.accept().first;
    check_relay(client, peer);
    CHECK_THAT(h.finish(), Contains("proto=socks4 user=- target=127.0.0.1:" +
                                    std::to_string(target.port()) + " result=succeeded"));
}

TEST_CASE("session: the rules run for every command before any reply", "[session]") {
    const auto bind_request = cat({hex("05 02 00 01 7f 00 00 01"), port_bytes(80)});
    const auto udp_request = cat({hex("05 03 00 01 00 00 00 00"), port_bytes(0)});
    CHECK_THAT(socks5_refused({.rules = {"deny command bind"}}, bind_request, "02"),
               Contains("result=bind-failed:not-allowed-by-policy"));
    // BIND's `to` is the peer it waits for.
    CHECK_THAT(socks5_refused({.rules = {"deny to 127.0.0.0/8"}}, bind_request, "02"),
               Contains("result=bind-failed:not-allowed-by-policy"));
    CHECK_THAT(socks5_refused({.rules = {"deny command udp"}}, udp_request, "02"),
               Contains("result=udp-associate-failed:not-allowed-by-policy"));
}

TEST_CASE("session: a CONNECT the rules deny is refused without connecting", "[session]") {
    target_server target;
    const auto log =
        socks5_refused({.rules = {"deny to 127.0.0.1"}}, socks5_connect(target.port()), "02");
    CHECK_FALSE(target.has_pending());
    CHECK_THAT(log, Contains("result=connect-failed:not-allowed-by-policy"));
}

TEST_CASE("session: a domain outside host-name syntax is refused, never resolved", "[session]") {
    for (const auto* name : {"a b", "x\\y", "a..b"}) {
        CAPTURE(name);
        const auto log = socks5_refused({}, socks5_connect(name, 80), "02");
        CHECK_THAT(log, Contains("result=connect-failed:not-a-host-name"));
    }
}

TEST_CASE("session: SOCKS5 with a password", "[session]") {
    auth::verifier verifier(
        std::make_shared<const auth::user_db>(auth::user_db::parse_accepting_weak_hashes_for_tests(
            auth::test::cheap_line("alice", "alice-pw"), "test")),
        {});
    harness h({.url = "socks5://127.0.0.1:0?auth=password", .verifier = &verifier});
    target_server target;
    auto client = blocking_socket::connect_to(h.port());
    client.send(hex("05 01 02"));
    CHECK(client.recv(2) == hex("05 02"));
    SECTION("the right one is accepted") {
        client.send(cat({hex("01 05"), ascii("alice"), hex("08"), ascii("alice-pw")}));
        CHECK(client.recv(2) == hex("01 00"));
        client.send(socks5_connect(target.port()));
        const auto reply = client.recv(10);
        auto [peer, proxy_port] = target.accept();
        CHECK(reply == cat({hex("05 00 00 01 7f 00 00 01"), port_bytes(proxy_port)}));
        check_relay(client, peer);
        CHECK_THAT(h.finish(), Contains("user=alice target=127.0.0.1:" +
                                        std::to_string(target.port()) + " result=succeeded"));
    }
    SECTION("a wrong one is refused and the connection closed") {
        client.send(cat({hex("01 05"), ascii("alice"), hex("05"), ascii("wrong")}));
        CHECK(client.recv(2) == hex("01 01"));
        CHECK(client.closed_by_peer());
        const auto log = h.finish();
        CHECK_THAT(log, Contains("user=alice target=- result=refused:authentication-failed"));
        CHECK_THAT(log, !Contains("wrong"));
    }
}

TEST_CASE("session: the handshake timeout closes a silent client", "[session]") {
    harness h({.handshake_timeout = 500ms}); // long enough to read the greeting, even here
    auto client = blocking_socket::connect_to(h.port());
    SECTION("a partial greeting") {
        client.send(hex("05 01"));
    }
    SECTION("nothing after the greeting") {
        client.send(hex("05 01 00"));
        CHECK(client.recv(2) == hex("05 00"));
    }
    CHECK(client.closed_by_peer());
    CHECK_THAT(h.finish(), Contains("result=handshake-timeout"));
}
