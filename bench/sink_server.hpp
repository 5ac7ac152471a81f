#pragma once

#include "bench/net.hpp"

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

namespace weir::bench {

/// The three services the load generator talks to, each on its own port.
///  echo:   sends back every byte until EOF, then closes.
///  cycle:  reads one byte, sends it back and closes first (the client then
///          sees EOF and closes without TIME_WAIT).
///  stream: the first byte says who sends (bit 0: the client uploads, bit 1:
///          the server sends zeros) and how the server reads (bit 2: with
///          recv(MSG_TRUNC), no copy); the client's EOF ends it and the server
///          answers with the trailer 01, u64le bytes received, u64le bytes sent,
///          then closes.
struct server_ports {
    std::uint16_t echo = 0;
    std::uint16_t cycle = 0;
    std::uint16_t stream = 0;
};

inline constexpr std::uint8_t stream_upload = 1;
inline constexpr std::uint8_t stream_download = 2;
inline constexpr std::uint8_t stream_truncate = 4;
inline constexpr std::size_t trailer_size = 17;

/// Runs the services on one thread with its own epoll loop, on 127.0.0.1.
class sink_server {
public:
    sink_server(); ///< binds the ports; throws on failure
    sink_server(const sink_server&) = delete;
    sink_server& operator=(const sink_server&) = delete;
    ~sink_server();

    server_ports ports() const { return ports_; }
    /// CPU seconds the server thread has used so far.
    double cpu_seconds() const;

private:
    struct conn;
    void run();
    void accept_all(int listener, std::uint8_t kind);
    void on_conn(std::uint32_t index, std::uint32_t events);
    void on_echo(conn& c, std::uint32_t events);
    void on_cycle(conn& c);
    void on_stream(conn& c, std::uint32_t events);
    void stream_read(conn& c);
    bool flush(conn& c);
    static std::uint32_t wanted_events(const conn& c);
    void release(std::uint32_t index);
    std::uint64_t token(std::uint32_t index) const;

    event_loop loop_;
    unique_fd listeners_[3];
    server_ports ports_;
    std::vector<conn> conns_;
    std::vector<std::uint32_t> free_;
    std::vector<std::uint8_t> buffer_;
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

} // namespace weir::bench
