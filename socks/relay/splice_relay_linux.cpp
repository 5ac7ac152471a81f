// splice(2) relay: socket -> pipe -> socket per direction, no copy to user space.
#include "socks/relay/relay.hpp"
#include "socks/relay/relay_state.hpp"

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <fcntl.h>
#include <limits>
#include <signal.h>
#include <system_error>
#include <unistd.h>

#include <asio/error.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

namespace weir::relay {
namespace {

using asio::ip::tcp;

/// One pipe, closed on destruction.
class splice_pipe {
public:
    splice_pipe() = default;
    splice_pipe(const splice_pipe&) = delete;
    splice_pipe& operator=(const splice_pipe&) = delete;
    ~splice_pipe() {
        for (const int fd : fds_)
            if (fd >= 0) ::close(fd);
    }

    /// Creates the pipe and asks for `wanted` bytes of capacity (keeps the
    /// default capacity when the kernel refuses).
    bool open(std::size_t wanted) {
        if (::pipe2(fds_, O_NONBLOCK | O_CLOEXEC) != 0) return false;
        if (wanted > 0 && wanted <= static_cast<std::size_t>(std::numeric_limits<int>::max()))
            ::fcntl(fds_[1], F_SETPIPE_SZ, static_cast<int>(wanted));
        const int size = ::fcntl(fds_[1], F_GETPIPE_SZ);
        capacity_ = size > 0 ? static_cast<std::size_t>(size) : 65536;
        return true;
    }

    int read_end() const noexcept { return fds_[0]; }
    int write_end() const noexcept { return fds_[1]; }
    std::size_t capacity() const noexcept { return capacity_; }

private:
    int fds_[2] = {-1, -1};
    std::size_t capacity_ = 0;
};

/// Asio's own system category, so that errors compare equal to asio::error values.
std::error_code system_error(int value) {
    return {value, asio::error::get_system_category()};
}

/// splice(2) into a socket its peer has reset raises SIGPIPE (it has no
/// MSG_NOSIGNAL): ignore the signal, unless the program handles it itself.
void ignore_sigpipe_once() {
    static const bool ignored = [] {
        struct sigaction current {};
        if (::sigaction(SIGPIPE, nullptr, &current) != 0) return false;
        return current.sa_handler != SIG_DFL || ::signal(SIGPIPE, SIG_IGN) != SIG_ERR;
    }();
    (void)ignored;
}

constexpr unsigned splice_flags = SPLICE_F_MOVE | SPLICE_F_NONBLOCK;

/// Waits until `socket` is ready for `what`; false when the relay must end.
asio::awaitable<bool> wait_ready(tcp::socket& socket, tcp::socket::wait_type what,
                                 detail::relay_state& state) {
    const auto cs = co_await asio::this_coro::cancellation_state;
    auto [ec] = co_await socket.async_wait(what, asio::experimental::as_tuple(asio::use_awaitable));
    if (state.should_stop(cs)) co_return false;
    if (ec) state.fail(ec);
    co_return !ec;
}

/// Moves bytes from `src` to `dst` until EOF on `src` (then half-closes
/// `dst`), an error, or the end of the relay. The pipe is empty between
/// rounds: fill it from `src`, then drain all of it to `dst`.
asio::awaitable<void> splice_direction(tcp::socket& src, tcp::socket& dst, splice_pipe& pipe,
                                       std::uint64_t& delivered, detail::relay_state& state) {
    std::size_t in_pipe = 0;
    bool eof = false;
    while (!eof || in_pipe > 0) {
        const bool filling = in_pipe == 0;
        const ssize_t n = filling ? ::splice(src.native_handle(), nullptr, pipe.write_end(),
                                             nullptr, pipe.capacity(), splice_flags)
                                  : ::splice(pipe.read_end(), nullptr, dst.native_handle(), nullptr,
                                             in_pipe, splice_flags);
        if (n > 0) {
            const auto moved = static_cast<std::size_t>(n);
            in_pipe = filling ? moved : in_pipe - moved;
            if (!filling) delivered += moved;
            state.moved();
        } else if (n == 0) {
            if (!filling) { // a non-empty pipe never gives 0: do not spin on it
                state.fail(system_error(EIO));
                co_return;
            }
            eof = true;
        } else if (n < 0 && errno == EAGAIN) {
            const auto what = filling ? tcp::socket::wait_read : tcp::socket::wait_write;
            if (!co_await wait_ready(filling ? src : dst, what, state)) co_return;
        } else if (n < 0 && errno != EINTR) {
            state.fail(system_error(errno));
            co_return;
        }
    }
    std::error_code ignored; // the peer may be gone already: nothing left to tell it
    dst.shutdown(tcp::socket::shutdown_send, ignored);
}

} // namespace

asio::awaitable<relay_stats> splice_relay(tcp::socket& client, tcp::socket& target,
                                          const relay_options& options, bool& handled) {
    splice_pipe up;
    splice_pipe down;
    handled = up.open(options.pipe_size) && down.open(options.pipe_size);
    if (!handled) co_return relay_stats{};
    ignore_sigpipe_once();

    detail::relay_state state(co_await asio::this_coro::executor, options.idle_timeout);
    state.stats().spliced = true;
    std::error_code ec;
    client.native_non_blocking(true, ec);
    if (!ec) target.native_non_blocking(true, ec);
    if (ec) {
        state.fail(ec);
        co_return state.stats();
    }
    co_await state.run(
        splice_direction(client, target, up, state.stats().client_to_target, state),
        splice_direction(target, client, down, state.stats().target_to_client, state));
    co_return state.stats();
}

} // namespace weir::relay
