#pragma once

#include <array>
#include <cerrno>
#include <cstdint>
#include <netinet/in.h>
#include <string_view>
#include <sys/epoll.h>
#include <system_error>
#include <utility>

namespace weir::bench {

/// Owns a file descriptor and closes it on destruction.
class unique_fd {
public:
    unique_fd() = default;
    explicit unique_fd(int fd)
        : fd_(fd) {}
    unique_fd(unique_fd&& other) noexcept
        : fd_(std::exchange(other.fd_, -1)) {}
    unique_fd& operator=(unique_fd&& other) noexcept {
        reset(std::exchange(other.fd_, -1));
        return *this;
    }
    unique_fd(const unique_fd&) = delete;
    unique_fd& operator=(const unique_fd&) = delete;
    ~unique_fd() { reset(); }

    int get() const { return fd_; }
    explicit operator bool() const { return fd_ >= 0; }
    /// Closes the descriptor held (if any) and takes `fd`.
    void reset(int fd = -1);

private:
    int fd_ = -1;
};

/// The error of a failed system call, with errno.
inline std::system_error sys_error(const char* what) {
    return {errno, std::system_category(), what};
}

/// Level-triggered epoll; every registration carries a 64-bit token that
/// comes back with its events (a slot index and a generation, typically).
class event_loop {
public:
    event_loop();
    void add(int fd, std::uint32_t events, std::uint64_t token);
    void modify(int fd, std::uint32_t events, std::uint64_t token);

    /// Waits up to `timeout_ms` and calls `on_event(token, events)` for each
    /// ready descriptor; returns how many were ready.
    template <class F>
    int poll(int timeout_ms, F&& on_event) {
        const int n =
            ::epoll_wait(epfd_.get(), events_.data(), static_cast<int>(events_.size()), timeout_ms);
        for (int i = 0; i < n; ++i) {
            const auto& ev = events_[static_cast<std::size_t>(i)];
            on_event(ev.data.u64, ev.events);
        }
        return n < 0 ? 0 : n;
    }

private:
    unique_fd epfd_;
    std::array<epoll_event, 512> events_{};
};

/// 127.a.b.c:port from a host-order address.
sockaddr_in ipv4_address(std::uint32_t host_order, std::uint16_t port);
/// Parses "127.x.y.z:PORT"; throws std::invalid_argument for anything else
/// (only loopback addresses are accepted).
sockaddr_in parse_loopback(std::string_view text);
/// The port a bound socket has.
std::uint16_t local_port(int fd);
/// A non-blocking listening socket on `at`; throws on failure.
unique_fd listen_tcp(const sockaddr_in& at, int backlog);
/// Starts a non-blocking connect to `to` (TCP_NODELAY set), first binding to
/// `from` without a port (IP_BIND_ADDRESS_NO_PORT) when given. Returns an
/// empty fd and sets `err` on failure.
unique_fd connect_tcp(const sockaddr_in& to, const sockaddr_in* from, int& err);
/// SO_ERROR of a socket (0: connected).
int socket_error(int fd);
/// Raises RLIMIT_NOFILE to the hard limit; returns the soft limit now in force.
std::uint64_t raise_fd_limit();
/// Monotonic clock in seconds.
double now_seconds();

} // namespace weir::bench
