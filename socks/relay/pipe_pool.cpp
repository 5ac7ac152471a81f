#include "socks/relay/pipe_pool.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <fcntl.h>
#include <new>
#include <unistd.h>

#include <climits>

namespace weir::relay::detail {
namespace {

using clock = std::chrono::steady_clock;

/// How long a thread makes no pipe after the kernel refused one.
constexpr auto refusal_backoff = std::chrono::milliseconds(100);
constexpr std::size_t default_pipe_size = 64 * 1024;

std::atomic<std::size_t> open_pipe_bytes{0};

bool reserve(std::size_t bytes, std::size_t budget) noexcept {
    const std::size_t before = open_pipe_bytes.fetch_add(bytes, std::memory_order_relaxed);
    if (before + bytes <= budget) return true;
    open_pipe_bytes.fetch_sub(bytes, std::memory_order_relaxed);
    return false;
}

void close_pipe(const pipe_fds& pipe) noexcept {
    ::close(pipe.read_end);
    ::close(pipe.write_end);
    open_pipe_bytes.fetch_sub(pipe.capacity, std::memory_order_relaxed);
}

std::size_t wanted_size(const relay_options& options) noexcept {
    const std::size_t size = options.pipe_size > 0 ? options.pipe_size : default_pipe_size;
    return std::min<std::size_t>(size, INT_MAX);
}

} // namespace

pipe_pool& pipe_pool::local() {
    thread_local pipe_pool pool;
    return pool;
}

std::size_t pipe_pool::process_bytes() noexcept {
    return open_pipe_bytes.load(std::memory_order_relaxed);
}

std::optional<pipe_fds> pipe_pool::take(const relay_options& options) {
    const std::size_t wanted = wanted_size(options);
    while (!spares_.empty()) {
        const pipe_fds spare = spares_.back();
        spares_.pop_back();
        if (spare.requested == wanted) {
            ++reused_;
            return spare;
        }
        close_pipe(spare); // sized for other options
    }
    return make(options);
}

void pipe_pool::count_fallback(const relay_options& options) noexcept {
    ++fallbacks_;
    if (options.on_pipe_shortage) options.on_pipe_shortage(last_shortage_);
}

std::optional<pipe_fds> pipe_pool::make(const relay_options& options) {
    const std::size_t wanted = wanted_size(options);
    if (clock::now() < retry_after_) return std::nullopt; // last_shortage_ says why
    if (!reserve(wanted, options.pipe_budget)) {
        last_shortage_ = {pipe_shortage::cause::budget, 0, wanted};
        return std::nullopt;
    }
    int fds[2];
    if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) {
        last_shortage_ = {pipe_shortage::cause::open_failed, errno, wanted};
        open_pipe_bytes.fetch_sub(wanted, std::memory_order_relaxed);
        retry_after_ = clock::now() + refusal_backoff;
        return std::nullopt;
    }
    // Once, here: a pooled pipe keeps its size. Past the per-user limit
    // (fs.pipe-user-pages-soft) this fails with EPERM, and a one-page pipe
    // would crawl: the caller copies instead.
    const int capacity = ::fcntl(fds[1], F_SETPIPE_SZ, static_cast<int>(wanted));
    pipe_fds pipe{fds[0], fds[1], wanted, wanted};
    if (capacity <= 0) {
        last_shortage_ = {pipe_shortage::cause::size_refused, errno, wanted};
        close_pipe(pipe);
        retry_after_ = clock::now() + refusal_backoff;
        return std::nullopt;
    }
    pipe.capacity = static_cast<std::size_t>(capacity);
    if (pipe.capacity > wanted)
        open_pipe_bytes.fetch_add(pipe.capacity - wanted, std::memory_order_relaxed);
    else
        open_pipe_bytes.fetch_sub(wanted - pipe.capacity, std::memory_order_relaxed);
    ++made_;
    return pipe;
}

void pipe_pool::give_back(const pipe_fds& pipe, std::size_t max_spares) noexcept {
    if (spares_.size() < max_spares) {
        try {
            spares_.push_back(pipe);
            return;
        } catch (const std::bad_alloc&) { // closed below
        }
    }
    close_pipe(pipe);
}

void pipe_pool::discard(const pipe_fds& pipe) noexcept {
    close_pipe(pipe);
}

void pipe_pool::trim() noexcept {
    for (const pipe_fds& spare : spares_)
        close_pipe(spare);
    spares_.clear();
    retry_after_ = {};
}

} // namespace weir::relay::detail
