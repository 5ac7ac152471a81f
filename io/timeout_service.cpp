#include "io/timeout_service.hpp"

#include <algorithm>

namespace weir::io {

asio::execution_context::id timeout_service::id;

timeout_service::timeout_service(asio::io_context& io)
    : asio::execution_context::service(io)
    , lists_(1)
    , sweeper_(io) {}

timeout_service& timeout_service::of(const asio::io_context::executor_type& ex) {
    return asio::use_service<timeout_service>(ex.context());
}

// A restart keeps the timer as it is when it is armed no later than needed (a
// session moving from its handshake deadline to its connect deadline): it
// then fires early at worst, and the sweep arms it for the true next expiry.
// Only the earlier expiry of a shorter timeout re-arms it at once.
void timeout_service::start(timeout_node& n, clock::duration d) {
    if (n.list_ != 0) unlink(n);
    if (d <= clock::duration::zero()) return disarm_if_idle();
    const auto list = list_for(d);
    n.since_ = clock::now();
    link(n, list);
    arm(n.since_ + d);
}

void timeout_service::touch(timeout_node& n, clock::time_point now) noexcept {
    if (n.list_ == 0) return;
    n.since_ = now;
    if (lists_[n.list_].newest == &n) return;
    const auto list = n.list_;
    unlink(n);
    link(n, list);
}

void timeout_service::cancel(timeout_node& n) noexcept {
    if (n.list_ == 0) return;
    unlink(n);
    disarm_if_idle();
}

// Nothing left to time: the timer must not keep the context running, unless
// it may linger.
void timeout_service::disarm_if_idle() noexcept {
    if (!linger_ && timing_ == 0 && armed_for_ != clock::time_point::max()) {
        armed_for_ = clock::time_point::max();
        sweeper_.cancel();
    }
}

std::uint32_t timeout_service::list_for(clock::duration d) {
    std::uint32_t list = 1;
    while (list < lists_.size() && lists_[list].timeout != d)
        ++list;
    if (list == lists_.size()) lists_.push_back({d, nullptr, nullptr});
    return list;
}

void timeout_service::link(timeout_node& n, std::uint32_t list) noexcept {
    auto& l = lists_[list];
    n.list_ = list;
    n.older_ = l.newest;
    n.newer_ = nullptr;
    (l.newest != nullptr ? l.newest->newer_ : l.oldest) = &n;
    l.newest = &n;
    ++timing_;
}

void timeout_service::unlink(timeout_node& n) noexcept {
    auto& l = lists_[n.list_];
    (n.older_ != nullptr ? n.older_->newer_ : l.oldest) = n.newer_;
    (n.newer_ != nullptr ? n.newer_->older_ : l.newest) = n.older_;
    n.older_ = n.newer_ = nullptr;
    n.list_ = 0;
    --timing_;
}

void timeout_service::arm(clock::time_point when) {
    if (when >= armed_for_) return;
    armed_for_ = when;
    ++arms_;
    sweeper_.expires_at(when);
    sweeper_.async_wait([this](const std::error_code& ec) {
        if (ec) return; // re-armed earlier, or the context is going away
        armed_for_ = clock::time_point::max();
        sweep();
    });
}

void timeout_service::expire_all() {
    const auto now = clock::now();
    for (std::size_t i = 1; i < lists_.size(); ++i) {
        // A node restarted by on_timeout() goes to the end with a later start.
        while (lists_[i].oldest != nullptr && lists_[i].oldest->since_ <= now) {
            auto& n = *lists_[i].oldest;
            unlink(n);
            n.on_timeout(); // may start, cancel or destroy nodes, this one too
        }
    }
    disarm_if_idle();
}

// Expires every node whose period has passed, then waits for the next one.
void timeout_service::sweep() {
    const auto now = clock::now();
    auto next = clock::time_point::max();
    // By index: on_timeout() may start nodes, and so add lists.
    for (std::size_t i = 1; i < lists_.size(); ++i) {
        while (lists_[i].oldest != nullptr && lists_[i].oldest->since_ + lists_[i].timeout <= now) {
            auto& n = *lists_[i].oldest;
            unlink(n);
            n.on_timeout(); // may start, cancel or destroy nodes, this one too
        }
        if (const auto* oldest = lists_[i].oldest)
            next = std::min(next, oldest->since_ + lists_[i].timeout);
    }
    if (next != clock::time_point::max()) arm(next);
}

} // namespace weir::io
