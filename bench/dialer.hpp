#pragma once

#include "bench/net.hpp"
#include "bench/socks_client.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace weir::bench {

/// One client connection up to the point where payload may flow: a
/// non-blocking connect, then the SOCKS handshake (nothing for direct).
class dialer {
public:
    enum class state { idle, connecting, handshaking, ready, failed };

    /// Starts connecting to `to` (the proxy, or the target for direct); the
    /// caller then registers fd() with wanted() events.
    bool start(const sockaddr_in& to, const sockaddr_in* from,
               const std::vector<handshake_step>& steps);
    /// Advances on an epoll event; returns the new state.
    state on_event(std::uint32_t events);
    /// The epoll events the current state waits for.
    std::uint32_t wanted() const;
    /// Calls loop.add() or loop.modify() when wanted() changed since last time.
    void sync(event_loop& loop, std::uint64_t token) { watch(loop, token, wanted()); }
    /// Waits for `events` (registering the socket the first time); for the
    /// caller's own I/O once ready.
    void watch(event_loop& loop, std::uint64_t token, std::uint32_t events);

    state current() const { return state_; }
    int fd() const { return fd_.get(); }
    /// Bytes received after the last reply (payload the caller must use).
    std::span<const std::uint8_t> leftover() const { return {in_.data(), in_len_}; }
    /// What went wrong, once failed.
    const char* error() const { return error_; }
    /// Closes the socket and returns to idle.
    void close();

private:
    state fail(const char* why);
    state flush();
    state read_replies();
    state next_step();

    unique_fd fd_;
    state state_ = state::idle;
    const std::vector<handshake_step>* steps_ = nullptr;
    std::size_t step_ = 0;
    std::span<const std::uint8_t> out_;
    std::array<std::uint8_t, 512> in_{};
    std::size_t in_len_ = 0;
    std::uint32_t registered_ = 0; ///< 0: not in the epoll set
    const char* error_ = "";
};

} // namespace weir::bench
