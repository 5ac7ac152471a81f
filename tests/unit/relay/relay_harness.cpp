#include "relay_harness.hpp"

#include <fcntl.h>
#include <filesystem>
#include <new>
#include <random>
#include <stdexcept>
#include <string>
#include <unistd.h>
#include <utility>
#include <variant>

#include <asio/buffer.hpp>
#include <asio/co_spawn.hpp>
#include <asio/error.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/ip/address_v4.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

namespace weir::relay::test {
namespace {

constexpr auto as_tuple = asio::experimental::as_tuple(asio::use_awaitable);

template <typename Connecting, typename Accepted>
void connect_pair(tcp::acceptor& acceptor, Connecting& connecting, Accepted& accepted) {
    connecting.connect(acceptor.local_endpoint());
    acceptor.accept(accepted);
}

} // namespace

const char* name(relay_impl impl) {
    switch (impl) {
    case relay_impl::splice:
        return "splice";
    case relay_impl::copy:
        return "copy";
    }
    return "?";
}

bytes random_bytes(std::size_t size, std::uint32_t seed) {
    std::mt19937 engine(seed);
    bytes out(size);
    for (auto& byte : out)
        byte = static_cast<std::uint8_t>(engine() >> 24);
    return out;
}

std::set<int> open_fds(std::initializer_list<int> ignored) {
    std::set<int> fds;
    for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd"))
        fds.insert(std::stoi(entry.path().filename().string()));
    for (const int fd : ignored)
        fds.erase(fd);
    return fds;
}

asio::awaitable<void> sleep_for(std::chrono::milliseconds delay) {
    asio::steady_timer timer(co_await asio::this_coro::executor, delay);
    co_await timer.async_wait(as_tuple);
}

asio::awaitable<void> send(tcp::socket& socket, const bytes& data, bool then_shutdown) {
    auto [ec, n] = co_await asio::async_write(socket, asio::buffer(data), as_tuple);
    if (!ec && then_shutdown) socket.shutdown(tcp::socket::shutdown_send, ec);
}

asio::awaitable<void> read_to_end(tcp::socket& socket, read_result& into) {
    std::vector<std::uint8_t> chunk(64 * 1024);
    for (;;) {
        auto [ec, n] = co_await socket.async_read_some(asio::buffer(chunk), as_tuple);
        into.data.insert(into.data.end(), chunk.begin(),
                         chunk.begin() + static_cast<std::ptrdiff_t>(n));
        if (ec == asio::error::eof) co_return;
        if (ec) {
            into.error = ec;
            co_return;
        }
    }
}

asio::awaitable<void> talk_then_listen(tcp::socket& socket, const bytes& data, read_result& into) {
    co_await send(socket, data, true);
    co_await read_to_end(socket, into);
}

asio::awaitable<void> listen_then_answer(tcp::socket& socket, const bytes& data,
                                         read_result& into) {
    co_await read_to_end(socket, into);
    co_await send(socket, data, true);
    socket.close();
}

std::vector<pipe_shortage> shortages;

void record_shortage(const pipe_shortage& s) noexcept {
    try {
        shortages.push_back(s);
    } catch (const std::bad_alloc&) { // a lost report shows in the tests' count checks
    }
}

bool same_bytes(const bytes& got, const bytes& expected) {
    return got == expected;
}

void reset_close(tcp::socket& socket) {
    socket.set_option(asio::socket_base::linger(true, 0));
    socket.close();
}

relay_harness::relay_harness()
    : proxy_client_(std::in_place, io)
    , proxy_target_(std::in_place, io) {
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address_v4("127.0.0.1"), 0));
    connect_pair(acceptor, client, *proxy_client_);
    connect_pair(acceptor, *proxy_target_, target);
    client_fd_ = client.native_handle();
    target_fd_ = target.native_handle();
}

void relay_harness::start_relay(relay_impl impl, const relay_options& options,
                                std::chrono::milliseconds cancel_after) {
    spawn(drive_relay(impl, options, cancel_after));
}

void relay_harness::spawn(asio::awaitable<void> task) {
    ++running_;
    asio::co_spawn(io, std::move(task), [this](std::exception_ptr error) {
        --running_;
        if (error && !failure_) failure_ = error;
    });
}

bool relay_harness::run() {
    io.run_for(std::chrono::seconds(60));
    if (failure_) std::rethrow_exception(failure_);
    return running_ == 0;
}

asio::awaitable<void> relay_harness::drive_relay(relay_impl impl, relay_options options,
                                                 std::chrono::milliseconds cancel_after) {
    using namespace asio::experimental::awaitable_operators;
    if (trim_pools) trim_local_pools();
    // The relay closes the proxy's sockets: afterwards they must be gone too.
    fds_before = open_fds(
        {client_fd_, target_fd_, proxy_client_->native_handle(), proxy_target_->native_handle()});
    options.kind = impl;
    if (cancel_after.count() == 0) {
        stats = co_await call_relay(options);
    } else {
        auto result = co_await (call_relay(options) || sleep_for(cancel_after));
        cancelled = result.index() == 1;
        if (!cancelled) stats = std::get<0>(result);
    }
    if (trim_pools) trim_local_pools();
    fds_after = open_fds({client_fd_, target_fd_});
}

asio::awaitable<relay_stats> relay_harness::call_relay(const relay_options& options) {
    co_return co_await async_relay(std::move(*proxy_client_), std::move(*proxy_target_), options,
                                   asio::use_awaitable);
}

fd_limit_guard::fd_limit_guard() {
    if (::getrlimit(RLIMIT_NOFILE, &saved_) != 0) throw std::runtime_error("getrlimit failed");
    // New fds take the lowest free number: below it every fd is taken. One
    // more is left free, for open_fds(); a pipe needs two.
    const int lowest_free = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (lowest_free < 0) throw std::runtime_error("open /dev/null failed");
    ::close(lowest_free);
    rlimit lowered = saved_;
    lowered.rlim_cur = static_cast<rlim_t>(lowest_free) + 1;
    if (::setrlimit(RLIMIT_NOFILE, &lowered) != 0) throw std::runtime_error("setrlimit failed");
}

fd_limit_guard::~fd_limit_guard() {
    ::setrlimit(RLIMIT_NOFILE, &saved_);
}

} // namespace weir::relay::test
