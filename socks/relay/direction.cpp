#include "socks/relay/direction.hpp"

#include <algorithm>
#include <cerrno>
#include <fcntl.h>
#include <new>
#include <sys/socket.h>
#include <utility>

#include <asio/error.hpp>

namespace weir::relay::detail {
namespace {

constexpr unsigned splice_flags = SPLICE_F_MOVE | SPLICE_F_NONBLOCK;
constexpr int send_flags = MSG_DONTWAIT | MSG_NOSIGNAL;
constexpr std::size_t default_buffer_size = 64 * 1024;
/// A splice into the pipe shorter than this counts as the source running dry.
constexpr std::size_t full_pipe_read = 64 * 1024;

/// Asio's own system category, so that errors compare equal to asio::error values.
std::error_code system_error(int value) {
    return {value, asio::error::get_system_category()};
}

bool would_block(int error) {
    return error == EAGAIN || error == EWOULDBLOCK;
}

} // namespace

direction::direction(int src, int dst, const relay_options& options, bool splice)
    : src_(src)
    , dst_(dst)
    , options_(options)
    , splice_(splice) {}

void direction::received(std::size_t n) noexcept {
    if (n == 0) {
        eof_ = true;
    } else if (n < inbox_.size()) {
        // Short: the source is likely empty. Send these bytes as they are.
        held_ = n;
        head_ = 0;
        burst_ += n;
        from_inbox_ = drained_ = true;
    } else {
        stashed_ = n;
    }
}

direction::next direction::pump(std::error_code& error, std::size_t turn_bytes) {
    std::size_t turn = 0;
    for (;;) {
        if (const auto then = held_ > 0 ? deliver(error) : refill(error, turn, turn_bytes))
            return *then;
    }
}

std::optional<direction::next> direction::deliver(std::error_code& error) {
    while (held_ > 0) {
        const ssize_t n = drain();
        if (n > 0) {
            const auto moved = static_cast<std::size_t>(n);
            held_ -= moved;
            head_ += moved;
            delivered_ += moved;
        } else if (n < 0 && would_block(errno)) {
            return next::writable;
        } else if (n == 0 || errno != EINTR) {
            error = system_error(n == 0 ? EIO : errno); // a non-empty pipe never gives 0
            release();
            return next::done;
        }
    }
    head_ = 0;
    from_inbox_ = false;
    return std::nullopt;
}

/// With nothing held: passes EOF on, or reads more, or says to wait.
std::optional<direction::next> direction::refill(std::error_code& error, std::size_t& turn,
                                                 std::size_t turn_bytes) {
    if (eof_) {
        release();
        // The peer may be gone already: nothing left to tell it.
        if (!last_) ::shutdown(dst_, SHUT_WR);
        return next::done;
    }
    // After a short read the wait costs no more than a read that would block,
    // and it is safe: a wait on a socket that is readable already completes at
    // once (Asio tries an inbox read before it waits; a plain wait re-arms
    // epoll with EPOLL_CTL_MOD, which polls the socket).
    if (drained_) {
        release();
        return next::readable;
    }
    if (turn >= turn_bytes) return next::more; // keeps the carrier: it is busy
    if (!choose_carrier()) {
        error = asio::error::no_memory;
        release();
        return next::done;
    }
    const ssize_t n = fill();
    if (n > 0) {
        held_ = static_cast<std::size_t>(n);
        turn += held_;
        burst_ += held_;
    } else if (n == 0) {
        eof_ = true;
    } else if (would_block(errno)) {
        release();
        return next::readable;
    } else if (errno != EINTR) {
        error = system_error(errno);
        release();
        return next::done;
    }
    return std::nullopt;
}

void direction::release() noexcept {
    if (pipe_) {
        if (held_ == 0 || from_inbox_) // the bytes held are not in the pipe
            pipe_pool::local().give_back(*pipe_, options_.spare_pipes);
        else
            pipe_pool::local().discard(*pipe_);
        pipe_.reset();
    }
    drop_buffer();
    held_ = 0;
    head_ = 0;
    stashed_ = 0;
    drained_ = probed_ = fell_back_ = from_inbox_ = false;
    // A burst the probe could not carry alone was bulk: the next one skips
    // the inbox and takes a pipe from its first byte. One the inbox or the
    // probe carried (an interactive exchange) makes the next one use them again.
    if (burst_ > 0) bulk_ = burst_ > std::max(options_.splice_probe, inbox_.size());
    burst_ = 0;
}

/// Copy: a buffer. Splice: a buffer for the burst's first read when probing
/// (not after a bulk burst: a transfer in full flow goes straight to a pipe),
/// then a pipe, or a buffer again when no pipe is to be had.
bool direction::choose_carrier() {
    // Room for a full inbox and what follows it.
    const std::size_t size = std::max(
        options_.buffer_size > 0 ? options_.buffer_size : default_buffer_size, 2 * inbox_size);
    try {
        if (splice_ && !pipe_ && !fell_back_) {
            if (!probed_ && !bulk_ && options_.splice_probe > 0) {
                probed_ = true;
            } else {
                drop_buffer(); // the probe's, empty now
                pipe_ = pipe_pool::local().take(options_);
                if (pipe_) return true;
                pipe_pool::local().count_fallback(options_);
                fell_back_ = true;
            }
        }
        if (!pipe_ && !buffer_) buffer_ = buffer_pool::local().take(size);
        return true;
    } catch (const std::bad_alloc&) {
        return false;
    }
}

ssize_t direction::fill() {
    if (stashed_ > 0 && pipe_) { // a pipe cannot take a full inbox in front: send it first
        from_inbox_ = true;
        return static_cast<ssize_t>(std::exchange(stashed_, 0));
    }
    if (pipe_) {
        const ssize_t n =
            ::splice(src_, nullptr, pipe_->write_end, nullptr, pipe_->capacity, splice_flags);
        drained_ = n > 0 && static_cast<std::size_t>(n) < std::min(pipe_->capacity, full_pipe_read);
        return n;
    }
    const bool probing = splice_ && !fell_back_ && probed_;
    const std::size_t limit = std::max(
        probing ? std::min(options_.splice_probe, buffer_.size) : buffer_.size, stashed_ + 1);
    // A full inbox goes in front of what follows it: one send for both.
    const std::size_t kept = std::exchange(stashed_, 0);
    std::copy_n(inbox_.begin(), kept, buffer_.data.get());
    const ssize_t n = ::recv(src_, buffer_.data.get() + kept, limit - kept, MSG_DONTWAIT);
    if (kept == 0) {
        drained_ = n > 0 && static_cast<std::size_t>(n) < limit;
        return n;
    }
    if (n > 0) {
        drained_ = kept + static_cast<std::size_t>(n) < limit;
        return static_cast<ssize_t>(kept + static_cast<std::size_t>(n));
    }
    if (n == 0) {
        eof_ = true; // after these bytes
    } else if (!would_block(errno) && errno != EINTR) {
        return n; // the relay ends with the error; the bytes held go with it
    }
    drained_ = true;
    return static_cast<ssize_t>(kept);
}

ssize_t direction::drain() {
    if (from_inbox_) return ::send(dst_, inbox_.data() + head_, held_, send_flags);
    if (pipe_) return ::splice(pipe_->read_end, nullptr, dst_, nullptr, held_, splice_flags);
    return ::send(dst_, buffer_.data.get() + head_, held_, send_flags);
}

void direction::drop_buffer() noexcept {
    if (buffer_) buffer_pool::local().give_back(std::move(buffer_), options_.spare_buffers);
    buffer_ = {};
}

} // namespace weir::relay::detail
