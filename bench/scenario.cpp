#include "bench/scenario.hpp"

#include "bench/net.hpp"
#include "bench/proc_stats.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include <fmt/format.h>

namespace weir::bench {

dial_plan make_plan(const run_options& o, std::uint16_t target_port) {
    dial_plan plan;
    const auto target = ipv4_address(0x7f000001, target_port);
    plan.connect_to = o.proxy.kind == proxy_kind::direct ? target : o.proxy.address;
    plan.steps = make_handshake(o.proxy, target, o.target_name, !o.steps);
    return plan;
}

usage_sample take_sample(const run_options& o, const sink_server& sink) {
    usage_sample s;
    s.wall = now_seconds();
    s.proxy_cpu = process_tree_usage(o.proxy_pid).cpu_seconds;
    s.self_cpu = self_cpu_seconds();
    s.sink_cpu = sink.cpu_seconds();
    s.machine = machine_cpu();
    return s;
}

result_line::result_line(const run_options& o, std::string scenario) {
    add("label", o.label);
    add("scenario", std::move(scenario));
}

result_line& result_line::add(std::string key, std::string value) {
    fields_.emplace_back(std::move(key), std::move(value));
    return *this;
}

result_line& result_line::add(std::string key, double value, int decimals) {
    return add(std::move(key), fmt::format("{:.{}f}", value, decimals));
}

result_line& result_line::add_usage(const usage_sample& from, const usage_sample& to) {
    add("seconds", to.wall - from.wall);
    add("proxy_cpu", to.proxy_cpu - from.proxy_cpu, 2);
    add("loadgen_cpu", to.self_cpu - from.self_cpu, 2);
    add("sink_cpu", to.sink_cpu - from.sink_cpu, 2);
    add("idle_cpu", to.machine.idle_seconds - from.machine.idle_seconds, 2);
    add("softirq_cpu", to.machine.softirq_seconds - from.machine.softirq_seconds, 2);
    add("busy_cpu", to.machine.busy_seconds - from.machine.busy_seconds, 2);
    return *this;
}

result_line& result_line::add_per_datagram(const usage_sample& from, const usage_sample& to,
                                           double datagrams) {
    const auto per = [datagrams](double seconds) {
        return datagrams > 0 ? seconds * 1e6 / datagrams : 0;
    };
    add("proxy_us_per_dgram", per(to.proxy_cpu - from.proxy_cpu), 2);
    add("machine_us_per_dgram", per(to.machine.busy_seconds - from.machine.busy_seconds), 2);
    return *this;
}

void result_line::print() const {
    std::string line = "result";
    for (const auto& [k, v] : fields_)
        line += fmt::format(" {}={}", k, v);
    std::puts(line.c_str());
    std::fflush(stdout);
}

double percentile(std::vector<double>& v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    const double rank = std::ceil(p / 100.0 * static_cast<double>(v.size()));
    const auto i = static_cast<std::size_t>(std::max(rank, 1.0)) - 1;
    return v[std::min(i, v.size() - 1)];
}

} // namespace weir::bench
