#include "io/poll_set.hpp"

#include "io/portable_error.hpp"

#include <algorithm>
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
    , io_(io)
    , epoll_(io.get_executor(), new_epoll()) {}

poll_set& poll_set::of(const asio::io_context::executor_type& ex) {
    return asio::use_service<poll_set>(ex.context());
}

/// A member's own wait: the member is cleared when it leaves, so that a
/// completion already queued for it finds no one to tell.
struct poll_set::own_wait {
    poll_member* member;
    poll_set::descriptor descriptor;
};

std::error_code poll_set::join(int fd, poll_member& m) {
    if (own_.size() < own_waits) {
        auto w = std::make_shared<own_wait>(own_wait{&m, descriptor(io_.get_executor())});
        std::error_code ec;
        w->descriptor.assign(fd, ec);
        if (ec) return portable(ec); // as the epoll set's errors: std's system category
        own_.push_back(w);
        wait_alone(std::move(w));
        return {};
    }
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
    const auto own =
        std::find_if(own_.begin(), own_.end(), [&m](const auto& w) { return w->member == &m; });
    if (own != own_.end()) {
        (*own)->member = nullptr;
        (*own)->descriptor.release(); // cancels the wait; the member closes its descriptor
        own_.erase(own);
        return;
    }
    for (auto i = next_; i < taken_; ++i)
        if (events_[i].data.ptr == &m) events_[i].data.ptr = nullptr;
    if (--members_ == 0 && waiting_) {
        std::error_code ignored;
        epoll_.cancel(ignored); // nothing to watch: the context may run out of work
    }
}

void poll_set::wait() {
    waiting_ = true;
    epoll_.async_wait(descriptor::wait_read, [this](std::error_code ec) {
        waiting_ = false;
        if (ec) {
            if (members_ > 0 && ec == asio::error::operation_aborted && epoll_.is_open()) wait();
            return;
        }
        deliver();
        if (members_ > 0 && !waiting_) wait();
    });
}

void poll_set::wait_alone(std::shared_ptr<own_wait> w) {
    auto& d = w->descriptor;
    d.async_wait(descriptor::wait_read, [w = std::move(w)](std::error_code ec) mutable {
        if (ec || w->member == nullptr) return;
        w->member->on_readable();
        if (w->member != nullptr) wait_alone(std::move(w));
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

// The waits' handlers are destroyed after this, and with them the own
// waits: their descriptors are given back first, never closed twice.
void poll_set::shutdown() {
    for (const auto& w : own_) {
        w->member = nullptr;
        w->descriptor.release();
    }
    own_.clear();
    members_ = 0;
    std::error_code ignored;
    epoll_.close(ignored);
}

} // namespace weir::io
