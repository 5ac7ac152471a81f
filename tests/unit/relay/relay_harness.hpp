#pragma once

#include "socks/relay/relay.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <initializer_list>
#include <optional>
#include <set>
#include <sys/resource.h>
#include <system_error>
#include <vector>

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>

namespace weir::relay::test {

using asio::ip::tcp;
using bytes = std::vector<std::uint8_t>;

/// Which relay a test asks for: relay_options::kind itself.
using relay_impl = relay_kind;

const char* name(relay_impl impl);

/// `size` pseudo-random bytes, the same for the same seed.
bytes random_bytes(std::size_t size, std::uint32_t seed);

/// The fds listed in /proc/self/fd, less those in `ignored`.
std::set<int> open_fds(std::initializer_list<int> ignored);

struct read_result {
    bytes data;
    std::error_code error; ///< empty when the read ended at EOF
};

asio::awaitable<void> sleep_for(std::chrono::milliseconds delay);
/// Writes everything (an error ends it quietly), then optionally half-closes.
asio::awaitable<void> send(tcp::socket& socket, const bytes& data, bool then_shutdown);
/// Reads until EOF or an error.
asio::awaitable<void> read_to_end(tcp::socket& socket, read_result& into);
/// Sends `data`, half-closes, then reads what comes back until EOF.
asio::awaitable<void> talk_then_listen(tcp::socket& socket, const bytes& data, read_result& into);
/// Reads until EOF, then answers `data` and closes.
asio::awaitable<void> listen_then_answer(tcp::socket& socket, const bytes& data, read_result& into);
/// What relay_options::on_pipe_shortage was told, when set to record_shortage
/// (relays run on the test's thread; clear it before a test).
extern std::vector<pipe_shortage> shortages;
void record_shortage(const pipe_shortage& s) noexcept;
/// Compared outside CHECK, which would print megabytes on a mismatch.
bool same_bytes(const bytes& got, const bytes& expected);
/// Closes with SO_LINGER 0, so that the peer gets a reset.
void reset_close(tcp::socket& socket);

/// Four loopback sockets: client <-> proxy_client, proxy_target <-> target.
/// The relay runs between the two proxy sockets, the tests drive the ends.
class relay_harness {
public:
    relay_harness();

    /// Starts the relay (which takes the proxy's sockets); once it returns,
    /// records the open fds. A non-zero `cancel_after`
    /// cancels the relay from outside after that delay.
    void start_relay(relay_impl impl, const relay_options& options,
                     std::chrono::milliseconds cancel_after = {});
    void spawn(asio::awaitable<void> task);
    /// Runs until every task has finished (true) or a generous deadline has
    /// passed (false). Rethrows the first exception a task threw.
    bool run();

    asio::io_context io;
    tcp::socket client{io};
    tcp::socket target{io};

    std::optional<relay_stats> stats; ///< set when the relay returned
    bool cancelled = false;           ///< the relay was cancelled from outside
    /// Empty this thread's pools before and after the relay, so that the fd
    /// counts show exactly what the relay itself left open (nothing).
    bool trim_pools = true;
    std::set<int> fds_before; ///< open fds but the ends' when the relay started
    std::set<int> fds_after;  ///< the same when it returned

private:
    asio::awaitable<void> drive_relay(relay_impl impl, relay_options options,
                                      std::chrono::milliseconds cancel_after);
    asio::awaitable<relay_stats> call_relay(const relay_options& options);

    std::optional<io::tcp_socket> proxy_client_;
    std::optional<io::tcp_socket> proxy_target_;
    int client_fd_ = -1;
    int target_fd_ = -1;
    int running_ = 0;
    std::exception_ptr failure_;
};

/// Lowers the soft RLIMIT_NOFILE so that at most one new fd can be opened,
/// for the life of the guard; fds already open keep working.
class fd_limit_guard {
public:
    fd_limit_guard();
    ~fd_limit_guard();
    fd_limit_guard(const fd_limit_guard&) = delete;
    fd_limit_guard& operator=(const fd_limit_guard&) = delete;

private:
    rlimit saved_{};
};

} // namespace weir::relay::test
