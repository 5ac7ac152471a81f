#include "socks/server/offload_pool.hpp"

#include <array>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/bind_executor.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <catch2/catch.hpp>

using namespace weir;
using namespace weir::server;
using strings = std::vector<std::string>;

namespace {

// Never needed by a working pool: it turns a hang into a failed check.
constexpr auto patience = std::chrono::seconds(60);

// A door jobs wait at until the test opens it.
class gate {
public:
    void open() {
        {
            std::lock_guard lock(m_);
            open_ = true;
        }
        cv_.notify_all();
    }
    void wait() {
        std::unique_lock lock(m_);
        cv_.wait(lock, [&] { return open_; });
    }

private:
    std::mutex m_;
    std::condition_variable cv_;
    bool open_ = false;
};

// A pool, the io_context its completions come back to (run by the test
// thread), the order workers started jobs in and the order they completed in.
// A job's result is its label; a completion is logged as the label, with
// ":aborted" or ":busy" for those errors.
class harness {
public:
    explicit harness(const offload_pool::options& opts)
        : pool("test", opts) {}
    ~harness() {
        for (auto& g : gates)
            g.open(); // a failed check must not leave a worker blocked
        pool.stop();
    }

private:
    // Returns the job's label, after logging its start and waiting at its gate.
    auto job(const std::string& label, int gate_index) {
        gate* g = gate_index < 0 ? nullptr : &gates.at(static_cast<std::size_t>(gate_index));
        return [this, label, g] {
            {
                std::lock_guard lock(m_);
                started_.push_back(label);
            }
            started_cv_.notify_all();
            if (g != nullptr) g->wait();
            return label;
        };
    }
    // Logs the completion.
    auto handler(const std::string& label) {
        return asio::bind_executor(io, [this, label](std::error_code ec, const std::string& r) {
            CHECK(std::this_thread::get_id() == test_thread_); // on the handler's executor
            if (!ec) {
                CHECK(r == label);
                done.push_back(label);
            } else if (ec == asio::error::operation_aborted)
                done.push_back(label + ":aborted");
            else if (ec == proto::errc::resolver_busy)
                done.push_back(label + ":busy");
            else
                done.push_back(label + ":" + ec.message());
        });
    }

public:
    // Queues job `label` for `key`; it waits at gates[gate_index] when that is >= 0.
    void run(const std::string& key, job_class cls, const std::string& label, int gate_index = -1,
             asio::cancellation_slot slot = {}) {
        pool.async_run<std::string>(key, cls, job(label, gate_index),
                                    asio::bind_cancellation_slot(slot, handler(label)));
    }
    // The same through the key-less overload.
    void run_keyless(const std::string& label, int gate_index = -1) {
        pool.async_run<std::string>(job(label, gate_index), handler(label));
    }

    // Waits until workers have started `n` jobs.
    void wait_started(std::size_t n) {
        std::unique_lock lock(m_);
        REQUIRE(started_cv_.wait_for(lock, patience, [&] { return started_.size() >= n; }));
    }
    strings started() {
        std::lock_guard lock(m_);
        return started_;
    }
    // Runs completions until `n` have arrived in all.
    void wait_done(std::size_t n) {
        while (done.size() < n)
            REQUIRE(io.run_one_for(patience) == 1);
    }

    asio::io_context io;
    asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
    std::array<gate, 2> gates;
    strings done;
    offload_pool pool;

private:
    std::mutex m_;
    std::condition_variable started_cv_;
    strings started_;
    std::thread::id test_thread_ = std::this_thread::get_id();
};

// One worker, no per-key running bound: the order of jobs is the queue's alone.
offload_pool::options one_thread(std::size_t per_key_queued = 16) {
    return {1, 64, per_key_queued, 0};
}

void check_empty(const offload_pool& pool) {
    CHECK(pool.queued() == 0);
    CHECK(pool.running() == 0);
    CHECK(pool.keys() == 0);
}

} // namespace

TEST_CASE("offload_pool: a key with one job waits one turn, not behind another's five",
          "[offload][fair]") {
    harness h(one_thread());
    h.run("X", job_class::normal, "x1", 0); // holds the only worker while the others queue
    h.wait_started(1);
    for (const auto* label : {"a1", "a2", "a3", "a4", "a5"})
        h.run("A", job_class::normal, label);
    h.run("B", job_class::normal, "b1");
    CHECK(h.pool.queued() == 6);
    CHECK(h.pool.keys() == 3);
    h.gates[0].open();
    h.wait_done(7);
    const strings expected{"x1", "a1", "b1", "a2", "a3", "a4", "a5"};
    CHECK(h.started() == expected);
    CHECK(h.done == expected);
    check_empty(h.pool);
}

TEST_CASE("offload_pool: keys take turns, each key's jobs in the order they came",
          "[offload][fair]") {
    harness h(one_thread());
    h.run("X", job_class::normal, "x1", 0);
    h.wait_started(1);
    for (const auto* label : {"a1", "a2", "a3"})
        h.run("A", job_class::normal, label);
    for (const auto* label : {"b1", "b2"})
        h.run("B", job_class::normal, label);
    h.run("C", job_class::normal, "c1");
    h.gates[0].open();
    h.wait_done(7);
    const strings expected{"x1", "a1", "b1", "c1", "a2", "b2", "a3"};
    CHECK(h.started() == expected);
    CHECK(h.done == expected);
    check_empty(h.pool);
}

TEST_CASE("offload_pool: a key that had nothing waiting goes ahead of keys already served",
          "[offload][fair]") {
    harness h(one_thread());
    h.run("X", job_class::normal, "x1", 0);
    h.wait_started(1);
    h.run("A", job_class::normal, "a1", 1);
    h.run("A", job_class::normal, "a2");
    h.run("B", job_class::normal, "b1");
    h.run("B", job_class::normal, "b2");
    h.gates[0].open();
    h.wait_started(2); // a1 runs: A has had its turn, B has not
    h.run("C", job_class::normal, "c1");
    h.gates[1].open();
    h.wait_done(6);
    CHECK(h.started() == strings{"x1", "a1", "b1", "c1", "a2", "b2"});
    check_empty(h.pool);
}

TEST_CASE("offload_pool: first jobs run before normal ones queued earlier", "[offload][fair]") {
    harness h(one_thread());
    h.run("X", job_class::normal, "x1", 0);
    h.wait_started(1);
    h.run("A", job_class::normal, "a1");
    h.run("A", job_class::normal, "a2");
    h.run("B", job_class::normal, "b1");
    h.run("C", job_class::first, "c1");
    h.run("A", job_class::first, "a3"); // A's first job passes A's normal ones too
    h.gates[0].open();
    h.wait_done(6);
    const strings expected{"x1", "c1", "a3", "a1", "b1", "a2"};
    CHECK(h.started() == expected);
    CHECK(h.done == expected);
    check_empty(h.pool);
}

TEST_CASE("offload_pool: a pool says busy with its own error", "[offload][bounds]") {
    auto opts = one_thread(1);
    opts.busy = proto::errc::verifier_busy;
    harness h(opts);
    h.run("X", job_class::normal, "x1", 0);
    h.wait_started(1);
    h.run("A", job_class::normal, "a1");
    h.run("A", job_class::normal, "a2"); // over A's bound
    h.wait_done(1);
    CHECK(h.done == strings{"a2:password checks busy"});
    h.gates[0].open();
    h.wait_done(3);
    check_empty(h.pool);
}

TEST_CASE("offload_pool: a key over its queue bound gets resolver_busy, others do not",
          "[offload][bounds]") {
    harness h(one_thread(2));
    h.run("X", job_class::normal, "x1", 0);
    h.wait_started(1);
    h.run("A", job_class::normal, "a1");
    h.run("A", job_class::first, "a2");
    h.run("A", job_class::normal, "a3"); // third waiting job of A, whatever the class
    h.run("X", job_class::normal, "x2"); // x1 runs: it does not count
    h.run("X", job_class::normal, "x3");
    h.run("X", job_class::normal, "x4");
    h.run("B", job_class::normal, "b1");
    h.wait_done(2); // at once, while the worker is still held
    CHECK(h.done == strings{"a3:busy", "x4:busy"});
    CHECK(h.started() == strings{"x1"});
    CHECK(h.pool.queued() == 5);
    h.gates[0].open();
    h.wait_done(8);
    CHECK(h.started() == strings{"x1", "a2", "a1", "x2", "b1", "x3"});
    check_empty(h.pool);
}

TEST_CASE("offload_pool: the total queue bound holds across keys", "[offload][bounds]") {
    harness h({1, 3, 16, 0});
    h.run("X", job_class::normal, "x1", 0);
    h.wait_started(1);
    h.run("A", job_class::normal, "a1");
    h.run("B", job_class::normal, "b1");
    h.run("C", job_class::first, "c1");
    h.run("D", job_class::first, "d1");
    h.run("A", job_class::normal, "a2");
    h.wait_done(2);
    CHECK(h.done == strings{"d1:busy", "a2:busy"});
    h.gates[0].open();
    h.wait_done(6);
    CHECK(h.started() == strings{"x1", "c1", "a1", "b1"});
    check_empty(h.pool);
}

TEST_CASE("offload_pool: a full queue makes room at the expense of the key holding the most",
          "[offload][bounds]") {
    harness h({1, 3, 16, 0});
    h.run("X", job_class::normal, "x1", 0);
    h.wait_started(1);
    h.run("A", job_class::normal, "a1");
    h.run("A", job_class::first, "a2");
    h.run("A", job_class::first, "a3");  // the queue is full, all of it A's
    h.run("B", job_class::normal, "b1"); // takes the place of A's newest normal job: a1
    h.wait_done(1);
    CHECK(h.done == strings{"a1:busy"});
    h.run("B", job_class::normal, "b2"); // B would hold as many as A: no room made
    h.run("A", job_class::normal, "a4"); // A is the biggest holder itself
    h.run("C", job_class::normal, "c1"); // A holds 2, C none: A's newest goes, a3
    h.wait_done(4);
    CHECK(h.done == strings{"a1:busy", "b2:busy", "a4:busy", "a3:busy"});
    h.gates[0].open();
    h.wait_done(8);
    CHECK(h.started() == strings{"x1", "a2", "b1", "c1"});
    check_empty(h.pool);
}

TEST_CASE("offload_pool: a key at its running bound does not stop the others",
          "[offload][bounds]") {
    harness h({2, 64, 16, 1});
    h.run("A", job_class::normal, "a1", 0); // never finishes while the test looks
    h.wait_started(1);
    h.run("A", job_class::normal, "a2"); // an idle worker is free, but A is at its bound
    h.run("B", job_class::normal, "b1");
    h.wait_done(1);
    CHECK(h.done == strings{"b1"});
    CHECK(h.started() == strings{"a1", "b1"});
    CHECK(h.pool.running() == 1);
    CHECK(h.pool.queued() == 1);
    h.gates[0].open();
    h.wait_done(3);
    CHECK(h.started() == strings{"a1", "b1", "a2"}); // a2 only once a1 was over
    CHECK(h.done.front() == "b1");
    check_empty(h.pool);
}

TEST_CASE("offload_pool: per_key_running 0 lets one key use every worker", "[offload][bounds]") {
    harness h({2, 64, 16, 0});
    h.run("A", job_class::normal, "a1", 0);
    h.wait_started(1);
    h.run("A", job_class::normal, "a2");
    h.wait_done(1);
    CHECK(h.done == strings{"a2"});
    h.gates[0].open();
    h.wait_done(2);
    check_empty(h.pool);
}

TEST_CASE("offload_pool: the key-less overload has no per-key bounds", "[offload][bounds]") {
    harness h({2, 64, 1, 1});
    h.run_keyless("j1", 0);
    h.wait_started(1);
    h.run_keyless("j2", 1); // runs beside j1: no running bound
    h.wait_started(2);
    h.run_keyless("j3"); // j3 and j4 wait together: no queue bound
    h.run_keyless("j4");
    CHECK(h.pool.queued() == 2);
    h.gates[0].open(); // j1's worker runs j3 and j4 while j2 still holds the other
    h.wait_done(3);
    CHECK(h.done == strings{"j1", "j3", "j4"});
    h.gates[1].open();
    h.wait_done(4);
    CHECK(h.started() == strings{"j1", "j2", "j3", "j4"});
    CHECK(h.done.back() == "j2");
    check_empty(h.pool);
}

TEST_CASE("offload_pool: drop aborts the key's waiting jobs, not its running one or others",
          "[offload][drop]") {
    harness h(one_thread());
    h.run("A", job_class::normal, "a1", 0);
    h.wait_started(1);
    h.run("A", job_class::normal, "a2");
    h.run("B", job_class::normal, "b1");
    h.run("A", job_class::first, "a3");
    h.run("A", job_class::normal, "a4");
    h.pool.drop("A");
    h.pool.drop("nobody");
    CHECK(h.pool.queued() == 1);
    CHECK(h.pool.keys() == 2); // A still runs a1
    h.wait_done(3);            // in the order they would have run
    CHECK(h.done == strings{"a3:aborted", "a2:aborted", "a4:aborted"});
    h.gates[0].open();
    h.wait_done(5);
    CHECK(h.done == strings{"a3:aborted", "a2:aborted", "a4:aborted", "a1", "b1"});
    CHECK(h.started() == strings{"a1", "b1"});
    check_empty(h.pool);
}

TEST_CASE("offload_pool: a cancelled job completes at once and never runs", "[offload][cancel]") {
    harness h(one_thread());
    asio::cancellation_signal cancel;
    h.run("X", job_class::normal, "x1", 0);
    h.wait_started(1);
    h.run("A", job_class::normal, "a1", -1, cancel.slot());
    h.run("A", job_class::normal, "a2");
    cancel.emit(asio::cancellation_type::terminal);
    h.wait_done(1); // while the worker is still held
    CHECK(h.done == strings{"a1:aborted"});
    h.gates[0].open();
    h.wait_done(3);
    CHECK(h.done == strings{"a1:aborted", "x1", "a2"});
    CHECK(h.started() == strings{"x1", "a2"});
    check_empty(h.pool);
}

TEST_CASE("offload_pool: a cancelled job does not count toward its key's bound",
          "[offload][cancel]") {
    harness h(one_thread(1));
    asio::cancellation_signal cancel;
    h.run("X", job_class::normal, "x1", 0);
    h.wait_started(1);
    h.run("A", job_class::normal, "a1", -1, cancel.slot());
    h.run("A", job_class::normal, "a2");
    h.wait_done(1);
    CHECK(h.done == strings{"a2:busy"});
    cancel.emit(asio::cancellation_type::terminal);
    h.run("A", job_class::normal, "a3");
    CHECK(h.pool.queued() == 1);
    h.gates[0].open();
    h.wait_done(4);
    CHECK(h.done == strings{"a2:busy", "a1:aborted", "x1", "a3"});
    CHECK(h.started() == strings{"x1", "a3"});
    check_empty(h.pool);
}

TEST_CASE("offload_pool: the three-argument constructor takes the default per-key bounds",
          "[offload][bounds]") {
    const auto resolver = offload_pool::default_options(8, 4096);
    CHECK(resolver.threads == 8);
    CHECK(resolver.max_queued == 4096);
    CHECK(resolver.per_key_queued == 16);
    CHECK(resolver.per_key_running == 2);
    CHECK(offload_pool::default_options(2, 1024).per_key_running == 1);
    CHECK(offload_pool::default_options(0, 0).per_key_running == 1);
    offload_pool pool("test", 1, 8);
    check_empty(pool);
}
