#pragma once

#include "auth/ip.hpp"
#include "io/task.hpp"

#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include <asio/io_context.hpp>
#include <asio/posix/basic_stream_descriptor.hpp>

namespace weir::server {

/// The addresses of this host's interfaces, kept current: a service bound to
/// 0.0.0.0 answers on each of them, so the guard treats them as loopback.
/// Read with getifaddrs(3) at start and again whenever the kernel announces an
/// address change on a NETLINK_ROUTE socket. Thread-safe.
class host_addresses {
public:
    using list = std::vector<auth::ip_address>;

    /// Reads the addresses now; watch() keeps them current.
    host_addresses();
    host_addresses(const host_addresses&) = delete;
    host_addresses& operator=(const host_addresses&) = delete;

    /// Follows address changes on `io` until stop() (or the context ends).
    /// Without a netlink socket (no permission, not Linux) logs a warning and
    /// keeps the start-up list.
    void watch(asio::io_context& io);
    /// Ends the watch: its socket closes, and the watching coroutine, which owns
    /// it, ends when `io` next runs (or is destroyed). Call on the thread that
    /// runs `io`, or while it does not run.
    void stop();

    /// The addresses as of now (IPv4-mapped ones as IPv4), sorted.
    std::shared_ptr<const list> get() const;

    /// Reads the interfaces' addresses (exposed for tests).
    static list read();

private:
    using descriptor = asio::posix::basic_stream_descriptor<io::executor>;
    io::task<void> follow(int fd);
    void refresh();

    mutable std::mutex mutex_;
    std::shared_ptr<const list> addresses_;
    /// The netlink socket, owned by the frame of follow() (so that it goes
    /// with its io_context, as sessions' sockets do); null when not watching.
    descriptor* netlink_ = nullptr;
};

} // namespace weir::server
