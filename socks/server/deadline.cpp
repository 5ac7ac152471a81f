#include "socks/server/deadline.hpp"

namespace weir::server {

deadline::deadline(const asio::io_context::executor_type& ex)
    : timer_(ex)
    , state_(std::make_shared<state>()) {}

deadline::~deadline() {
    ++state_->step; // a handler already queued must not emit any more
}

void deadline::expires_after(clock::duration d) {
    const auto step = ++state_->step;
    state_->expired = false;
    timer_.expires_after(d); // cancels the previous step's wait
    timer_.async_wait([s = state_, step](const std::error_code& ec) {
        if (ec || s->step != step) return;
        s->expired = true;
        s->signal.emit(asio::cancellation_type::terminal);
    });
}

} // namespace weir::server
