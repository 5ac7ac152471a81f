// Many UDP associations held open: what each costs the proxy, how fast they
// open, and whether every one still relays (one ping each through the echo port).
#include "bench/udp_io.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

namespace weir::bench {
namespace {

/// Sends one ping on every association and counts those whose echo came back
/// (its index in the payload) within `timeout` seconds.
std::size_t ping_all(const run_options& o, const std::vector<udp_client>& clients,
                     std::uint16_t echo_port) {
    send_queue out(udp_request_header(o.proxy, ipv4_address(0x7f000001, echo_port)), 8);
    event_loop loop;
    for (std::size_t i = 0; i < clients.size(); ++i) {
        loop.add(clients[i].udp.get(), EPOLLIN, i);
        const std::uint64_t index = i;
        std::memcpy(out.next(), &index, sizeof index);
        out.push();
        out.flush(clients[i].udp.get());
    }
    std::vector<bool> answered(clients.size());
    std::size_t count = 0;
    receive_queue in;
    const double deadline = now_seconds() + o.timeout;
    while (count < clients.size() && now_seconds() < deadline)
        loop.poll(10, [&](std::uint64_t tok, std::uint32_t) {
            const auto i = static_cast<std::size_t>(tok);
            const std::size_t n = in.receive(clients[i].udp.get());
            for (std::size_t j = 0; j < n; ++j) {
                std::size_t size = in.size(j);
                const std::uint8_t* p = payload_of(o.proxy, in.data(j), size);
                std::uint64_t index = ~std::uint64_t{0};
                if (p != nullptr && size == sizeof index) std::memcpy(&index, p, sizeof index);
                if (index != i || answered[i]) continue;
                answered[i] = true;
                ++count;
            }
        });
    return count;
}

} // namespace

int run_udp_held(const run_options& o, sink_server& sink) {
    udp_echo_server udp;
    const std::uint64_t limit = raise_fd_limit();
    const std::size_t fit = limit > 128 ? static_cast<std::size_t>((limit - 128) / 2) : 1;
    run_options opts = o;
    if (static_cast<std::size_t>(std::max(o.associations, 1)) > fit) {
        std::fprintf(stderr, "loadgen: fd limit %llu holds %zu associations (2 fds each)\n",
                     static_cast<unsigned long long>(limit), fit);
        opts.associations = static_cast<int>(fit);
    }
    const auto before = process_tree_usage(o.proxy_pid);
    const auto a = sample(o, sink, udp);
    const auto clients =
        open_associations(opts, ipv4_address(0x7f000001, udp.echo_port()), "udp-held");
    if (clients.empty()) return exit_incomplete;
    const double open_secs = now_seconds() - a.wall;
    std::this_thread::sleep_for(std::chrono::seconds(1)); // let the proxy settle
    const auto after = process_tree_usage(o.proxy_pid);
    const std::size_t answered = ping_all(o, clients, udp.echo_port());
    const auto b = sample(o, sink, udp);
    const double per = 1.0 / static_cast<double>(clients.size());
    result_line(o, "udp-held")
        .add("associations", std::to_string(o.associations))
        .add("opened", std::to_string(clients.size()))
        .add("answered", std::to_string(answered))
        .add("open_per_s", static_cast<double>(clients.size()) / open_secs, 0)
        .add("rss_before_kib", static_cast<double>(before.rss_bytes) / 1024, 0)
        .add("rss_after_kib", static_cast<double>(after.rss_bytes) / 1024, 0)
        .add("rss_per_assoc_bytes",
             (static_cast<double>(after.rss_bytes) - static_cast<double>(before.rss_bytes)) * per,
             0)
        .add("fds_per_assoc",
             (static_cast<double>(after.fds) - static_cast<double>(before.fds)) * per, 2)
        .add_usage(a, b)
        .print();
    if (answered < clients.size())
        std::fprintf(stderr, "loadgen: %zu of %zu associations did not answer\n",
                     clients.size() - answered, clients.size());
    return answered == static_cast<std::size_t>(o.associations) ? exit_ok : exit_incomplete;
}

} // namespace weir::bench
