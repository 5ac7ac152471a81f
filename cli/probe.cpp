#include "cli/probe.hpp"

#include "cli/option_values.hpp"

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <poll.h>
#include <string>
#include <string_view>
#include <sys/socket.h>
#include <unistd.h>
#include <utility>

#include <fmt/core.h>

namespace weir::cli {
namespace {

using clock = std::chrono::steady_clock;
using endpoint = asio::ip::tcp::endpoint;
constexpr auto step_timeout = std::chrono::seconds(2);
constexpr std::size_t max_response = 16 * 1024;

// A socket, closed when it goes out of scope; -1 with errno when none.
class socket_fd {
public:
    explicit socket_fd(int fd)
        : fd_(fd) {}
    socket_fd(socket_fd&& o) noexcept
        : fd_(std::exchange(o.fd_, -1)) {}
    socket_fd& operator=(socket_fd&&) = delete;
    ~socket_fd() {
        if (fd_ >= 0) ::close(fd_);
    }
    int get() const { return fd_; }

private:
    int fd_;
};

// Waits for `events` on fd until the deadline; false when the time ran out.
bool wait_for(int fd, short events, clock::time_point deadline) {
    for (;;) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
        if (left.count() <= 0) return false;
        pollfd p{fd, events, 0};
        const int n = ::poll(&p, 1, static_cast<int>(left.count()));
        if (n > 0 || (n < 0 && errno != EINTR)) return true; // the next call sees any error
    }
}

// Connects a non-blocking socket; the error, or empty when connected.
std::string connect_to(const socket_fd& s, const endpoint& to, clock::time_point deadline) {
    if (s.get() < 0) return std::strerror(errno);
    int err = ::connect(s.get(), to.data(), static_cast<socklen_t>(to.size())) == 0 ? 0 : errno;
    if (err == EINPROGRESS) {
        if (!wait_for(s.get(), POLLOUT, deadline)) return "no answer within 2 s";
        socklen_t len = sizeof err;
        if (::getsockopt(s.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    }
    return err == 0 ? std::string() : std::strerror(err);
}

socket_fd open_socket(const endpoint& to) {
    return socket_fd(
        ::socket(to.protocol().family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
}

// A wildcard address is reached on the loopback of its family.
endpoint reachable(endpoint e) {
    if (e.address().is_unspecified())
        e.address(e.address().is_v6() ? asio::ip::address(asio::ip::address_v6::loopback())
                                      : asio::ip::address(asio::ip::address_v4::loopback()));
    return e;
}

std::string host_port(const endpoint& e) {
    const auto a = e.address().to_string();
    return e.address().is_v6() ? fmt::format("[{}]:{}", a, e.port())
                               : fmt::format("{}:{}", a, e.port());
}

int fail(const std::string& why) {
    std::fprintf(stderr, "weir: probe: %s\n", why.c_str());
    return 1;
}

// Sends all of `data`; false on an error or when the time ran out.
bool send_all(int fd, std::string_view data, clock::time_point deadline) {
    while (!data.empty()) {
        if (!wait_for(fd, POLLOUT, deadline)) return false;
        const auto n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
        if (n < 0 && errno != EAGAIN && errno != EINTR) return false;
        if (n > 0) data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

// The body's length when the head is complete and says it, else npos.
std::size_t whole_length(const std::string& r) {
    const auto end = r.find("\r\n\r\n");
    if (end == std::string::npos) return std::string::npos;
    const auto key = r.find("\r\nContent-Length: ");
    if (key == std::string::npos || key > end) return std::string::npos;
    std::size_t n = 0;
    const auto* from = r.data() + key + 18;
    std::from_chars(from, r.data() + end, n);
    return end + 4 + n;
}

// Reads a response until its Content-Length, the peer's close or the deadline.
std::string read_response(int fd, clock::time_point deadline) {
    std::string r;
    char buf[4096];
    while (r.size() < max_response && r.size() < whole_length(r)) {
        if (!wait_for(fd, POLLIN, deadline)) break;
        const auto n = ::recv(fd, buf, sizeof buf, 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) break;
        if (n > 0) r.append(buf, static_cast<std::size_t>(n));
    }
    return r;
}

// "503 draining": the status code and the body's first line.
std::string summary(const std::string& r) {
    if (r.rfind("HTTP/1.", 0) != 0 || r.size() < 12) return {};
    const auto head_end = r.find("\r\n\r\n");
    std::string body = head_end == std::string::npos ? "" : r.substr(head_end + 4);
    body = body.substr(0, body.find_first_of("\r\n"));
    return body.empty() ? r.substr(9, 3) : fmt::format("{} {}", r.substr(9, 3), body);
}

int probe_healthz(const endpoint& at) {
    const auto url = fmt::format("http://{}/healthz", host_port(at));
    const auto s = open_socket(at);
    if (const auto e = connect_to(s, at, clock::now() + step_timeout); !e.empty())
        return fail(fmt::format("{}: cannot connect: {}", url, e));
    const auto request = fmt::format(
        "GET /healthz HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n", host_port(at));
    const auto deadline = clock::now() + step_timeout;
    if (!send_all(s.get(), request, deadline))
        return fail(fmt::format("{}: cannot send the request", url));
    const auto answer = summary(read_response(s.get(), deadline));
    if (answer.empty()) return fail(fmt::format("{}: no HTTP answer within 2 s", url));
    if (answer.rfind("200", 0) == 0) return 0;
    return fail(fmt::format("{} answered {}", url, answer));
}

// Connects to every listener and closes before sending a byte (weir logs such
// a pre-connect at debug level only); the first failure ends the probe. An optional listener (the
// IPv6 wildcard) weir skips when the host has no IPv6: only a refusal counts against it.
int probe_listeners(const options& opts) {
    for (const auto& l : opts.config.listeners) {
        const endpoint at = reachable({asio::ip::make_address(l.host), l.port});
        const auto s = open_socket(at);
        const auto e = connect_to(s, at, clock::now() + step_timeout);
        if (e.empty() || (l.optional && e != std::strerror(ECONNREFUSED))) continue;
        return fail(fmt::format("{} (listener {}): cannot connect: {}", host_port(at),
                                server::to_url(l), e));
    }
    return 0;
}

} // namespace

int run_probe(const options& opts) {
    if (opts.metrics) return probe_healthz(reachable(parse_endpoint(*opts.metrics)));
    return probe_listeners(opts);
}

} // namespace weir::cli
