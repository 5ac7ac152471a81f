// The metrics endpoint over real loopback sockets: an io_context runs on a
// thread of its own, the test talks to it with plain blocking sockets and
// checks exact responses.
#include "socks/server/metrics_endpoint.hpp"
#include "socks/server/server.hpp"

#include <arpa/inet.h>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <netinet/in.h>
#include <optional>
#include <stdexcept>
#include <string>
#include <sys/socket.h>
#include <sys/time.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include <asio/executor_work_guard.hpp>
#include <asio/post.hpp>
#include <catch2/catch.hpp>

using namespace weir::server;
using namespace std::chrono_literals;

namespace {

const std::string metrics_body = "# TYPE weir_up gauge\nweir_up 1\n";

// An endpoint on 127.0.0.1:0, served by a thread of its own.
class running_endpoint {
public:
    explicit running_endpoint(
        metrics_options opts = {},
        std::function<std::string()> metrics = [] { return metrics_body; }) {
        metrics_handlers h;
        h.metrics = std::move(metrics);
        h.healthy = [this] { return healthy.load(); };
        ep_.emplace(io_, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0),
                    std::move(h), opts);
        thread_ = std::thread([this] { io_.run(); });
    }
    ~running_endpoint() {
        on_io([this] { ep_.reset(); });
        guard_.reset();
        io_.stop();
        thread_.join();
    }

    std::uint16_t port() const { return ep_->local_endpoint().port(); }
    void stop() {
        on_io([this] { ep_->stop(); });
    }
    // Runs `f` on the io_context's thread and waits for it.
    template <typename F>
    void on_io(F f) {
        std::promise<void> done;
        asio::post(io_, [&] {
            f();
            done.set_value();
        });
        done.get_future().wait();
    }

    std::atomic<bool> healthy{true};

private:
    asio::io_context io_;
    asio::executor_work_guard<asio::io_context::executor_type> guard_{io_.get_executor()};
    std::optional<metrics_endpoint> ep_;
    std::thread thread_;
};

// A blocking client socket, connected to 127.0.0.1:port; reads give up after 30 s.
class client {
public:
    explicit client(std::uint16_t port)
        : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
        REQUIRE(fd_ >= 0);
        timeval tv{30, 0};
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        error_ = ::connect(fd_, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0 ? 0 : errno;
    }
    ~client() { ::close(fd_); }
    client(const client&) = delete;
    client& operator=(const client&) = delete;

    int connect_error() const { return error_; }

    // Sends all of `bytes`; false when the peer is gone.
    bool send(const std::string& bytes) {
        for (std::size_t at = 0; at < bytes.size();) {
            const auto n = ::send(fd_, bytes.data() + at, bytes.size() - at, MSG_NOSIGNAL);
            if (n <= 0) return false;
            at += static_cast<std::size_t>(n);
        }
        return true;
    }
    // Everything until EOF (or a reset, or the 30 s timeout, which fails the test).
    std::string read_all() {
        std::string out;
        char buf[4096];
        for (;;) {
            const auto n = ::recv(fd_, buf, sizeof buf, 0);
            if (n == 0) return out;
            if (n < 0) {
                REQUIRE(errno == ECONNRESET);
                return out;
            }
            out.append(buf, static_cast<std::size_t>(n));
        }
    }

    // One recv(2): its result, or -errno.
    long recv_once() {
        char buf[64];
        const auto n = ::recv(fd_, buf, sizeof buf, 0);
        return n < 0 ? -errno : n;
    }

private:
    int fd_;
    int error_ = 0;
};

std::string ask(std::uint16_t port, const std::string& request) {
    client c(port);
    REQUIRE(c.connect_error() == 0);
    REQUIRE(c.send(request));
    return c.read_all();
}

std::string plain(const std::string& status, const std::string& body) {
    return "HTTP/1.1 " + status +
           "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
}

const std::string metrics_head = "HTTP/1.1 200 OK\r\n"
                                 "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
                                 "Content-Length: 31\r\n"
                                 "Connection: close\r\n"
                                 "\r\n";

const std::string method_not_allowed = "HTTP/1.1 405 Method Not Allowed\r\n"
                                       "Content-Type: text/plain; charset=utf-8\r\n"
                                       "Content-Length: 19\r\n"
                                       "Allow: GET, HEAD\r\n"
                                       "Connection: close\r\n"
                                       "\r\n"
                                       "method not allowed\n";

} // namespace

TEST_CASE("GET /metrics is the handler's text, in the Prometheus content type", "[metrics]") {
    running_endpoint ep;
    REQUIRE(metrics_body.size() == 31);
    CHECK(ask(ep.port(), "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n") ==
          metrics_head + metrics_body);
    CHECK(ask(ep.port(), "GET /metrics HTTP/1.0\r\n\r\n") == metrics_head + metrics_body);
    // HEAD: the same head, no body.
    CHECK(ask(ep.port(), "HEAD /metrics HTTP/1.1\r\nHost: a\r\n\r\n") == metrics_head);
    // A query is ignored; absolute-form names the same path.
    CHECK(ask(ep.port(), "GET /metrics?name[]=weir_up HTTP/1.1\r\nHost: a\r\n\r\n") ==
          metrics_head + metrics_body);
    CHECK(ask(ep.port(), "GET http://127.0.0.1:9100/metrics HTTP/1.1\r\nHost: a\r\n\r\n") ==
          metrics_head + metrics_body);
}

TEST_CASE("/healthz says ok, or draining once unhealthy", "[metrics]") {
    running_endpoint ep;
    CHECK(ask(ep.port(), "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n") == plain("200 OK", "ok\n"));
    CHECK(ask(ep.port(), "GET HTTP://a/healthz?probe=1 HTTP/1.1\r\nHost: a\r\n\r\n") ==
          plain("200 OK", "ok\n"));
    ep.healthy = false;
    CHECK(ask(ep.port(), "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n") ==
          plain("503 Service Unavailable", "draining\n"));
    const auto head = plain("503 Service Unavailable", "draining\n");
    CHECK(ask(ep.port(), "HEAD /healthz HTTP/1.0\r\n\r\n") == head.substr(0, head.size() - 9));
}

TEST_CASE("Other methods are 405, other paths 404, bodies 400", "[metrics]") {
    running_endpoint ep;
    CHECK(ask(ep.port(), "POST /metrics HTTP/1.1\r\nHost: a\r\n\r\n") == method_not_allowed);
    CHECK(ask(ep.port(), "get /metrics HTTP/1.1\r\nHost: a\r\n\r\n") == method_not_allowed);
    CHECK(ask(ep.port(), "OPTIONS /healthz HTTP/1.1\r\nHost: a\r\n\r\n") == method_not_allowed);
    const auto not_found = plain("404 Not Found", "not found\n");
    CHECK(ask(ep.port(), "GET / HTTP/1.1\r\nHost: a\r\n\r\n") == not_found);
    CHECK(ask(ep.port(), "GET /metrics/ HTTP/1.1\r\nHost: a\r\n\r\n") == not_found);
    CHECK(ask(ep.port(), "GET /%6detrics HTTP/1.1\r\nHost: a\r\n\r\n") == not_found);
    CHECK(ask(ep.port(), "DELETE /nothing HTTP/1.1\r\nHost: a\r\n\r\n") == not_found);
    const auto bad_target = plain("400 Bad Request", "bad request-target\n");
    CHECK(ask(ep.port(), "CONNECT 127.0.0.1:9100 HTTP/1.1\r\nHost: a\r\n\r\n") == bad_target);
    CHECK(ask(ep.port(), "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n") == bad_target);
    CHECK(ask(ep.port(), "GET ftp://a/metrics HTTP/1.1\r\nHost: a\r\n\r\n") == bad_target);
    const auto body = plain("400 Bad Request", "request with a body\n");
    CHECK(ask(ep.port(), "GET /metrics HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello") ==
          body);
    CHECK(ask(ep.port(), "GET /healthz HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                         "0\r\n\r\n") == body);
    CHECK(ask(ep.port(), "GET /metrics HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n") ==
          metrics_head + metrics_body);
}

TEST_CASE("A malformed head is answered with the parser's status and reason", "[metrics]") {
    running_endpoint ep;
    CHECK(ask(ep.port(), "GET /metrics HTTP/1.1\nHost: a\n\n") ==
          plain("400 Bad Request", "bare LF\n"));
    CHECK(ask(ep.port(), "GET /metrics HTTP/1.1\r\nHost : a\r\n\r\n") ==
          plain("400 Bad Request", "whitespace before colon\n"));
    CHECK(ask(ep.port(), "GET /metrics HTTP/1.1\r\n\r\n") ==
          plain("400 Bad Request", "missing Host\n"));
    CHECK(ask(ep.port(), "GET /metrics HTTP/2.0\r\n\r\n") ==
          plain("505 HTTP Version Not Supported", "HTTP version not supported\n"));
    CHECK(ask(ep.port(), "GET /" + std::string(2048, 'm') + " HTTP/1.1\r\nHost: a\r\n\r\n") ==
          plain("414 URI Too Long", "request-target too long\n"));
    CHECK(
        ask(ep.port(), "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n") ==
        plain("501 Not Implemented", "transfer coding not implemented\n"));
    // 20 KiB of head: answered at byte 8193, the rest read and dropped, no reset.
    CHECK(ask(ep.port(),
              "GET /metrics HTTP/1.1\r\nHost: a\r\nX-Big: " + std::string(20 * 1024, 'x') +
                  "\r\n\r\n") == plain("431 Request Header Fields Too Large", "head too large\n"));
}

TEST_CASE("After the response the endpoint reads on until the client closes, without a reset",
          "[metrics]") {
    running_endpoint ep(metrics_options{.timeout = 60s});
    client c(ep.port());
    REQUIRE(c.connect_error() == 0);
    REQUIRE(c.send("GET /healthz HTTP/1.0\r\n\r\n"));
    CHECK(c.read_all() == plain("200 OK", "ok\n"));
    // Bytes sent after the response are read and dropped: a socket closed
    // would answer them with a reset, and the next send would fail (EPIPE).
    // The pauses give a wrongly closed socket time to show it; a right one
    // passes however long they are.
    std::this_thread::sleep_for(100ms);
    REQUIRE(c.send("more"));
    std::this_thread::sleep_for(100ms);
    CHECK(c.send("and more"));
    CHECK(c.recv_once() == 0);
}

TEST_CASE("A handler that throws is answered with 500", "[metrics]") {
    running_endpoint ep({}, []() -> std::string { throw std::runtime_error("no counters"); });
    CHECK(ask(ep.port(), "GET /metrics HTTP/1.0\r\n\r\n") ==
          plain("500 Internal Server Error", "internal error\n"));
    // The endpoint goes on.
    CHECK(ask(ep.port(), "GET /healthz HTTP/1.0\r\n\r\n") == plain("200 OK", "ok\n"));
}

TEST_CASE("A client that is silent or too slow is closed without an answer", "[metrics]") {
    running_endpoint ep(metrics_options{.timeout = 200ms});
    SECTION("silent") {
        client c(ep.port());
        REQUIRE(c.connect_error() == 0);
        CHECK(c.read_all().empty());
    }
    SECTION("one byte every 100 ms") {
        client c(ep.port());
        REQUIRE(c.connect_error() == 0);
        const std::string request = "GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n";
        for (const char b : request) {
            if (!c.send(std::string(1, b))) break;
            std::this_thread::sleep_for(100ms);
        }
        CHECK(c.read_all().empty());
    }
}

TEST_CASE("Past max_connections a connection is closed at once, the others are served",
          "[metrics][limits]") {
    running_endpoint ep(metrics_options{.max_connections = 16, .timeout = 60s});
    std::vector<std::unique_ptr<client>> open;
    for (int i = 0; i < 16; ++i) {
        open.push_back(std::make_unique<client>(ep.port()));
        REQUIRE(open.back()->connect_error() == 0);
    }
    // Accepted in order: the 17th comes after the 16 are counted.
    client extra(ep.port());
    REQUIRE(extra.connect_error() == 0);
    CHECK(extra.read_all().empty());
    // The 16 were kept, silent, and are served now.
    for (auto& c : open) {
        REQUIRE(c->send("GET /healthz HTTP/1.0\r\n\r\n"));
        CHECK(c->read_all() == plain("200 OK", "ok\n"));
    }
    open.clear();
    // Their places come free as the endpoint sees them close.
    std::string reply;
    for (int attempt = 0; attempt < 1000 && reply.empty(); ++attempt) {
        client c(ep.port());
        REQUIRE(c.connect_error() == 0);
        if (c.send("GET /healthz HTTP/1.0\r\n\r\n")) reply = c.read_all();
        if (reply.empty()) std::this_thread::sleep_for(10ms);
    }
    CHECK(reply == plain("200 OK", "ok\n"));
}

TEST_CASE("stop() closes the listener and the exchanges in progress", "[metrics]") {
    running_endpoint ep(metrics_options{.timeout = 60s});
    const auto port = ep.port();
    client waiting(port);
    REQUIRE(waiting.connect_error() == 0);
    REQUIRE(waiting.send("GET /metrics HTTP/1.1\r\n"));
    CHECK(ask(port, "GET /healthz HTTP/1.0\r\n\r\n") == plain("200 OK", "ok\n"));
    ep.stop();
    CHECK(waiting.read_all().empty());
    client late(port);
    CHECK(late.connect_error() == ECONNREFUSED);
}

TEST_CASE("A port in use fails at construction with one line", "[metrics]") {
    running_endpoint ep;
    asio::io_context io;
    const asio::ip::tcp::endpoint same(asio::ip::make_address("127.0.0.1"), ep.port());
    try {
        metrics_endpoint second(io, same, {});
        FAIL("bound a port in use");
    } catch (const startup_error& e) {
        CHECK(std::string(e.what()) == "cannot listen for metrics on 127.0.0.1:" +
                                           std::to_string(ep.port()) + ": Address already in use");
    }
}
