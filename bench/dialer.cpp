#include "bench/dialer.hpp"

#include <cstring>
#include <sys/socket.h>
#include <unistd.h>

namespace weir::bench {

bool dialer::start(const sockaddr_in& to, const sockaddr_in* from,
                   const std::vector<handshake_step>& steps) {
    close();
    int err = 0;
    fd_ = connect_tcp(to, from, err);
    steps_ = &steps;
    if (!fd_) {
        error_ = std::strerror(err);
        state_ = state::failed;
        return false;
    }
    state_ = state::connecting;
    return true;
}

void dialer::close() {
    fd_.reset();
    state_ = state::idle;
    step_ = 0;
    in_len_ = 0;
    out_ = {};
    registered_ = 0;
}

std::uint32_t dialer::wanted() const {
    switch (state_) {
    case state::connecting:
        return EPOLLOUT;
    case state::handshaking:
        return EPOLLIN | (out_.empty() ? 0u : EPOLLOUT);
    default:
        return EPOLLIN;
    }
}

void dialer::watch(event_loop& loop, std::uint64_t token, std::uint32_t events) {
    if (registered_ == 0)
        loop.add(fd_.get(), events, token);
    else if (events != registered_)
        loop.modify(fd_.get(), events, token);
    registered_ = events;
}

dialer::state dialer::fail(const char* why) {
    error_ = why;
    state_ = state::failed;
    return state_;
}

dialer::state dialer::on_event(std::uint32_t events) {
    if (state_ == state::connecting) {
        if (const int err = socket_error(fd_.get()); err != 0) return fail(std::strerror(err));
        if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) == 0) return state_;
        state_ = state::handshaking;
        return next_step();
    }
    if (state_ != state::handshaking) return state_;
    if ((events & EPOLLOUT) != 0 && flush() == state::failed) return state_;
    if ((events & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0) return read_replies();
    return state_;
}

dialer::state dialer::next_step() {
    if (step_ == steps_->size()) {
        state_ = state::ready;
        return state_;
    }
    out_ = (*steps_)[step_].send;
    return flush();
}

dialer::state dialer::flush() {
    while (!out_.empty()) {
        const ssize_t n = ::send(fd_.get(), out_.data(), out_.size(), MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN) return state_;
            if (errno == EINTR) continue;
            return fail(std::strerror(errno));
        }
        out_ = out_.subspan(static_cast<std::size_t>(n));
    }
    return state_;
}

dialer::state dialer::read_replies() {
    const ssize_t n = ::recv(fd_.get(), in_.data() + in_len_, in_.size() - in_len_, 0);
    if (n == 0) return fail("closed during the handshake");
    if (n < 0) return errno == EAGAIN || errno == EINTR ? state_ : fail(std::strerror(errno));
    in_len_ += static_cast<std::size_t>(n);
    while (state_ == state::handshaking && step_ < steps_->size()) {
        const auto r = check_reply((*steps_)[step_].expect, {in_.data(), in_len_});
        if (r.status == reply_status::need_more) {
            if (in_len_ == in_.size()) return fail("reply too long");
            return state_;
        }
        if (r.status == reply_status::refused) return fail("proxy refused");
        std::memmove(in_.data(), in_.data() + r.used, in_len_ - r.used);
        in_len_ -= r.used;
        ++step_;
        if (next_step() == state::failed) return state_;
    }
    return state_;
}

} // namespace weir::bench
