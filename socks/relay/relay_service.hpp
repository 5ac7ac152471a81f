#pragma once

#include "socks/relay/relay_engine.hpp"

#include <chrono>
#include <cstdint>
#include <vector>

#include <asio/execution_context.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>

namespace weir::relay::detail {

/// The relays of one io_context (one I/O thread): it knows them all, so that
/// they end with the context, and it times their idleness with one timer
/// instead of one per relay. Relays with the same idle timeout sit in one
/// list ordered by last activity (activity moves a relay to the end), so the
/// list's head is always the next to expire. Used from its thread only.
class relay_service : public asio::execution_context::service {
public:
    using key_type = relay_service;
    static asio::execution_context::id id;

    explicit relay_service(asio::io_context& io);
    relay_service(const relay_service&) = delete;
    relay_service& operator=(const relay_service&) = delete;

    /// The service of the context `ex` belongs to.
    static relay_service& of(const asio::io_context::executor_type& ex);

    /// A new relay, active now.
    void add(relay_engine& r);
    /// Activity on `r`: its idle time starts again.
    void touch(relay_engine& r) noexcept;
    /// `r` is stopping: it no longer times out.
    void retire(relay_engine& r) noexcept;
    /// `r` has completed.
    void remove(relay_engine& r) noexcept;

    std::size_t relays() const noexcept { return count_; }

private:
    using clock = relay_engine::clock;
    struct relay_list {
        clock::duration timeout{}; ///< zero: never times out (and retired relays)
        relay_engine* oldest = nullptr;
        relay_engine* newest = nullptr;
    };

    void shutdown() override;
    void link(relay_engine& r, std::uint32_t list) noexcept;
    void unlink(relay_engine& r) noexcept;
    void arm(clock::time_point when);
    void sweep();

    std::vector<relay_list> lists_; ///< [0] never times out
    asio::steady_timer sweeper_;
    clock::time_point armed_for_ = clock::time_point::max();
    std::size_t count_ = 0;
};

} // namespace weir::relay::detail
