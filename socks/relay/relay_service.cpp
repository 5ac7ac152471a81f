#include "socks/relay/relay_service.hpp"

#include <algorithm>

namespace weir::relay::detail {

asio::execution_context::id relay_service::id;

relay_service::relay_service(asio::io_context& io)
    : asio::execution_context::service(io)
    , lists_(1)
    , sweeper_(io) {}

relay_service& relay_service::of(const asio::io_context::executor_type& ex) {
    return asio::use_service<relay_service>(ex.context());
}

void relay_service::add(relay_engine& r) {
    const auto timeout = std::max(r.options().idle_timeout, clock::duration::zero());
    std::uint32_t list = 0;
    if (timeout > clock::duration::zero()) {
        while (++list < lists_.size() && lists_[list].timeout != timeout) {
        }
        if (list == lists_.size()) lists_.push_back({timeout, nullptr, nullptr});
    }
    link(r, list);
    ++count_;
    if (list != 0) arm(r.last_activity() + timeout);
}

void relay_service::touch(relay_engine& r) noexcept {
    if (r.list_ == 0 || lists_[r.list_].newest == &r) return;
    const auto list = r.list_;
    unlink(r);
    link(r, list);
}

void relay_service::retire(relay_engine& r) noexcept {
    if (r.list_ == 0) return;
    unlink(r);
    link(r, 0);
}

void relay_service::remove(relay_engine& r) noexcept {
    unlink(r);
    --count_;
}

void relay_service::link(relay_engine& r, std::uint32_t list) noexcept {
    auto& l = lists_[list];
    r.list_ = list;
    r.older_ = l.newest;
    r.newer_ = nullptr;
    (l.newest != nullptr ? l.newest->newer_ : l.oldest) = &r;
    l.newest = &r;
}

void relay_service::unlink(relay_engine& r) noexcept {
    auto& l = lists_[r.list_];
    (r.older_ != nullptr ? r.older_->newer_ : l.oldest) = r.newer_;
    (r.newer_ != nullptr ? r.newer_->older_ : l.newest) = r.older_;
    r.older_ = r.newer_ = nullptr;
}

void relay_service::arm(clock::time_point when) {
    if (when >= armed_for_) return;
    armed_for_ = when;
    sweeper_.expires_at(when);
    sweeper_.async_wait([this](const std::error_code& ec) {
        if (ec) return; // re-armed earlier, or the context is going away
        armed_for_ = clock::time_point::max();
        sweep();
    });
}

// Expires every relay idle for its whole timeout, then waits for the next one.
void relay_service::sweep() {
    const auto now = clock::now();
    auto next = clock::time_point::max();
    for (std::size_t i = 1; i < lists_.size(); ++i) {
        auto& l = lists_[i];
        while (l.oldest != nullptr && l.oldest->last_activity() + l.timeout <= now)
            l.oldest->expire(); // retires it: the list's head moves on
        if (l.oldest != nullptr) next = std::min(next, l.oldest->last_activity() + l.timeout);
    }
    if (next != clock::time_point::max()) arm(next);
}

void relay_service::shutdown() {
    // The context is going away with these relays' waits: destroy them
    // (closing their sockets) without calling their handlers.
    for (auto& l : lists_) {
        while (l.oldest != nullptr) {
            auto* r = l.oldest;
            unlink(*r);
            --count_;
            delete r;
        }
    }
    sweeper_.cancel();
}

} // namespace weir::relay::detail
