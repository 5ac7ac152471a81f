// splice(2) relay: socket -> pipe -> socket per direction, no copy to user space.
#include "socks/relay/pipe_pool.hpp"
#include "socks/relay/relay.hpp"
#include "socks/relay/relay_engine.hpp"

#include <signal.h>
#include <system_error>

namespace weir::relay {
namespace {

using asio::ip::tcp;

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

/// splice(2) obeys the sockets' O_NONBLOCK, not only SPLICE_F_NONBLOCK. Asio
/// sets it on a socket's first asynchronous operation and remembers it: ask
/// the kernel only when it has not.
std::error_code make_non_blocking(tcp::socket& socket) {
    std::error_code ec;
    if (!socket.native_non_blocking()) socket.native_non_blocking(true, ec);
    return ec;
}

asio::awaitable<relay_stats> ready_stats(relay_stats stats) {
    co_return stats;
}

} // namespace

// Not a coroutine itself (one frame fewer per session): the checks run when
// it is called, which is when it is awaited.
asio::awaitable<relay_stats> splice_relay(tcp::socket& client, tcp::socket& target,
                                          const relay_options& options, bool& handled) {
    handled = detail::pipe_pool::local().ready(options);
    if (!handled) return ready_stats({});
    ignore_sigpipe_once();
    std::error_code ec = make_non_blocking(client);
    if (!ec) ec = make_non_blocking(target);
    if (ec) {
        relay_stats failed;
        failed.spliced = true;
        failed.error = ec;
        return ready_stats(failed);
    }
    return detail::run_relay(client, target, options, true);
}

} // namespace weir::relay
