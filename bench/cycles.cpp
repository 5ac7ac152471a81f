// Full connection cycles with C clients at once: connect, handshake, one byte
// echoed, the server closes, the client closes.
#include "bench/dialer.hpp"
#include "bench/scenario.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <sys/socket.h>
#include <utility>

namespace weir::bench {
namespace {

constexpr std::uint8_t ping = 'x';

struct cycle_slot {
    dialer d;
    std::uint32_t gen = 0;
    double started = 0;
    bool echoed = false;
};

class cycles_run {
public:
    cycles_run(const run_options& o, sink_server& sink)
        : o_(o)
        , sink_(sink)
        , plan_(make_plan(o, sink.ports().cycle))
        , slots_(static_cast<std::size_t>(std::max(o.concurrency, 1))) {}

    int run();

private:
    void start(std::size_t i);
    void on_event(std::size_t i, std::uint32_t events);
    void on_payload(std::size_t i);
    void end(std::size_t i, const char* error);
    void check_timeouts();
    void prime();
    bool busy() const;
    std::pair<usage_sample, usage_sample> drive(double begin);
    bool may_start() const;
    std::uint64_t token(std::size_t i) const { return (std::uint64_t{slots_[i].gen} << 32) | i; }

    const run_options& o_;
    sink_server& sink_;
    dial_plan plan_;
    event_loop loop_;
    std::vector<cycle_slot> slots_;
    double t0_ = 0; ///< measuring from
    double t1_ = 0; ///< no new cycles after
    std::uint64_t started_ = 0;
    std::uint64_t completed_ = 0;
    std::uint64_t errors_ = 0;
    std::uint64_t in_window_ = 0;
    std::vector<double> latencies_ms_;
    const char* first_error_ = nullptr;
};

bool cycles_run::may_start() const {
    return now_seconds() < t1_ && (o_.count == 0 || started_ < o_.count);
}

void cycles_run::start(std::size_t i) {
    cycle_slot& s = slots_[i];
    ++s.gen;
    s.echoed = false;
    s.started = now_seconds();
    ++started_;
    sockaddr_in from{};
    if (o_.sources > 0)
        from = ipv4_address(0x7f000101 + static_cast<std::uint32_t>(
                                             started_ % static_cast<std::uint64_t>(o_.sources)),
                            0);
    if (!s.d.start(plan_.connect_to, o_.sources > 0 ? &from : nullptr, plan_.steps))
        return end(i, s.d.error());
    s.d.sync(loop_, token(i));
}

void cycles_run::end(std::size_t i, const char* error) {
    cycle_slot& s = slots_[i];
    s.d.close();
    const double now = now_seconds();
    if (error != nullptr) {
        ++errors_;
        if (first_error_ == nullptr) first_error_ = error;
    } else {
        ++completed_;
        if (o_.count > 0 || (s.started >= t0_ && now <= t1_)) {
            ++in_window_;
            latencies_ms_.push_back((now - s.started) * 1000.0);
        }
    }
    if (may_start()) start(i);
}

void cycles_run::on_event(std::size_t i, std::uint32_t events) {
    cycle_slot& s = slots_[i];
    if (s.d.current() == dialer::state::ready) return on_payload(i);
    const auto st = s.d.on_event(events);
    if (st == dialer::state::failed) return end(i, s.d.error());
    if (st != dialer::state::ready) return s.d.sync(loop_, token(i));
    if (!s.d.leftover().empty()) return end(i, "unexpected bytes after the handshake");
    if (::send(s.d.fd(), &ping, 1, MSG_NOSIGNAL) != 1) return end(i, "payload not sent");
    s.d.watch(loop_, token(i), EPOLLIN);
}

/// The echo, then EOF from the server.
void cycles_run::on_payload(std::size_t i) {
    cycle_slot& s = slots_[i];
    for (int reads = 0; reads < 2; ++reads) {
        std::uint8_t in[8];
        const ssize_t n = ::recv(s.d.fd(), in, sizeof in, 0);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) return;
            return end(i, std::strerror(errno));
        }
        if (n == 0) return end(i, s.echoed ? nullptr : "EOF before the echo");
        if (s.echoed || n != 1 || in[0] != ping) return end(i, "wrong echo");
        s.echoed = true;
    }
}

void cycles_run::check_timeouts() {
    const double now = now_seconds();
    for (std::size_t i = 0; i < slots_.size(); ++i)
        if (slots_[i].d.current() != dialer::state::idle && now - slots_[i].started > o_.timeout)
            end(i, "timeout");
}

/// One cycle alone first, not counted: it fills the proxy's credential cache.
void cycles_run::prime() {
    t1_ = 0; // end() starts no other cycle
    start(0);
    const double deadline = now_seconds() + o_.timeout + 1;
    while (slots_[0].d.current() != dialer::state::idle && now_seconds() < deadline)
        loop_.poll(5, [this](std::uint64_t tok, std::uint32_t ev) {
            if (tok == token(0) && slots_[0].d.current() != dialer::state::idle) on_event(0, ev);
        });
    if (slots_[0].d.current() != dialer::state::idle) end(0, "timeout");
    started_ = completed_ = in_window_ = 0;
    latencies_ms_.clear();
}

bool cycles_run::busy() const {
    return std::any_of(slots_.begin(), slots_.end(),
                       [](const auto& s) { return s.d.current() != dialer::state::idle; });
}

/// Runs the cycles until time or count is up and all have ended; returns the
/// usage at the start and the end of the measured window.
std::pair<usage_sample, usage_sample> cycles_run::drive(double begin) {
    usage_sample a = take_sample(o_, sink_);
    usage_sample b;
    bool sampled_a = o_.count > 0;
    bool sampled_b = false;
    double last_check = begin;
    const double hard_end = t1_ + o_.timeout + 1;
    while (busy() && now_seconds() < hard_end) {
        loop_.poll(5, [this](std::uint64_t tok, std::uint32_t ev) {
            const auto i = static_cast<std::size_t>(tok & 0xffffffffu);
            if (i < slots_.size() && slots_[i].gen == tok >> 32 &&
                slots_[i].d.current() != dialer::state::idle)
                on_event(i, ev);
        });
        const double now = now_seconds();
        if (!sampled_a && now >= t0_) {
            a = take_sample(o_, sink_);
            sampled_a = true;
        }
        if (!sampled_b && o_.count == 0 && now >= t1_) {
            b = take_sample(o_, sink_);
            sampled_b = true;
        }
        if (now - last_check > 0.1) {
            check_timeouts();
            last_check = now;
        }
    }
    if (!sampled_b) b = take_sample(o_, sink_);
    return {a, b};
}

int cycles_run::run() {
    prime();
    const double begin = now_seconds();
    t0_ = o_.count > 0 ? begin : begin + o_.warmup;
    t1_ = o_.count > 0 ? begin + o_.duration : t0_ + o_.duration;
    if (o_.count == 0) latencies_ms_.reserve(1 << 20);
    for (std::size_t i = 0; i < slots_.size() && may_start(); ++i)
        start(i);
    const auto [a, b] = drive(begin);
    const double window = o_.count > 0 ? b.wall - a.wall : o_.duration;
    result_line(o_, "cycles")
        .add("concurrency", std::to_string(slots_.size()))
        .add("handshake", o_.steps ? "steps" : "pipelined")
        .add("auth", o_.proxy.user.empty() ? "none" : "password")
        .add("cycles_per_s", static_cast<double>(in_window_) / window, 0)
        .add("p50_ms", percentile(latencies_ms_, 50))
        .add("p99_ms", percentile(latencies_ms_, 99))
        .add("completed", std::to_string(completed_))
        .add("errors", std::to_string(errors_))
        .add_usage(a, b)
        .print();
    if (first_error_ != nullptr) std::fprintf(stderr, "loadgen: first error: %s\n", first_error_);
    const bool short_count = o_.count > 0 && completed_ != o_.count;
    return errors_ > 0 || short_count || busy() ? exit_incomplete : exit_ok;
}

} // namespace

int run_cycles(const run_options& o, sink_server& sink) {
    return cycles_run(o, sink).run();
}

} // namespace weir::bench
