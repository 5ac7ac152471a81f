#pragma once

#include "socks/proto/error.hpp"

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <asio/associated_cancellation_slot.hpp>
#include <asio/associated_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/error.hpp>
#include <asio/post.hpp>

namespace weir::server {

/// A small, bounded pool of threads for blocking work that must never run on
/// an I/O thread (getaddrinfo, Argon2id). async_run() hands a job to the pool
/// and completes on the caller's executor; it supports per-operation
/// cancellation (the caller stops waiting, the job's result is dropped), so
/// a timeout never has to wait for a slow job to finish.
class offload_pool {
public:
    /// `threads` workers; at most `max_queued` jobs wait, more complete with resolver_busy.
    offload_pool(std::string name, std::size_t threads, std::size_t max_queued);
    ~offload_pool();
    offload_pool(const offload_pool&) = delete;
    offload_pool& operator=(const offload_pool&) = delete;

    /// Runs `job` (returning R) on a worker; completes with (error_code, R).
    /// Errors: operation_aborted when cancelled, errc::resolver_busy when the queue is full.
    template <typename R, typename Job, typename Token>
    auto async_run(Job job, Token&& token) {
        return asio::async_initiate<Token, void(std::error_code, R)>(
            [this](auto handler, Job j) { start<R>(std::move(handler), std::move(j)); }, token,
            std::move(job));
    }

    /// Stops accepting jobs and joins the workers (also done by the destructor).
    void stop();

private:
    template <typename R, typename Handler>
    struct op_state {
        explicit op_state(Handler h)
            : handler(std::move(h)) {}
        Handler handler;
        std::atomic<bool> done{false};

        // Delivers the result on the handler's executor, at most once.
        void complete(std::shared_ptr<op_state> self, std::error_code ec, R result) {
            if (done.exchange(true)) return;
            auto ex = asio::get_associated_executor(handler);
            asio::post(ex, [self = std::move(self), ec, r = std::move(result)]() mutable {
                asio::get_associated_cancellation_slot(self->handler).clear();
                std::move(self->handler)(ec, std::move(r));
            });
        }
    };

    template <typename R, typename Handler, typename Job>
    void start(Handler handler, Job job) {
        auto state = std::make_shared<op_state<R, Handler>>(std::move(handler));
        auto slot = asio::get_associated_cancellation_slot(state->handler);
        if (slot.is_connected()) {
            slot.assign([weak = std::weak_ptr(state)](asio::cancellation_type) {
                if (auto s = weak.lock()) s->complete(s, asio::error::operation_aborted, R{});
            });
        }
        const bool queued = submit([state, j = std::move(job)]() mutable {
            if (state->done.load()) return; // nobody waits any more: skip the work
            R result = j();
            state->complete(state, {}, std::move(result));
        });
        if (!queued) state->complete(state, proto::errc::resolver_busy, R{});
    }

    bool submit(std::function<void()> job);
    void work();

    std::string name_;
    std::size_t max_queued_;
    std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<std::function<void()>> queue_;
    bool stopping_ = false;
    std::vector<std::thread> threads_;
};

} // namespace weir::server
