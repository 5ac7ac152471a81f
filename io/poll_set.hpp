#pragma once

#include <array>
#include <cstddef>
#include <memory>
#include <sys/epoll.h>
#include <system_error>
#include <vector>

#include <asio/execution_context.hpp>
#include <asio/io_context.hpp>
#include <asio/posix/stream_descriptor.hpp>

namespace weir::io {

/// A descriptor in a poll_set, told when it turns readable.
class poll_member {
public:
    poll_member() = default;
    poll_member(const poll_member&) = delete;
    poll_member& operator=(const poll_member&) = delete;

    /// The descriptor turned readable (an edge): read it until it would
    /// block, or come back to it by yourself (no new edge tells you).
    virtual void on_readable() = 0;

protected:
    ~poll_member() = default;
};

/// An edge-triggered epoll set of one io_context, which the context watches
/// as one descriptor. A member costs one epoll_ctl when it joins and none per
/// wake-up; the set itself is re-armed once per wake-up (Asio re-arms each
/// descriptor, an epoll_ctl, every time a wait on it starts), however many of
/// its members were ready, and asked which with an epoll_wait. That last call
/// is what a lone busy descriptor pays more than with a wait of its own: the
/// first `own_waits` members (while fewer are watched that way) get an Asio
/// wait of their own instead, and the rest join the epoll set. Its waits are
/// pending only while it has members, so that it does not keep the context
/// running. Use it from the context's thread only.
class poll_set : public asio::execution_context::service {
public:
    using key_type = poll_set;
    static asio::execution_context::id id;
    /// A descriptor of the context's own executor type (no type erasure).
    using descriptor = asio::posix::basic_stream_descriptor<asio::io_context::executor_type>;

    explicit poll_set(asio::io_context& io);
    poll_set(const poll_set&) = delete;
    poll_set& operator=(const poll_set&) = delete;

    /// The set of the context `ex` belongs to.
    static poll_set& of(const asio::io_context::executor_type& ex);

    /// Members at most watched by a wait of their own.
    static constexpr std::size_t own_waits = 8;

    /// Watches `fd` (non-blocking) for input, telling `m`, until leave().
    std::error_code join(int fd, poll_member& m);
    /// `m` leaves the set: close its descriptor right after (closing takes it
    /// out of the kernel's set; it must not have been duplicated). Events for
    /// it already taken from the kernel are not delivered.
    void leave(poll_member& m) noexcept;

    /// Members, both kinds.
    std::size_t size() const noexcept { return members_ + own_.size(); }
    /// Members watched by a wait of their own.
    std::size_t own_size() const noexcept { return own_.size(); }

private:
    void shutdown() override;
    void wait();
    void deliver();
    struct own_wait;
    static void wait_alone(std::shared_ptr<own_wait> w);

    asio::io_context& io_;
    descriptor epoll_;
    std::array<epoll_event, 64> events_{}; ///< the wake-up's events, [next_, taken_) undelivered
    std::size_t taken_ = 0;
    std::size_t next_ = 0;
    std::size_t members_ = 0;                    ///< in the epoll set
    std::vector<std::shared_ptr<own_wait>> own_; ///< members with a wait of their own
    bool waiting_ = false;
};

} // namespace weir::io
