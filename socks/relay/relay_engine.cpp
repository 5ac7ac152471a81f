#include "socks/relay/relay_engine.hpp"

#include "socks/relay/pipe_pool.hpp"
#include "socks/relay/relay_service.hpp"

#include <new>
#include <signal.h>
#include <utility>

#include <asio/buffer.hpp>
#include <asio/error.hpp>
#include <asio/post.hpp>

namespace weir::relay::detail {
namespace {

/// splice(2) into a socket its peer has reset raises SIGPIPE (it has no
/// MSG_NOSIGNAL): ignore the signal, unless the program handles it itself.
void ignore_sigpipe_once() {
    static const bool ignored = [] {
        struct sigaction current {};
        if (::sigaction(SIGPIPE, nullptr, &current) != 0) return false;
        return current.sa_handler != SIG_DFL || ::signal(SIGPIPE, SIG_IGN) != SIG_ERR;
    }();
    (void)ignored;
}

/// splice(2) obeys the sockets' O_NONBLOCK, not only SPLICE_F_NONBLOCK. Asio
/// sets it on a socket's first asynchronous operation and remembers it: ask
/// the kernel only when it has not.
bool make_non_blocking(io::tcp_socket& socket) {
    std::error_code ec;
    if (!socket.native_non_blocking()) socket.native_non_blocking(true, ec);
    return !ec;
}

/// Splice when asked (otherwise the same engine copies, through recv/send with
/// MSG_DONTWAIT). Pipes are taken burst by burst: a burst that finds none to
/// be had copies, and the next one tries again.
bool can_splice(io::tcp_socket& client, io::tcp_socket& target, const relay_options& options) {
    if (options.kind != relay_kind::splice) return false;
    ignore_sigpipe_once();
    return make_non_blocking(client) && make_non_blocking(target);
}

/// Installed in the handler's cancellation slot: a cancellation stops the relay.
struct stopper {
    explicit stopper(relay_engine* engine)
        : engine_(engine) {}
    void operator()(asio::cancellation_type) const {
        engine_->stop(asio::error::operation_aborted);
    }
    relay_engine* engine_;
};

} // namespace

relay_engine::relay_engine(io::tcp_socket client, io::tcp_socket target,
                           const relay_options& options)
    : client_(std::move(client))
    , target_(std::move(target))
    , options_(options)
    , service_(relay_service::of(client_.get_executor()))
    , timeouts_(io::timeout_service::of(client_.get_executor()))
    , splice_(can_splice(client_, target_, options_))
    , up_{direction(client_.native_handle(), target_.native_handle(), options_, splice_)}
    , down_{direction(target_.native_handle(), client_.native_handle(), options_, splice_)} {
    stats_.spliced = splice_;
}

relay_engine::~relay_engine() {
    timeouts_.cancel(*this);
}

void relay_engine::start(asio::cancellation_slot outer) {
    service_.add(*this);
    timeouts_.start(*this, options_.idle_timeout);
    try {
        if (outer.is_connected()) outer.emplace<stopper>(this);
        outer_ = outer;
    } catch (const std::bad_alloc&) { // not stoppable from outside; the idle timeout still is
    }
    // Nothing is read before the sockets say so: an idle direction holds nothing.
    arm_read(up_);
    arm_read(down_);
    settle();
}

io::tcp_socket& relay_engine::source(const side& s) noexcept {
    return &s == &up_ ? client_ : target_;
}

io::tcp_socket& relay_engine::destination(const side& s) noexcept {
    return &s == &up_ ? target_ : client_;
}

void relay_engine::arm(side& s, io::tcp_socket::wait_type what) {
    io::tcp_socket& socket = what == io::tcp_socket::wait_read ? source(s) : destination(s);
    try {
        socket.async_wait(what, [this, &s](const std::error_code& ec) { on_ready(s, ec); });
        ++pending_;
    } catch (const std::bad_alloc&) {
        end_side(s, asio::error::no_memory);
    }
}

// Outside bulk flow the wait reads into the direction's inbox: Asio reads as
// the socket wakes up, and after a short read it queues the next wait without
// an epoll_ctl (a plain wait re-arms epoll every time).
void relay_engine::arm_read(side& s) {
    if (!s.dir.reads_while_waiting()) return arm(s, io::tcp_socket::wait_read);
    try {
        source(s).async_receive(
            asio::buffer(s.dir.inbox()),
            [this, &s](const std::error_code& ec, std::size_t n) { on_received(s, ec, n); });
        ++pending_;
    } catch (const std::bad_alloc&) {
        end_side(s, asio::error::no_memory);
    }
}

void relay_engine::on_received(side& s, const std::error_code& ec, std::size_t n) {
    const bool eof = ec == asio::error::eof;
    if (!stopped_ && (!ec || eof)) s.dir.received(eof ? 0 : n);
    on_ready(s, eof ? std::error_code() : ec);
}

void relay_engine::on_ready(side& s, const std::error_code& ec) {
    --pending_;
    if (stopped_ || ec) {
        end_side(s, stopped_ ? std::error_code() : ec);
        return settle();
    }
    timeouts_.touch(*this, clock::now());
    // Copying relays keep the shared turn even alone: longer turns cost them
    // 6 to 18% more CPU per GB (issue 19).
    const std::size_t turn = service_.turn(this);
    std::error_code error;
    switch (s.dir.pump(error, splice_ ? turn : turn_keeper::shared_bytes)) {
    case direction::next::readable:
        arm_read(s);
        break;
    case direction::next::writable:
        arm(s, io::tcp_socket::wait_write);
        break;
    case direction::next::more:
        yield(s);
        break;
    case direction::next::done:
        end_side(s, error);
        break;
    }
    settle();
}

void relay_engine::end_side(side& s, const std::error_code& error) {
    s.dir.release();
    s.done = true;
    if (error || stopped_)
        stop(error);
    else
        (&s == &up_ ? down_ : up_).dir.other_ended();
}

void relay_engine::yield(side& s) {
    try {
        asio::post(client_.get_executor(), [this, &s] { on_ready(s, {}); });
        ++pending_;
    } catch (const std::bad_alloc&) {
        end_side(s, asio::error::no_memory);
    }
}

void relay_engine::on_timeout() {
    stats_.idle_timeout = true;
    stop({});
}

void relay_engine::drain() {
    if (!stopped_) stats_.drained = true;
    stop({});
}

void relay_engine::stop(const std::error_code& ec) {
    if (ec && !stats_.error) stats_.error = ec;
    if (stopped_) return;
    stopped_ = true;
    timeouts_.cancel(*this);
    std::error_code ignored;
    client_.cancel(ignored);
    target_.cancel(ignored);
}

// Completes once nothing is pending any more.
void relay_engine::settle() {
    if (pending_ > 0) return;
    stats_.client_to_target = up_.dir.delivered();
    stats_.target_to_client = down_.dir.delivered();
    if (outer_.is_connected()) outer_.clear();
    service_.remove(*this);
    complete(stats_);
}

} // namespace weir::relay::detail
