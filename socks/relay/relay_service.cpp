#include "socks/relay/relay_service.hpp"

namespace weir::relay::detail {

asio::execution_context::id relay_service::id;

relay_service::relay_service(asio::io_context& io)
    : asio::execution_context::service(io) {}

relay_service& relay_service::of(const asio::io_context::executor_type& ex) {
    return asio::use_service<relay_service>(ex.context());
}

void relay_service::add(relay_engine& r) noexcept {
    r.prev_ = nullptr;
    r.next_ = first_;
    if (first_ != nullptr) first_->prev_ = &r;
    first_ = &r;
}

void relay_service::remove(relay_engine& r) noexcept {
    turns_.forget(&r);
    (r.prev_ != nullptr ? r.prev_->next_ : first_) = r.next_;
    if (r.next_ != nullptr) r.next_->prev_ = r.prev_;
    r.prev_ = r.next_ = nullptr;
}

void relay_service::drain_all() noexcept {
    // stop() only cancels waits: the relays leave the list when they complete.
    for (auto* r = first_; r != nullptr; r = r->next_)
        r->drain();
}

void relay_service::shutdown() {
    // The context is going away with these relays' waits: destroy them
    // (closing their sockets) without calling their handlers.
    while (first_ != nullptr) {
        auto* r = first_;
        remove(*r);
        delete r;
    }
}

} // namespace weir::relay::detail
