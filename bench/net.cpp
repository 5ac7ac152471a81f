#include "bench/net.hpp"

#include <arpa/inet.h>
#include <charconv>
#include <ctime>
#include <netinet/tcp.h>
#include <stdexcept>
#include <string>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

namespace weir::bench {

void unique_fd::reset(int fd) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
}

event_loop::event_loop()
    : epfd_(::epoll_create1(EPOLL_CLOEXEC)) {
    if (!epfd_) throw sys_error("epoll_create1");
}

void event_loop::add(int fd, std::uint32_t events, std::uint64_t token) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = token;
    if (::epoll_ctl(epfd_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) throw sys_error("epoll_ctl add");
}

void event_loop::modify(int fd, std::uint32_t events, std::uint64_t token) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = token;
    if (::epoll_ctl(epfd_.get(), EPOLL_CTL_MOD, fd, &ev) != 0) throw sys_error("epoll_ctl mod");
}

sockaddr_in ipv4_address(std::uint32_t host_order, std::uint16_t port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(host_order);
    a.sin_port = htons(port);
    return a;
}

sockaddr_in parse_loopback(std::string_view text) {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) throw std::invalid_argument("expected HOST:PORT");
    const std::string host(text.substr(0, colon));
    const auto port_text = text.substr(colon + 1);
    std::uint16_t port = 0;
    const auto [end, ec] = std::from_chars(port_text.begin(), port_text.end(), port);
    in_addr addr{};
    if (ec != std::errc{} || end != port_text.end() ||
        ::inet_pton(AF_INET, host.c_str(), &addr) != 1)
        throw std::invalid_argument("bad address: " + std::string(text));
    if ((ntohl(addr.s_addr) >> 24) != 127) throw std::invalid_argument("not loopback: " + host);
    return ipv4_address(ntohl(addr.s_addr), port);
}

std::uint16_t local_port(int fd) {
    sockaddr_in a{};
    socklen_t len = sizeof a;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
        throw sys_error("getsockname");
    return ntohs(a.sin_port);
}

unique_fd listen_tcp(const sockaddr_in& at, int backlog) {
    unique_fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) throw sys_error("socket");
    const int one = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&at), sizeof at) != 0)
        throw sys_error("bind");
    if (::listen(fd.get(), backlog) != 0) throw sys_error("listen");
    return fd;
}

unique_fd connect_tcp(const sockaddr_in& to, const sockaddr_in* from, int& err) {
    unique_fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) {
        err = errno;
        return fd;
    }
    const int one = 1;
    ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (from != nullptr) {
        ::setsockopt(fd.get(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(from), sizeof *from) != 0) {
            err = errno;
            return unique_fd{};
        }
    }
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0 &&
        errno != EINPROGRESS) {
        err = errno;
        return unique_fd{};
    }
    err = 0;
    return fd;
}

int socket_error(int fd) {
    int err = 0;
    socklen_t len = sizeof err;
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return errno;
    return err;
}

std::uint64_t raise_fd_limit() {
    rlimit lim{};
    if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return 1024;
    lim.rlim_cur = lim.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &lim);
    ::getrlimit(RLIMIT_NOFILE, &lim);
    return lim.rlim_cur;
}

double now_seconds() {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

} // namespace weir::bench
