#include "socks/server/login_throttle.hpp"

#include <algorithm>

namespace weir::server {

login_throttle::login_throttle(options opts)
    : opts_(opts) {}

bool login_throttle::blocked(std::string_view client, clock::time_point now) {
    if (records_held_.load(std::memory_order_acquire) == 0) return false;
    std::lock_guard lock(mutex_);
    if (now >= next_sweep_) { // quiet records go, so that checks skip the lock again
        forget_quiet(now);
        next_sweep_ = now + sweep_every;
        count_records();
    }
    const auto it = records_.find(std::string(client));
    return it != records_.end() && now < it->second.blocked_until;
}

std::chrono::milliseconds login_throttle::failed(std::string_view client, clock::time_point now) {
    std::lock_guard lock(mutex_);
    auto it = records_.find(std::string(client));
    if (it == records_.end()) {
        if (records_.size() >= opts_.capacity) make_room(now);
        it = records_.emplace(std::string(client), record{}).first;
        count_records();
    }
    auto& r = it->second;
    if (now - r.last > opts_.forget_after) r.failures = 0;
    r.last = now;
    ++r.failures;
    if (r.failures >= opts_.block_after) r.blocked_until = now + opts_.block_for;
    if (r.failures <= opts_.free_failures) return std::chrono::milliseconds(0);
    const auto doublings = std::min(r.failures - opts_.free_failures - 1, 16u);
    const std::chrono::milliseconds delay = opts_.base_delay * (1LL << doublings);
    return std::min(opts_.max_delay, delay);
}

void login_throttle::succeeded(std::string_view client) {
    if (records_held_.load(std::memory_order_acquire) == 0) return;
    std::lock_guard lock(mutex_);
    if (const auto it = records_.find(std::string(client)); it != records_.end())
        if (it->second.blocked_until <= it->second.last) {
            records_.erase(it);
            count_records();
        }
}

std::size_t login_throttle::size() {
    std::lock_guard lock(mutex_);
    return records_.size();
}

// Clients quiet for forget_after, and not blocked, have nothing left to remember.
void login_throttle::forget_quiet(clock::time_point now) {
    std::erase_if(records_, [&](const auto& kv) {
        return now - kv.second.last > opts_.forget_after && now >= kv.second.blocked_until;
    });
}

// Forget quiet clients; if none are quiet, forget the one quiet the longest.
// Blocked clients are kept while another victim exists.
void login_throttle::make_room(clock::time_point now) {
    forget_quiet(now);
    if (records_.size() < opts_.capacity) return;
    const auto oldest = std::min_element(records_.begin(), records_.end(), [](auto& a, auto& b) {
        return a.second.last < b.second.last;
    });
    if (oldest != records_.end()) records_.erase(oldest);
}

} // namespace weir::server
