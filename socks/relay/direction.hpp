#pragma once

#include "socks/relay/buffer_pool.hpp"
#include "socks/relay/pipe_pool.hpp"
#include "socks/relay/relay_options.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <sys/types.h>
#include <system_error>

namespace weir::relay::detail {

/// One direction of a relay, moving bytes with non-blocking system calls only.
/// It holds a pipe (splice) or a buffer (copy, or splice without a pipe) only
/// while bytes are in flight: from a wake-up until the source would block and
/// everything read has been delivered. The caller does the waiting; outside
/// bulk flow its wait reads the burst's first bytes into the direction's small
/// inbox (see reads_while_waiting()).
class direction {
public:
    /// Bytes a wait for the source reads by itself: an exchange this small is
    /// relayed with one send, no buffer and no re-arming of the wait.
    static constexpr std::size_t inbox_size = 64;

    /// What the direction needs next: to wait, or only a turn (the others
    /// relays on the thread go first), or nothing more.
    enum class next { readable, writable, more, done };

    direction(int src, int dst, const relay_options& options, bool splice);
    direction(const direction&) = delete;
    direction& operator=(const direction&) = delete;
    ~direction() { release(); }

    /// Moves bytes until the source would block with nothing held (readable),
    /// the destination would block (writable), its turn is over (more: it
    /// has read `turn_bytes` or more), or the end: EOF passed on as
    /// shutdown(SHUT_WR), or an error, stored in `error`.
    next pump(std::error_code& error, std::size_t turn_bytes);
    /// Gives the pipe or buffer back; a pipe that still holds bytes is closed.
    void release() noexcept;

    /// Whether the next wait for the source should read into inbox() (Asio
    /// reads as the socket wakes up, and queues the next wait after a short
    /// read without touching epoll) rather than only wait for readiness. Not
    /// in bulk flow: there a wake-up goes straight to a pipe.
    bool reads_while_waiting() const noexcept { return !bulk_; }
    std::array<std::uint8_t, inbox_size>& inbox() noexcept { return inbox_; }
    /// What a wait read into inbox(): `n` bytes, 0 at the source's end. A
    /// full inbox is followed by more: pump() reads the rest after it.
    void received(std::size_t n) noexcept;

    std::uint64_t delivered() const noexcept { return delivered_; }
    /// The other direction has ended at EOF: when this one does too, the relay
    /// closes both sockets at once, and close() sends the FIN that
    /// shutdown(SHUT_WR) would (nothing is left unread to turn it into a reset).
    void other_ended() noexcept { last_ = true; }

private:
    std::optional<next> deliver(std::error_code& error);
    std::optional<next> refill(std::error_code& error, std::size_t& turn, std::size_t turn_bytes);
    bool choose_carrier();
    ssize_t fill();
    ssize_t drain();
    void drop_buffer() noexcept;

    int src_;
    int dst_;
    const relay_options& options_;
    std::optional<pipe_fds> pipe_;
    byte_buffer buffer_;
    std::size_t head_ = 0; ///< buffer: first byte not yet delivered
    std::size_t held_ = 0; ///< bytes read and not yet delivered
    std::uint64_t delivered_ = 0;
    std::uint64_t burst_ = 0; ///< bytes read since this burst began
    std::array<std::uint8_t, inbox_size> inbox_;
    std::size_t stashed_ = 0; ///< a full inbox, to be sent with what follows it
    const bool splice_;
    bool eof_ = false;
    bool last_ = false;       ///< see other_ended()
    bool drained_ = false;    ///< the last read came up short: the source is likely empty
    bool probed_ = false;     ///< this burst's first read went to a buffer
    bool bulk_ = false;       ///< the last burst outgrew the probe: skip it
    bool fell_back_ = false;  ///< this burst copies: no pipe was to be had
    bool from_inbox_ = false; ///< the bytes held are in the inbox
};

} // namespace weir::relay::detail
