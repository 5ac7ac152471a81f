#pragma once

#include "socks/relay/relay_options.hpp"

#include <chrono>
#include <cstddef>
#include <optional>
#include <vector>

namespace weir::relay::detail {

/// One pipe's ends, its capacity and the capacity it was asked for.
struct pipe_fds {
    int read_end = -1;
    int write_end = -1;
    std::size_t capacity = 0;
    std::size_t requested = 0;
};

/// The calling thread's empty pipes, sized once when made (F_SETPIPE_SZ) and
/// reused. All threads' pipes, spares and leased ones, share one byte budget.
class pipe_pool {
public:
    /// This thread's pool (a relay never changes thread).
    static pipe_pool& local();

    pipe_pool() = default;
    pipe_pool(const pipe_pool&) = delete;
    pipe_pool& operator=(const pipe_pool&) = delete;
    ~pipe_pool() { trim(); }

    /// An empty pipe of options.pipe_size bytes, spare or new; none when the
    /// budget is spent or the kernel refuses (then no new one is tried for a while).
    std::optional<pipe_fds> take(const relay_options& options);
    /// Keeps an empty pipe for reuse, or closes it when `max_spares` are kept.
    void give_back(const pipe_fds& pipe, std::size_t max_spares) noexcept;
    /// Closes a pipe (one that still holds bytes cannot be reused).
    void discard(const pipe_fds& pipe) noexcept;
    /// Closes the spares and forgets a recent refusal.
    void trim() noexcept;

    /// Counts a burst copied for want of a pipe and tells options.on_pipe_shortage why.
    void count_fallback(const relay_options& options) noexcept;
    std::size_t spares() const noexcept { return spares_.size(); }
    std::size_t made() const noexcept { return made_; }
    std::size_t reused() const noexcept { return reused_; }
    std::size_t fallbacks() const noexcept { return fallbacks_; }
    /// Pipe capacity open in the whole process.
    static std::size_t process_bytes() noexcept;

private:
    std::optional<pipe_fds> make(const relay_options& options);

    std::vector<pipe_fds> spares_;
    std::chrono::steady_clock::time_point retry_after_{};
    pipe_shortage last_shortage_{}; ///< why the last pipe could not be had
    std::size_t made_ = 0;
    std::size_t reused_ = 0;
    std::size_t fallbacks_ = 0;
};

} // namespace weir::relay::detail
