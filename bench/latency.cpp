// One-byte ping-pong over one connection to the echo service.
#include "bench/dialer.hpp"
#include "bench/scenario.hpp"

#include <cstdio>
#include <cstring>
#include <poll.h>
#include <sys/socket.h>

namespace weir::bench {
namespace {

/// Dials one connection through the proxy; what went wrong, or nullptr.
const char* dial_one(dialer& d, const dial_plan& plan, double timeout) {
    event_loop loop;
    if (!d.start(plan.connect_to, nullptr, plan.steps)) return d.error();
    d.sync(loop, 0);
    const double deadline = now_seconds() + timeout;
    while (d.current() == dialer::state::connecting || d.current() == dialer::state::handshaking) {
        if (now_seconds() > deadline) return "timeout";
        loop.poll(10, [&](std::uint64_t, std::uint32_t ev) {
            if (d.on_event(ev) != dialer::state::failed) d.sync(loop, 0);
        });
    }
    if (d.current() != dialer::state::ready) return d.error();
    return d.leftover().empty() ? nullptr : "unexpected bytes after the handshake";
}

/// One round trip of `b`; the time it took in ms, or a negative value.
double round_trip(int fd, std::uint8_t b, double timeout) {
    const double start = now_seconds();
    if (::send(fd, &b, 1, MSG_NOSIGNAL) != 1) return -1;
    for (;;) {
        std::uint8_t in = 0;
        const ssize_t n = ::recv(fd, &in, 1, 0);
        if (n == 1) return in == b ? (now_seconds() - start) * 1000.0 : -1;
        if (n == 0 || (errno != EAGAIN && errno != EINTR)) return -1;
        const double left = timeout - (now_seconds() - start);
        pollfd p{fd, POLLIN, 0};
        if (left <= 0 || ::poll(&p, 1, static_cast<int>(left * 1000) + 1) < 0) return -1;
    }
}

} // namespace

int run_latency(const run_options& o, sink_server& sink) {
    const auto plan = make_plan(o, sink.ports().echo);
    dialer d;
    if (const char* error = dial_one(d, plan, o.timeout)) {
        std::fprintf(stderr, "loadgen: dial failed: %s\n", error);
        result_line(o, "latency").add("error", "dial").print();
        return exit_incomplete;
    }
    std::uint8_t b = 0;
    const double warm_end = now_seconds() + o.warmup;
    while (now_seconds() < warm_end)
        if (round_trip(d.fd(), ++b, o.timeout) < 0) return exit_mismatch;
    const auto a = take_sample(o, sink);
    std::vector<double> rtt;
    rtt.reserve(1 << 20);
    while ((o.count == 0 || rtt.size() < o.count) && rtt.size() < (1u << 22) &&
           now_seconds() < a.wall + o.duration) {
        const double ms = round_trip(d.fd(), ++b, o.timeout);
        if (ms < 0) {
            std::fprintf(stderr, "loadgen: echo lost or wrong\n");
            return exit_mismatch;
        }
        rtt.push_back(ms);
    }
    const auto z = take_sample(o, sink);
    const auto pings = rtt.size();
    const double p50 = percentile(rtt, 50);
    result_line(o, "latency")
        .add("pings", std::to_string(pings))
        .add("p50_us", p50 * 1000, 1)
        .add("p99_us", percentile(rtt, 99) * 1000, 1)
        .add_usage(a, z)
        .print();
    return exit_ok;
}

} // namespace weir::bench
