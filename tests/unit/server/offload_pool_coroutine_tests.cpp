#include "io/task.hpp"
#include "socks/proto/error.hpp"
#include "socks/server/offload_pool.hpp"
#include "test_support.hpp"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <system_error>
#include <thread>
#include <utility>

#include <asio/experimental/awaitable_operators.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <catch2/catch.hpp>

using namespace weir;
using namespace weir::server;
using namespace weir::server::test;
using namespace asio::experimental::awaitable_operators;

TEST_CASE("offload_pool runs jobs off the I/O thread and returns on it", "[offload]") {
    asio::io_context io;
    offload_pool pool("test", 2, 8);
    const auto io_thread = std::this_thread::get_id();
    auto result = run(io, [&]() -> io::task<std::pair<bool, bool>> {
        auto [ec, worker] = co_await pool.async_run<std::thread::id>(
            [] { return std::this_thread::get_id(); }, io::use_tuple);
        co_return std::pair{!ec && worker != io_thread, std::this_thread::get_id() == io_thread};
    }());
    CHECK(result.first);
    CHECK(result.second);
}

TEST_CASE("offload_pool: a timeout stops the wait without waiting for the job", "[offload]") {
    asio::io_context io;
    offload_pool pool("test", 1, 8);
    std::mutex m;
    std::condition_variable cv;
    bool release = false;
    auto outcome = run(io, [&]() -> io::task<int> {
        asio::steady_timer t(io, std::chrono::milliseconds(10));
        // The job blocks until the test releases it, after the wait has ended.
        auto r = co_await (pool.async_run<int>(
                               [&] {
                                   std::unique_lock lock(m);
                                   cv.wait(lock, [&] { return release; });
                                   return 7;
                               },
                               io::use_tuple) ||
                           t.async_wait(io::use_tuple));
        co_return static_cast<int>(r.index());
    }());
    CHECK(outcome == 1);
    {
        std::lock_guard lock(m);
        release = true;
    }
    cv.notify_all();
    pool.stop();
}

TEST_CASE("offload_pool: a full queue answers resolver_busy at once", "[offload]") {
    asio::io_context io;
    offload_pool pool("test", 0, 0); // no workers, no queue: every job is refused
    auto ec = run(io, [&]() -> io::task<std::error_code> {
        auto [e, v] = co_await pool.async_run<int>([] { return 1; }, io::use_tuple);
        co_return e;
    }());
    CHECK(ec == proto::errc::resolver_busy);
}
