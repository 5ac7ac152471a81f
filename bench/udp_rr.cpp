// Request/response over UDP associations (or direct) to the echo port: K
// datagrams in flight per association, each sent again as it comes back.
#include "bench/udp_io.hpp"

#include <algorithm>
#include <cstring>

namespace weir::bench {
namespace {

constexpr double lost_after = 0.2;    ///< seconds before a datagram counts as lost
constexpr std::size_t stamp_size = 8; ///< u32 slot, u32 sequence at the payload's start

struct in_flight {
    std::uint32_t seq = 0;
    double sent = 0;
};

class rr_run {
public:
    rr_run(const run_options& o, sink_server& sink, udp_echo_server& udp,
           std::vector<udp_client> clients)
        : o_(o)
        , sink_(sink)
        , udp_(udp)
        , clients_(std::move(clients))
        , k_(static_cast<std::size_t>(std::max(o.in_flight, 1)))
        , size_(std::max(o.size, stamp_size))
        , slots_(clients_.size() * k_)
        , out_(udp_request_header(o.proxy, ipv4_address(0x7f000001, udp.echo_port())), size_) {
        for (std::size_t i = 0; i < clients_.size(); ++i)
            loop_.add(clients_[i].udp.get(), EPOLLIN, i);
    }

    int run();

private:
    void send_slot(std::size_t client, std::size_t k, double now);
    void on_readable(std::size_t client);
    void expire(double now);
    void pump_until(double until);

    const run_options& o_;
    sink_server& sink_;
    udp_echo_server& udp_;
    std::vector<udp_client> clients_;
    std::size_t k_;
    std::size_t size_; ///< payload bytes, as sent and as they must come back
    std::vector<in_flight> slots_;
    send_queue out_;
    receive_queue in_;
    event_loop loop_;
    bool measuring_ = false;
    std::vector<double> rtt_ms_;
    std::uint64_t lost_ = 0;
    std::uint64_t stale_ = 0; ///< came back after counting as lost, or the wrong size
};

/// Queues slot k of `client` again with a new sequence number (sending the
/// queue when full: it holds one client's datagrams at a time).
void rr_run::send_slot(std::size_t client, std::size_t k, double now) {
    if (out_.full()) out_.flush(clients_[client].udp.get());
    auto& s = slots_[client * k_ + k];
    ++s.seq;
    s.sent = now;
    const std::uint32_t stamp[2] = {static_cast<std::uint32_t>(k), s.seq};
    std::memcpy(out_.next(), stamp, sizeof stamp);
    out_.push();
}

void rr_run::on_readable(std::size_t client) {
    const int fd = clients_[client].udp.get();
    const std::size_t n = in_.receive(fd);
    const double now = now_seconds();
    for (std::size_t i = 0; i < n; ++i) {
        std::size_t size = in_.size(i);
        const std::uint8_t* p = payload_of(o_.proxy, in_.data(i), size);
        std::uint32_t stamp[2] = {0, 0};
        if (p != nullptr && size == size_) std::memcpy(stamp, p, sizeof stamp);
        if (p == nullptr || size != size_ || stamp[0] >= k_ ||
            slots_[client * k_ + stamp[0]].seq != stamp[1]) {
            ++stale_;
            continue;
        }
        if (measuring_) rtt_ms_.push_back((now - slots_[client * k_ + stamp[0]].sent) * 1000.0);
        send_slot(client, stamp[0], now);
    }
    out_.flush(fd); // one refused is lost, and replaced after lost_after
}

/// A datagram not back after lost_after counts as lost and is replaced.
void rr_run::expire(double now) {
    for (std::size_t c = 0; c < clients_.size(); ++c) {
        for (std::size_t k = 0; k < k_; ++k)
            if (now - slots_[c * k_ + k].sent > lost_after) {
                if (measuring_) ++lost_;
                send_slot(c, k, now);
            }
        out_.flush(clients_[c].udp.get());
    }
}

void rr_run::pump_until(double until) {
    double next_check = now_seconds() + lost_after / 4;
    for (double now = now_seconds(); now < until; now = now_seconds()) {
        loop_.poll(5, [this](std::uint64_t tok, std::uint32_t) {
            on_readable(static_cast<std::size_t>(tok));
        });
        if (now >= next_check) {
            expire(now);
            next_check = now + lost_after / 4;
        }
    }
}

int rr_run::run() {
    const double start = now_seconds();
    for (std::size_t c = 0; c < clients_.size(); ++c) {
        for (std::size_t k = 0; k < k_; ++k)
            send_slot(c, k, start);
        out_.flush(clients_[c].udp.get());
    }
    pump_until(start + o_.warmup);
    rtt_ms_.reserve(1 << 22);
    measuring_ = true;
    const auto a = sample(o_, sink_, udp_);
    pump_until(a.wall + o_.duration);
    const auto b = sample(o_, sink_, udp_);
    measuring_ = false;
    const double secs = b.wall - a.wall;
    const auto trips = rtt_ms_.size();
    const double dgrams = 2.0 * static_cast<double>(trips); // each relayed there and back
    const double p50 = percentile(rtt_ms_, 50);
    result_line(o_, "udp-rr")
        .add("associations", std::to_string(clients_.size()))
        .add("in_flight", std::to_string(k_))
        .add("size", std::to_string(o_.size))
        .add("round_trips", std::to_string(trips))
        .add("rr_per_s", static_cast<double>(trips) / secs, 0)
        .add("p50_us", p50 * 1000, 1)
        .add("p99_us", percentile(rtt_ms_, 99) * 1000, 1)
        .add("lost", std::to_string(lost_))
        .add("loss_pct",
             100.0 * static_cast<double>(lost_) /
                 static_cast<double>(std::max<std::uint64_t>(trips + lost_, 1)),
             3)
        .add("stale", std::to_string(stale_))
        .add_usage(a, b)
        .add_per_datagram(a, b, dgrams)
        .print();
    return trips > 0 ? exit_ok : exit_incomplete;
}

} // namespace

int run_udp_rr(const run_options& o, sink_server& sink) {
    udp_echo_server udp;
    auto clients = open_associations(o, ipv4_address(0x7f000001, udp.echo_port()), "udp-rr");
    if (clients.empty()) return exit_incomplete;
    return rr_run(o, sink, udp, std::move(clients)).run();
}

} // namespace weir::bench
