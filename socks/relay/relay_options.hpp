#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <system_error>

namespace weir::relay {

enum class relay_kind { splice, copy };

/// Why a splice relay copied for want of a pipe.
struct pipe_shortage {
    enum class cause {
        budget,      ///< relay_options::pipe_budget is in use
        open_failed, ///< pipe2(2) failed (error: EMFILE, ENFILE)
        size_refused ///< F_SETPIPE_SZ failed (error: EPERM past the user's allowance, ENOMEM)
    };
    cause why = cause::budget;
    int error = 0;             ///< errno of the kernel's refusal; 0 for the budget
    std::size_t pipe_size = 0; ///< the capacity asked for
};

/// Told, on the relay's thread, each time a splice relay copies a burst
/// because no pipe could be had; it must be cheap and not throw.
using pipe_shortage_handler = void (*)(const pipe_shortage&) noexcept;

/// A direction holds a pipe (splice) or a buffer (copy) only while its bytes
/// are in flight: an idle relay holds neither. Both come from per-thread pools.
struct relay_options {
    relay_kind kind = relay_kind::splice;
    /// Both directions silent for this long ends the relay. Zero disables it.
    std::chrono::steady_clock::duration idle_timeout = std::chrono::minutes(5);
    std::size_t pipe_size = 1 << 20;     ///< splice: requested pipe capacity per direction
    std::size_t buffer_size = 64 * 1024; ///< copy: buffer per direction
    /// splice: pipe capacity (bytes) the whole process may hold, spares included;
    /// a direction that finds none left copies through a buffer instead.
    std::size_t pipe_budget = 64 << 20;
    std::size_t spare_pipes = 16;   ///< splice: empty pipes kept per thread for reuse
    std::size_t spare_buffers = 16; ///< buffers kept per thread for reuse
    /// splice: the first read after a wake-up copies up to this many bytes and
    /// takes a pipe only when they fill it (small exchanges never touch one);
    /// skipped after a burst that outgrew it (bulk keeps splicing from the
    /// first byte), used again after one it carried alone; 0: off.
    std::size_t splice_probe = 4096;
    /// splice: told of every copy for want of a pipe (the server logs them); may be null.
    pipe_shortage_handler on_pipe_shortage = nullptr;
};

struct relay_stats {
    std::uint64_t client_to_target = 0;
    std::uint64_t target_to_client = 0;
    std::error_code error;     ///< first error that ended the relay (EOF both ways is not one)
    bool idle_timeout = false; ///< ended because both directions were idle too long
    bool drained = false;      ///< ended by stop_relays() (the server closing what a drain left)
    bool spliced = false;      ///< the splice relay ran (its bursts copy when no pipe is free)
};

} // namespace weir::relay
