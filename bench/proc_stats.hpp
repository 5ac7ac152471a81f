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

/// The whole machine's CPU time, from /proc/stat (all CPUs added up).
/// Softirq time is the kernel's network processing that interrupted whatever
/// ran (with IRQ time accounting, no process pays for it); idle time says
/// nobody was the bottleneck; busy time is everything but idle and steal:
/// every process and the kernel's work for them, whoever is charged for it.
struct machine_usage {
    double idle_seconds = 0;    ///< idle + iowait
    double softirq_seconds = 0; ///< softirq
    double busy_seconds = 0;    ///< user + nice + system + irq + softirq
};

machine_usage machine_cpu();

} // namespace weir::bench
