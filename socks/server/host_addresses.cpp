#include "socks/server/host_addresses.hpp"

#include "log/log.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <ifaddrs.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <asio/co_spawn.hpp>
#include <asio/this_coro.hpp>

namespace weir::server {
namespace {

std::optional<auth::ip_address> address_of(const sockaddr* sa) {
    if (sa == nullptr) return {};
    if (sa->sa_family == AF_INET) {
        sockaddr_in in{};
        std::memcpy(&in, sa, sizeof in);
        auth::ip_address::v4_bytes b{};
        std::memcpy(b.data(), &in.sin_addr, b.size());
        return auth::ip_address(b);
    }
    if (sa->sa_family == AF_INET6) {
        sockaddr_in6 in{};
        std::memcpy(&in, sa, sizeof in);
        auth::ip_address::v6_bytes b{};
        std::memcpy(b.data(), &in.sin6_addr, b.size());
        return auth::ip_address(b).normalized();
    }
    return {};
}

// A NETLINK_ROUTE socket that hears of every address added or removed.
int open_netlink() {
    const int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
    if (fd < 0) return -1;
    sockaddr_nl where{};
    where.nl_family = AF_NETLINK;
    where.nl_groups = RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR;
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&where), sizeof where) != 0) {
        const int error = errno;
        ::close(fd);
        errno = error;
        return -1;
    }
    return fd;
}

} // namespace

host_addresses::host_addresses()
    : addresses_(std::make_shared<const list>(read())) {}

host_addresses::list host_addresses::read() {
    list out;
    ifaddrs* all = nullptr;
    if (::getifaddrs(&all) != 0) return out;
    for (const ifaddrs* i = all; i != nullptr; i = i->ifa_next) {
        if (const auto a = address_of(i->ifa_addr)) out.push_back(*a);
    }
    ::freeifaddrs(all);
    const auto less = [](const auth::ip_address& a, const auth::ip_address& b) {
        return a.is_v4() != b.is_v4()
                   ? a.is_v4()
                   : std::lexicographical_compare(a.bytes().begin(), a.bytes().end(),
                                                  b.bytes().begin(), b.bytes().end());
    };
    std::sort(out.begin(), out.end(), less);
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

std::shared_ptr<const host_addresses::list> host_addresses::get() const {
    std::lock_guard lock(mutex_);
    return addresses_;
}

void host_addresses::refresh() {
    auto next = std::make_shared<const list>(read());
    std::lock_guard lock(mutex_);
    addresses_ = std::move(next);
}

void host_addresses::watch(asio::io_context& io) {
    const int fd = open_netlink();
    if (fd < 0) {
        log::warn("cannot follow this host's address changes ({}): the guard keeps the "
                  "addresses it found at start",
                  std::strerror(errno));
        return;
    }
    // Read again now: an address may have come between the first read and the socket.
    refresh();
    asio::co_spawn(io.get_executor(), follow(fd), [](std::exception_ptr e) {
        if (!e) return;
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& x) {
            log::error("following the host's addresses stopped: {}", x.what());
        }
    });
}

void host_addresses::stop() {
    if (netlink_ == nullptr) return;
    std::error_code ignored;
    netlink_->close(ignored);
}

// Each wake-up drains the socket and reads the interfaces once: a burst of
// changes costs one getifaddrs(). ENOBUFS (messages lost) reads them too.
io::task<void> host_addresses::follow(int fd) {
    descriptor netlink(co_await asio::this_coro::executor, fd);
    struct seen_by_stop { // while this frame lives, however it ends
        descriptor*& where;
        seen_by_stop(descriptor*& w, descriptor& d)
            : where(w) {
            where = &d;
        }
        ~seen_by_stop() { where = nullptr; }
    } registered(netlink_, netlink);
    std::array<char, 8192> buffer;
    for (;;) {
        auto [ec] =
            co_await netlink.async_wait(asio::posix::descriptor_base::wait_read, io::use_tuple);
        if (ec || !netlink.is_open()) co_return;
        for (int i = 0; i < 1024; ++i) { // bounded: a flood of changes cannot hold the thread
            const auto n =
                ::recv(netlink.native_handle(), buffer.data(), buffer.size(), MSG_DONTWAIT);
            if (n <= 0 && errno != ENOBUFS) break;
        }
        refresh();
    }
}

} // namespace weir::server
