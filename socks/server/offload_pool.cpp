#include "socks/server/offload_pool.hpp"

#include <algorithm>
#include <cstddef>
#include <pthread.h>

namespace weir::server {

offload_pool::options offload_pool::default_options(std::size_t threads, std::size_t max_queued) {
    return {threads, max_queued, 16, std::max<std::size_t>(1, threads / 4),
            proto::errc::resolver_busy};
}

offload_pool::offload_pool(std::string name, const options& opts)
    : name_(std::move(name))
    , opts_(opts) {
    threads_.reserve(opts_.threads);
    for (std::size_t i = 0; i < opts_.threads; ++i) {
        threads_.emplace_back([this] { work(); });
        pthread_setname_np(threads_.back().native_handle(), name_.substr(0, 15).c_str());
    }
}

offload_pool::offload_pool(std::string name, std::size_t threads, std::size_t max_queued)
    : offload_pool(std::move(name), default_options(threads, max_queued)) {}

offload_pool::~offload_pool() {
    stop();
}

void offload_pool::stop() {
    {
        std::lock_guard lock(mutex_);
        if (stopping_) return;
        stopping_ = true;
    }
    wake_.notify_all();
    for (auto& t : threads_)
        t.join();
    decltype(keys_) left; // destroyed outside the lock
    {
        std::lock_guard lock(mutex_);
        turns_ = {};
        left.swap(keys_);
        queued_ = 0;
    }
}

std::size_t offload_pool::queued() const {
    std::lock_guard lock(mutex_);
    return queued_;
}

std::size_t offload_pool::running() const {
    std::lock_guard lock(mutex_);
    return running_;
}

std::size_t offload_pool::keys() const {
    std::lock_guard lock(mutex_);
    return keys_.size();
}

bool offload_pool::submit(std::string_view key, job_class cls, std::shared_ptr<job_base> job) {
    std::shared_ptr<job_base> shed;
    {
        std::lock_guard lock(mutex_);
        if (stopping_) return false;
        auto it = keys_.find(key);
        if (it == keys_.end() && !key.empty() && opts_.per_key_queued == 0) return false;
        if (it != keys_.end() && key_full(it->second)) return false;
        if (queued_ >= opts_.max_queued) {
            shed = shed_for(it == keys_.end() ? 0 : waiting(it->second));
            if (!shed) return false;
        }
        if (it == keys_.end()) {
            it = keys_.try_emplace(std::string(key)).first;
            it->second.name = &it->first;
        }
        enqueue(it->second, static_cast<std::size_t>(cls), std::move(job));
    }
    if (shed) shed->abort(opts_.busy);
    wake_.notify_one();
    return true;
}

std::size_t offload_pool::waiting(const key_state& ks) {
    return ks.waiting[0].size() + ks.waiting[1].size();
}

// The queue is full and a key with `mine` jobs waiting wants another place:
// take the newest waiting job of the key with the most waiting, if that key
// would still have more than the newcomer's. The newest: the key's older jobs
// are nearer their turn. O(keys), only when the queue is full.
std::shared_ptr<offload_pool::job_base> offload_pool::shed_for(std::size_t mine) {
    key_state* most = nullptr;
    for (auto& [name, ks] : keys_)
        if (most == nullptr || waiting(ks) > waiting(*most)) most = &ks;
    if (most == nullptr || waiting(*most) <= mine + 1) return nullptr;
    const std::size_t c = most->waiting[1].empty() ? 0 : 1; // a normal job before a first one
    auto victim = std::move(most->waiting[c].back());
    most->waiting[c].pop_back();
    --queued_;
    if (most->waiting[c].empty()) leave_turns(*most, c);
    forget_if_idle(*most);
    return victim;
}

// Whether `ks` may queue no more; jobs whose waiter left make room first.
bool offload_pool::key_full(key_state& ks) {
    if (ks.name->empty()) return false;
    const auto count = [&] { return ks.waiting[0].size() + ks.waiting[1].size(); };
    if (count() < opts_.per_key_queued) return false;
    purge_abandoned(ks);
    return count() >= opts_.per_key_queued;
}

void offload_pool::purge_abandoned(key_state& ks) {
    for (std::size_t c = 0; c < class_count; ++c) {
        queued_ -= ks.waiting[c].remove_if([](const auto& j) { return j->abandoned(); });
        if (ks.waiting[c].empty()) leave_turns(ks, c);
    }
}

// A key that had nothing waiting in the class joins the turns after the other
// newcomers, ahead of the keys already served.
void offload_pool::enqueue(key_state& ks, std::size_t cls, std::shared_ptr<job_base> job) {
    auto& t = turns_[cls];
    if (ks.waiting[cls].empty()) {
        t.keys.insert(t.keys.begin() + static_cast<std::ptrdiff_t>(t.unserved), &ks);
        ++t.unserved;
    }
    ks.waiting[cls].push_back(std::move(job));
    ++queued_;
}

void offload_pool::leave_turns(key_state& ks, std::size_t cls) {
    auto& t = turns_[cls];
    const auto it = std::find(t.keys.begin(), t.keys.end(), &ks);
    if (it == t.keys.end()) return;
    if (static_cast<std::size_t>(it - t.keys.begin()) < t.unserved) --t.unserved;
    t.keys.erase(it);
}

bool offload_pool::may_run(const key_state& ks) const {
    return opts_.per_key_running == 0 || ks.name->empty() || ks.running < opts_.per_key_running;
}

// Under the lock: the next job to run and its key (`owner`), or nullptr when
// nothing waits or every key waiting is at its running bound. A key served
// goes to the back of its class's turns.
std::shared_ptr<offload_pool::job_base> offload_pool::take_next(key_state*& owner) {
    for (std::size_t c = 0; c < class_count; ++c) {
        auto& t = turns_[c];
        for (std::size_t i = 0; i < t.keys.size(); ++i) {
            key_state* ks = t.keys[i];
            if (!may_run(*ks)) continue;
            t.keys.erase(t.keys.begin() + static_cast<std::ptrdiff_t>(i));
            if (i < t.unserved) --t.unserved;
            auto job = std::move(ks->waiting[c].front());
            ks->waiting[c].pop_front();
            if (!ks->waiting[c].empty()) t.keys.push_back(ks);
            --queued_;
            ++ks->running;
            ++running_;
            owner = ks;
            return job;
        }
    }
    return nullptr;
}

void offload_pool::forget_if_idle(key_state& ks) {
    if (ks.running == 0 && ks.waiting[0].empty() && ks.waiting[1].empty())
        keys_.erase(keys_.find(*ks.name));
}

void offload_pool::drop(std::string_view key) {
    job_list dropped;
    {
        std::lock_guard lock(mutex_);
        const auto it = keys_.find(key);
        if (it == keys_.end()) return;
        auto& ks = it->second;
        for (std::size_t c = 0; c < class_count; ++c) {
            queued_ -= ks.waiting[c].size();
            dropped.splice(dropped.end(), ks.waiting[c]);
            leave_turns(ks, c);
        }
        forget_if_idle(ks);
    }
    for (const auto& job : dropped)
        job->abort(asio::error::operation_aborted);
}

void offload_pool::work() {
    for (;;) {
        key_state* owner = nullptr;
        std::shared_ptr<job_base> job;
        {
            std::unique_lock lock(mutex_);
            wake_.wait(lock, [&] { return stopping_ || (job = take_next(owner)) != nullptr; });
            if (stopping_) return;
        }
        job->run();
        {
            // Settled before the waiter hears of it: the counters never lag behind.
            std::lock_guard lock(mutex_);
            --owner->running;
            --running_;
            forget_if_idle(*owner);
        }
        job->deliver();
    }
}

} // namespace weir::server
