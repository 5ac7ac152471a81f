#pragma once

#include "bench/proc_stats.hpp"
#include "bench/sink_server.hpp"
#include "bench/socks_client.hpp"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace weir::bench {

/// Exit codes: everything checked out; bytes did not match; connections
/// failed or timed out.
inline constexpr int exit_ok = 0;
inline constexpr int exit_mismatch = 1;
inline constexpr int exit_incomplete = 2;

struct run_options {
    proxy_spec proxy;
    int proxy_pid = 0;                     ///< process (tree) whose CPU and memory are reported
    std::string label = "-";               ///< printed in every result line
    double duration = 3.0;                 ///< measured seconds (throughput, cycles, latency)
    double warmup = 0.5;                   ///< seconds run before measuring
    double timeout = 5.0;                  ///< per connection step and for the final drain
    bool steps = false;                    ///< handshake one step at a time instead of pipelined
    std::string target_name = "localhost"; ///< socks4a/socks5h target
    int conns = 1;                         ///< throughput
    std::string dir = "both";              ///< throughput: up, down, both
    bool truncate = false;                 ///< throughput: read with recv(MSG_TRUNC)
    int concurrency = 32;                  ///< cycles: clients at once; idle: dials at once
    std::uint64_t count = 0;               ///< cycles/latency: stop after this many (0: by time)
    int sources = 0;                       ///< cycles: spread clients over 127.0.1.1..N
    int sessions = 1000;                   ///< idle
    int associations = 16;                 ///< udp-*: UDP associations
    int in_flight = 4;                     ///< udp-rr: datagrams in flight per association
    std::size_t size = 64;                 ///< udp-*: payload bytes per datagram (no header)
    double rate = 0;                       ///< udp-flood: datagrams/s offered (0: all it can)
};

/// How to reach one of the sink server's ports through the proxy under test.
struct dial_plan {
    sockaddr_in connect_to{}; ///< the proxy, or the target for direct
    std::vector<handshake_step> steps;
};

dial_plan make_plan(const run_options& o, std::uint16_t target_port);

/// CPU used so far by the proxy (tree), this process, and the sink thread.
struct usage_sample {
    double wall = 0;
    double proxy_cpu = 0;
    double self_cpu = 0;
    double sink_cpu = 0;
    machine_usage machine;
};

usage_sample take_sample(const run_options& o, const sink_server& sink);

/// One "result key=value ..." line, keys in the order added.
class result_line {
public:
    result_line(const run_options& o, std::string scenario);
    result_line& add(std::string key, std::string value);
    result_line& add(std::string key, double value, int decimals = 3);
    /// seconds, proxy_cpu, loadgen_cpu (this process), sink_cpu (its share of
    /// it), then the machine's idle_cpu, softirq_cpu and busy_cpu (all CPUs,
    /// seconds)
    result_line& add_usage(const usage_sample& from, const usage_sample& to);
    /// proxy_us_per_dgram and machine_us_per_dgram: CPU-microseconds of the
    /// proxy and of the whole machine between the samples per datagram relayed
    /// (0 when none was)
    result_line& add_per_datagram(const usage_sample& from, const usage_sample& to,
                                  double datagrams);
    void print() const;

private:
    std::vector<std::pair<std::string, std::string>> fields_;
};

/// The p-th percentile (0..100) of `v` (sorted in place); 0 when empty.
double percentile(std::vector<double>& v, double p);

int run_throughput(const run_options& o, sink_server& sink);
int run_cycles(const run_options& o, sink_server& sink);
int run_latency(const run_options& o, sink_server& sink);
int run_idle(const run_options& o, sink_server& sink);
int run_udp_rr(const run_options& o, sink_server& sink);
int run_udp_flood(const run_options& o, sink_server& sink);
int run_udp_held(const run_options& o, sink_server& sink);

} // namespace weir::bench
