#pragma once

#include "socks/proto/error.hpp"

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include <asio/associated_cancellation_slot.hpp>
#include <asio/associated_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/error.hpp>
#include <asio/post.hpp>

namespace weir::server {

/// Which queue a job waits in: every `first` job is taken before any `normal` one.
/// The server gives `first` to clients with no failed login on record.
enum class job_class { first, normal };

/// A small, bounded pool of threads for blocking work that must never run on
/// an I/O thread (getaddrinfo, Argon2id). async_run() hands a job to the pool
/// and completes on the caller's executor; it supports per-operation
/// cancellation (the caller stops waiting, the job's result is dropped), so
/// a timeout never has to wait for a slow job to finish.
///
/// Jobs wait per client key and are served fairly: `first` jobs before
/// `normal` ones; within a class the keys take turns (one job each, a key
/// that had nothing waiting goes ahead of keys already served), and the jobs
/// of one key run in the order they came. One client can neither fill the
/// queue nor hold every thread.
class offload_pool {
public:
    /// The pool's bounds. The empty key (the key-less async_run) has no per-key bounds.
    struct options {
        /// Worker threads.
        std::size_t threads = 8;
        /// Jobs waiting, all keys together. When they are all taken, a newcomer takes
        /// the newest waiting job's place of the key with the most waiting (that job
        /// completes with resolver_busy), if that key would still have more than the
        /// newcomer's; else the newcomer completes at once with resolver_busy.
        std::size_t max_queued = 4096;
        /// Jobs waiting for one key (running ones not counted); one more completes at
        /// once with resolver_busy. Jobs whose waiter left do not count.
        std::size_t per_key_queued = 16;
        /// Jobs of one key running at once (0 = no limit): workers pass over a key that
        /// has that many running, so a key whose jobs never finish holds at most this
        /// many threads while the other keys keep being served.
        std::size_t per_key_running = 2;
        /// What a job gets when there is no room for it (`resolver_busy` above).
        proto::errc busy = proto::errc::resolver_busy;
    };

    /// Bounds for `threads` workers and `max_queued` waiting jobs, with the default
    /// per-key bounds: 16 waiting, max(1, threads / 4) running.
    static options default_options(std::size_t threads, std::size_t max_queued);

    /// A pool with the given bounds; its threads are named `name` (15 characters kept).
    offload_pool(std::string name, const options& opts);
    /// A pool with default_options(threads, max_queued).
    offload_pool(std::string name, std::size_t threads, std::size_t max_queued);
    ~offload_pool();
    offload_pool(const offload_pool&) = delete;
    offload_pool& operator=(const offload_pool&) = delete;

    /// Runs `job` (returning R) on a worker, queued under client `key` in class `cls`;
    /// completes with (error_code, R) on the handler's executor.
    /// Errors: operation_aborted when cancelled or dropped, errc::resolver_busy when
    /// the pool's or the key's queue is full.
    template <typename R, typename Job, typename Token>
    auto async_run(std::string_view key, job_class cls, Job job, Token&& token) {
        return asio::async_initiate<Token, void(std::error_code, R)>(
            [this](auto handler, const std::string& k, job_class c, Job j) {
                start<R>(std::move(handler), k, c, std::move(j));
            },
            token, std::string(key), cls, std::move(job));
    }

    /// The same under the empty key, class normal, without per-key bounds: for work
    /// that no client asked for.
    template <typename R, typename Job, typename Token>
    auto async_run(Job job, Token&& token) {
        return async_run<R>(std::string_view{}, job_class::normal, std::move(job),
                            std::forward<Token>(token));
    }

    /// Completes every waiting (not yet running) job of `key` with operation_aborted,
    /// in the order they would have run, and forgets them. Running jobs finish as usual.
    void drop(std::string_view key);

    /// Jobs waiting (including those whose waiter left and that no worker took yet).
    std::size_t queued() const;
    /// Jobs a worker is running.
    std::size_t running() const;
    /// Keys with a job waiting or running.
    std::size_t keys() const;

    /// Stops accepting jobs and joins the workers (also done by the destructor).
    /// Jobs still waiting are destroyed without completing.
    void stop();

private:
    // A queued operation, as the pool sees it.
    struct job_base {
        job_base() = default;
        job_base(const job_base&) = delete;
        job_base& operator=(const job_base&) = delete;
        virtual ~job_base() = default;
        virtual void run() = 0;                     // on a worker, unless abandoned
        virtual void deliver() = 0;                 // posts run()'s result, if any
        virtual void abort(std::error_code ec) = 0; // completes with `ec` instead
        bool abandoned() const { return done.load(); }
        std::atomic<bool> done{false}; // completed (or cancelled): nobody waits any more
    };

    template <typename R, typename Handler, typename Job>
    struct op_state final : job_base, std::enable_shared_from_this<op_state<R, Handler, Job>> {
        op_state(Handler h, Job j)
            : handler(std::move(h))
            , job(std::move(j)) {}
        Handler handler;
        Job job;
        std::optional<R> result; // touched by the worker only

        void run() override {
            if (!abandoned()) result.emplace(job());
        }
        void deliver() override {
            if (result) complete({}, std::move(*result));
        }
        void abort(std::error_code ec) override { complete(ec, R{}); }

        // Delivers the result on the handler's executor, at most once.
        void complete(std::error_code ec, R r) {
            if (done.exchange(true)) return;
            auto ex = asio::get_associated_executor(handler);
            asio::post(ex, [self = this->shared_from_this(), ec, r = std::move(r)]() mutable {
                asio::get_associated_cancellation_slot(self->handler).clear();
                std::move(self->handler)(ec, std::move(r));
            });
        }
    };

    template <typename R, typename Handler, typename Job>
    void start(Handler handler, std::string_view key, job_class cls, Job job) {
        auto op = std::make_shared<op_state<R, Handler, Job>>(std::move(handler), std::move(job));
        auto slot = asio::get_associated_cancellation_slot(op->handler);
        if (slot.is_connected()) {
            slot.assign([weak = std::weak_ptr(op)](asio::cancellation_type) {
                if (auto s = weak.lock()) s->abort(asio::error::operation_aborted);
            });
        }
        if (!submit(key, cls, op)) op->abort(opts_.busy);
    }

    static constexpr std::size_t class_count = 2;
    using job_list = std::list<std::shared_ptr<job_base>>;

    // What waits and runs for one client key; erased when nothing does.
    struct key_state {
        const std::string* name = nullptr;         // the map's key
        std::array<job_list, class_count> waiting; // by job_class, oldest first
        std::size_t running = 0;
    };

    // The keys with a job waiting in one class, in the order they get their turn:
    // the first `unserved` joined since their last turn, then the others by last turn.
    struct turn_order {
        std::deque<key_state*> keys;
        std::size_t unserved = 0;
    };

    bool submit(std::string_view key, job_class cls, std::shared_ptr<job_base> job);
    static std::size_t waiting(const key_state& ks);
    std::shared_ptr<job_base> shed_for(std::size_t mine);
    bool key_full(key_state& ks);
    void purge_abandoned(key_state& ks);
    void enqueue(key_state& ks, std::size_t cls, std::shared_ptr<job_base> job);
    void leave_turns(key_state& ks, std::size_t cls);
    std::shared_ptr<job_base> take_next(key_state*& owner);
    bool may_run(const key_state& ks) const;
    void forget_if_idle(key_state& ks);
    void work();

    std::string name_;
    options opts_;
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::map<std::string, key_state, std::less<>> keys_;
    std::array<turn_order, class_count> turns_;
    std::size_t queued_ = 0;
    std::size_t running_ = 0;
    bool stopping_ = false;
    std::vector<std::thread> threads_;
};

} // namespace weir::server
