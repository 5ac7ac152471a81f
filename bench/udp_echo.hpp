#pragma once

#include "bench/net.hpp"

#include <atomic>
#include <cstdint>
#include <thread>

namespace weir::bench {

/// The UDP side of the load generator's targets, on 127.0.0.1, one thread:
///  echo:    sends every datagram back to its source as it came;
///  discard: counts datagrams and their bytes, sends nothing back.
class udp_echo_server {
public:
    udp_echo_server(); ///< binds both ports; throws on failure
    udp_echo_server(const udp_echo_server&) = delete;
    udp_echo_server& operator=(const udp_echo_server&) = delete;
    ~udp_echo_server();

    std::uint16_t echo_port() const { return echo_port_; }
    std::uint16_t discard_port() const { return discard_port_; }
    /// Datagrams (and their bytes) the discard port has received so far.
    std::uint64_t discarded() const { return discarded_.load(std::memory_order_relaxed); }
    std::uint64_t discarded_bytes() const {
        return discarded_bytes_.load(std::memory_order_relaxed);
    }
    /// CPU seconds the server thread has used so far.
    double cpu_seconds() const;

    /// Largest datagram echoed whole.
    static constexpr std::size_t max_size = 9000;

private:
    void run();
    void echo_all();
    void discard_all();

    event_loop loop_;
    unique_fd echo_;
    unique_fd discard_;
    std::uint16_t echo_port_ = 0;
    std::uint16_t discard_port_ = 0;
    std::atomic<std::uint64_t> discarded_{0};
    std::atomic<std::uint64_t> discarded_bytes_{0};
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

/// A non-blocking UDP socket bound to `at`, with large buffers (forced past
/// rmem_max/wmem_max when allowed: the load generator must not be where
/// datagrams are lost); throws on failure.
unique_fd open_udp(const sockaddr_in& at);

} // namespace weir::bench
