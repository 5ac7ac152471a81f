// A one-way flood over UDP associations (or direct) to the discard port:
// what the proxy delivers of what it is offered, and what that costs it.
#include "bench/udp_io.hpp"

#include <algorithm>
#include <chrono>
#include <thread>

namespace weir::bench {
namespace {

constexpr double drain_seconds = 0.2; ///< after the last send, before counting what arrived

class flood_run {
public:
    flood_run(const run_options& o, sink_server& sink, udp_echo_server& udp,
              std::vector<udp_client> clients)
        : o_(o)
        , sink_(sink)
        , udp_(udp)
        , clients_(std::move(clients))
        , out_(udp_request_header(o.proxy, ipv4_address(0x7f000001, udp.discard_port())),
               std::max<std::size_t>(o.size, 1)) {}

    int run();

private:
    /// Batches of one payload on every association in turn, as fast as the
    /// kernel takes them or at --rate (what a full socket buffer refuses is
    /// not counted as sent).
    void send_until(double until) {
        for (double now = now_seconds(); now < until; now = now_seconds()) {
            if (o_.rate > 0 && static_cast<double>(sent_) >= (now - start_) * o_.rate) {
                std::this_thread::sleep_for(std::chrono::microseconds(50));
                continue;
            }
            for (const auto& c : clients_) {
                for (std::size_t i = 0; i < udp_batch; ++i)
                    out_.push(true);
                sent_ += out_.flush(c.udp.get());
            }
        }
    }

    const run_options& o_;
    sink_server& sink_;
    udp_echo_server& udp_;
    std::vector<udp_client> clients_;
    send_queue out_;
    std::uint64_t sent_ = 0;
    double start_ = now_seconds();
};

int flood_run::run() {
    send_until(now_seconds() + o_.warmup);
    const auto a = sample(o_, sink_, udp_);
    const auto sent_a = sent_;
    const auto got_a = udp_.discarded();
    const auto bytes_a = udp_.discarded_bytes();
    send_until(a.wall + o_.duration);
    const auto b = sample(o_, sink_, udp_);
    const auto sent = sent_ - sent_a;
    const auto got = udp_.discarded() - got_a;
    const auto bytes = udp_.discarded_bytes() - bytes_a;
    std::this_thread::sleep_for(std::chrono::duration<double>(drain_seconds));
    const auto got_all = udp_.discarded();
    const double secs = b.wall - a.wall;
    const double dgrams = static_cast<double>(got);
    const double loss =
        sent_ > 0 ? 100.0 * (1.0 - static_cast<double>(got_all) / static_cast<double>(sent_))
                  : 100.0;
    result_line(o_, "udp-flood")
        .add("associations", std::to_string(clients_.size()))
        .add("size", std::to_string(o_.size))
        .add("rate", o_.rate, 0)
        .add("sent_per_s", static_cast<double>(sent) / secs, 0)
        .add("dgrams_per_s", dgrams / secs, 0)
        .add("gbps", static_cast<double>(bytes) * 8 / secs / 1e9)
        .add("loss_pct", std::max(loss, 0.0), 2)
        .add("sent", std::to_string(sent_))
        .add("delivered", std::to_string(got_all))
        .add_usage(a, b)
        .add_per_datagram(a, b, dgrams)
        .print();
    return got > 0 ? exit_ok : exit_incomplete;
}

} // namespace

int run_udp_flood(const run_options& o, sink_server& sink) {
    udp_echo_server udp;
    auto clients = open_associations(o, ipv4_address(0x7f000001, udp.discard_port()), "udp-flood");
    if (clients.empty()) return exit_incomplete;
    return flood_run(o, sink, udp, std::move(clients)).run();
}

} // namespace weir::bench
