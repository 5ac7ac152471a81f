#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <system_error>

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>

namespace weir::relay {

enum class relay_kind { splice, copy };

struct relay_options {
    relay_kind kind = relay_kind::splice;
    /// Both directions silent for this long ends the relay. Zero disables it.
    std::chrono::steady_clock::duration idle_timeout = std::chrono::minutes(5);
    std::size_t pipe_size = 1 << 20;     ///< splice: requested pipe capacity per direction
    std::size_t buffer_size = 64 * 1024; ///< copy: buffer per direction
};

struct relay_stats {
    std::uint64_t client_to_target = 0;
    std::uint64_t target_to_client = 0;
    std::error_code error;     ///< first error that ended the relay (EOF both ways is not one)
    bool idle_timeout = false; ///< ended because both directions were idle too long
    bool spliced = false;      ///< the splice relay ran (false: the copy relay did)
};

/// Moves bytes both ways until both directions have reached EOF (each EOF is
/// passed on as shutdown(SHUT_WR) once everything before it was delivered),
/// until an error, or until the idle timeout. Uses splice(2) when asked and
/// available, the copy relay otherwise. Never throws for network errors.
asio::awaitable<relay_stats> relay(asio::ip::tcp::socket& client, asio::ip::tcp::socket& target,
                                   const relay_options& options);

/// The two implementations behind relay(), exposed for tests and benchmarks.
/// splice_relay sets `handled` false (and does nothing) when it cannot start,
/// e.g. no pipes could be created; the caller then runs copy_relay.
asio::awaitable<relay_stats> splice_relay(asio::ip::tcp::socket& client,
                                          asio::ip::tcp::socket& target,
                                          const relay_options& options, bool& handled);
asio::awaitable<relay_stats> copy_relay(asio::ip::tcp::socket& client,
                                        asio::ip::tcp::socket& target,
                                        const relay_options& options);

} // namespace weir::relay
