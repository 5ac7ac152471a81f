#pragma once

#include <cstdint>

namespace weir::bench {

/// What a process and all its descendants use (dante forks workers), read
/// from /proc. Every figure is 0 when pid is 0 or the process is gone.
struct process_usage {
    double cpu_seconds = 0;      ///< user + system time, reaped children included
    std::uint64_t rss_bytes = 0; ///< resident set (shared pages counted per process)
    std::uint64_t fds = 0;       ///< open file descriptors
};

process_usage process_tree_usage(int pid);

/// User + system CPU seconds of this process, all threads.
double self_cpu_seconds();

} // namespace weir::bench
