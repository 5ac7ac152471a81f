#pragma once

#include "socks/relay/relay_engine.hpp"

#include <asio/execution_context.hpp>
#include <asio/io_context.hpp>

namespace weir::relay::detail {

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
    /// Stops every running relay (each completes later, its stats `drained`).
    void drain_all() noexcept;

private:
    void shutdown() override;

    relay_engine* first_ = nullptr;
};

} // namespace weir::relay::detail
