#include "io/deadline.hpp"

namespace weir::io {

deadline::deadline(const asio::io_context::executor_type& ex)
    : executor_(ex)
    , timeouts_(timeout_service::of(ex)) {}

deadline::~deadline() {
    timeouts_.cancel(*this);
}

void deadline::expires_after(clock::duration d) {
    expired_ = false;
    timeouts_.start(*this, d);
}

void deadline::on_timeout() {
    expired_ = true;
    signal_.emit(asio::cancellation_type::terminal);
}

} // namespace weir::io
