#include "io/poll_set.hpp"

#include <cerrno>
#include <unistd.h>

namespace weir::io {

asio::execution_context::id poll_set::id;

namespace {

int new_epoll() {
    const int fd = ::epoll_create1(EPOLL_CLOEXEC);
    if (fd < 0) throw std::system_error(errno, std::system_category(), "epoll_create1");
    return fd;
}

} // namespace

poll_set::poll_set(asio::io_context& io)
    : asio::execution_context::service(io)
    , epoll_(io, new_epoll()) {}

poll_set& poll_set::of(const asio::io_context::executor_type& ex) {
    return asio::use_service<poll_set>(ex.context());
}

std::error_code poll_set::join(int fd, poll_member& m) {
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLET;
    ev.data.ptr = &m;
    if (::epoll_ctl(epoll_.native_handle(), EPOLL_CTL_ADD, fd, &ev) != 0)
        return {errno, std::system_category()};
    ++members_;
    if (!waiting_) wait();
    return {};
}

void poll_set::leave(poll_member& m) noexcept {
    for (auto i = next_; i < taken_; ++i)
        if (events_[i].data.ptr == &m) events_[i].data.ptr = nullptr;
    if (--members_ == 0 && waiting_) {
        std::error_code ignored;
        epoll_.cancel(ignored); // nothing to watch: the context may run out of work
    }
}

void poll_set::wait() {
    waiting_ = true;
    epoll_.async_wait(asio::posix::stream_descriptor::wait_read, [this](std::error_code ec) {
        waiting_ = false;
        if (ec) {
            if (members_ > 0 && ec == asio::error::operation_aborted && epoll_.is_open()) wait();
            return;
        }
        deliver();
        if (members_ > 0 && !waiting_) wait();
    });
}

// Takes what is ready, 64 events at most: whatever remains keeps the set
// readable, and the next wait (level-checked by Asio's re-arm) comes back to it
// after the context's other handlers.
void poll_set::deliver() {
    const int n =
        ::epoll_wait(epoll_.native_handle(), events_.data(), static_cast<int>(events_.size()), 0);
    taken_ = n > 0 ? static_cast<std::size_t>(n) : 0;
    for (next_ = 0; next_ < taken_;) {
        auto* m = static_cast<poll_member*>(events_[next_++].data.ptr);
        if (m != nullptr) m->on_readable();
    }
    taken_ = next_ = 0;
}

void poll_set::shutdown() {
    members_ = 0;
    std::error_code ignored;
    epoll_.close(ignored);
}

} // namespace weir::io
