#pragma once

#include "socks/relay/relay_engine.hpp"

#include <cstddef>

#include <asio/execution_context.hpp>
#include <asio/io_context.hpp>

namespace weir::relay::detail {

/// How many bytes a relay's direction reads before the thread's other relays
/// get their turn: 64 KiB (one pipe read, or one copy) while other relays of
/// the thread move bytes too; 16 MiB once one relay has had the thread to
/// itself for 8 turns in a row. A lone connection busy both ways whose two
/// directions switched after every pipe left a peer blocked at each switch,
/// which then had to be woken, often on the other CPU: a third more CPU per
/// GB than a relay that keeps going (issue 19). A relay that wakes up during
/// a long turn waits for it to end: at most 16 reads of the default 1 MiB
/// pipes, as long as the minimal relays' 32 system calls per wake-up.
class turn_keeper {
public:
    /// A turn while other relays of the thread move bytes too.
    static constexpr std::size_t shared_bytes = 64 * 1024;
    /// A turn of a relay that has had the thread to itself.
    static constexpr std::size_t alone_bytes = 16 << 20;
    /// Turns in a row one relay must have had to count as alone.
    static constexpr unsigned alone_after = 8;

    /// The bytes of the next turn of `relay` (any unique key of it).
    std::size_t next(const void* relay) noexcept {
        if (relay == last_) {
            if (streak_ <= alone_after) ++streak_;
        } else {
            last_ = relay;
            streak_ = 1;
        }
        return streak_ > alone_after ? alone_bytes : shared_bytes;
    }
    /// Forgets `relay` (it has ended: its address may be another's later).
    void forget(const void* relay) noexcept {
        if (relay == last_) last_ = nullptr;
    }

private:
    const void* last_ = nullptr; ///< the relay of the last turn
    unsigned streak_ = 0;        ///< its turns in a row, up to alone_after + 1
};

/// The running relays of one io_context (one I/O thread): a relay owns
/// itself until it completes, and the service destroys those still running
/// when the context goes away. Used from the context's thread only.
class relay_service : public asio::execution_context::service {
public:
    using key_type = relay_service;
    static asio::execution_context::id id;

    explicit relay_service(asio::io_context& io);
    relay_service(const relay_service&) = delete;
    relay_service& operator=(const relay_service&) = delete;

    /// The service of the context `ex` belongs to.
    static relay_service& of(const asio::io_context::executor_type& ex);

    void add(relay_engine& r) noexcept;
    void remove(relay_engine& r) noexcept;
    /// The bytes of the next turn of `r` (see turn_keeper).
    std::size_t turn(const relay_engine* r) noexcept { return turns_.next(r); }
    /// Stops every running relay (each completes later, its stats `drained`).
    void drain_all() noexcept;

private:
    void shutdown() override;

    relay_engine* first_ = nullptr;
    turn_keeper turns_;
};

} // namespace weir::relay::detail
