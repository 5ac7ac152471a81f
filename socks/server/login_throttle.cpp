#include "socks/server/login_throttle.hpp"

#include <algorithm>
#include <tuple>

namespace weir::server {
namespace {

std::size_t hash_name(std::string_view user) {
    return std::hash<std::string_view>{}(user);
}

} // namespace

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
    const auto it = records_.find(client);
    return it != records_.end() && now < it->second.blocked_until;
}

login_throttle::penalty login_throttle::failed(std::string_view client, std::string_view user,
                                               clock::time_point now) {
    const auto name_hash = hash_name(user);
    std::lock_guard lock(mutex_);
    auto it = records_.find(client);
    if (it == records_.end()) {
        if (records_.size() >= opts_.capacity) make_room(now);
        it = records_.emplace(std::string(client), record{}).first;
        count_records();
    }
    auto& r = it->second;
    if (now - r.last > opts_.forget_after) {
        r.failures = 0;
        r.names = {};
    }
    r.last = now;
    ++r.failures;
    count_name(r, name_hash);
    if (r.failures >= opts_.block_after) r.blocked_until = now + opts_.block_for;
    return {delay_for(r.failures), now < r.blocked_until};
}

void login_throttle::succeeded(std::string_view client, std::string_view user) {
    if (records_held_.load(std::memory_order_acquire) == 0) return;
    const auto name_hash = hash_name(user);
    std::lock_guard lock(mutex_);
    const auto it = records_.find(client);
    if (it == records_.end()) return;
    auto& r = it->second;
    if (r.blocked_until > r.last) return; // a block runs its course
    for (auto& n : r.names) {
        if (n.count == 0 || n.name_hash != name_hash) continue;
        r.failures -= std::min(n.count, r.failures);
        n = name_failures{};
    }
    if (r.failures == 0) {
        records_.erase(it);
        count_records();
    }
}

bool login_throttle::has_failures(std::string_view client) {
    if (records_held_.load(std::memory_order_acquire) == 0) return false;
    std::lock_guard lock(mutex_);
    const auto it = records_.find(client);
    return it != records_.end() && it->second.failures > 0;
}

std::size_t login_throttle::size() {
    std::lock_guard lock(mutex_);
    return records_.size();
}

// A failure under a name already on record, or in a free slot; with every slot
// taken by other names it counts only in the total, where no success reaches it.
void login_throttle::count_name(record& r, std::size_t name_hash) {
    name_failures* free_slot = nullptr;
    for (auto& n : r.names) {
        if (n.count > 0 && n.name_hash == name_hash) {
            ++n.count;
            return;
        }
        if (n.count == 0 && free_slot == nullptr) free_slot = &n;
    }
    if (free_slot != nullptr) *free_slot = name_failures{name_hash, 1};
}

std::chrono::milliseconds login_throttle::delay_for(unsigned failures) const {
    if (failures <= opts_.free_failures) return std::chrono::milliseconds(0);
    const auto doublings = std::min(failures - opts_.free_failures - 1, 16u);
    const std::chrono::milliseconds delay = opts_.base_delay * (1LL << doublings);
    return std::min(opts_.max_delay, delay);
}

// Clients quiet for forget_after, and not blocked, have nothing left to remember.
void login_throttle::forget_quiet(clock::time_point now) {
    std::erase_if(records_, [&](const auto& kv) {
        return now - kv.second.last > opts_.forget_after && now >= kv.second.blocked_until;
    });
}

// Forget quiet clients; if none are quiet, forget the client quiet the longest
// among those not blocked. A blocked client goes only when every one is blocked.
void login_throttle::make_room(clock::time_point now) {
    forget_quiet(now);
    if (records_.size() < opts_.capacity) return;
    const auto rank = [now](const auto& kv) {
        return std::tuple(now < kv.second.blocked_until, kv.second.last);
    };
    const auto victim = std::min_element(records_.begin(), records_.end(),
                                         [&](auto& a, auto& b) { return rank(a) < rank(b); });
    if (victim != records_.end()) records_.erase(victim);
}

} // namespace weir::server
