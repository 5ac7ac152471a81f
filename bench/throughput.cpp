// Bulk transfer through N connections to the stream service for a fixed time.
#include "bench/dialer.hpp"
#include "bench/scenario.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <sys/socket.h>

namespace weir::bench {
namespace {

constexpr std::size_t io_size = 256 * 1024;

struct stream_conn {
    dialer d;
    std::uint64_t sent = 0;
    std::uint64_t received = 0;
    bool shut = false; ///< we sent our EOF: the trailer may follow
    bool done = false;
    std::uint8_t trailer[trailer_size]{};
    std::size_t trailer_len = 0;
    const char* error = nullptr;
};

std::uint64_t read_u64(const std::uint8_t* p) {
    std::uint64_t v = 0;
    for (int i = 7; i >= 0; --i)
        v = (v << 8) | p[i];
    return v;
}

/// The stream's first byte: who sends, and whether the server discards what it reads.
std::uint8_t stream_flags(const run_options& o) {
    int flags = o.dir == "up"     ? stream_upload
                : o.dir == "down" ? stream_download
                                  : stream_upload | stream_download;
    if (o.truncate) flags |= stream_truncate;
    return static_cast<std::uint8_t>(flags);
}

class throughput_run {
public:
    throughput_run(const run_options& o, sink_server& sink)
        : o_(o)
        , sink_(sink)
        , plan_(make_plan(o, sink.ports().stream))
        , conns_(static_cast<std::size_t>(std::max(o.conns, 1)))
        , buffer_(io_size)
        , flags_(stream_flags(o)) {}

    int run();

private:
    bool dial_all();
    void on_event(std::size_t i, std::uint32_t events);
    void on_ready(std::size_t i);
    void on_readable(stream_conn& c);
    void take_trailer(stream_conn& c, const std::uint8_t* p, std::size_t n);
    void on_writable(stream_conn& c);
    void fail(stream_conn& c, const char* why);
    void pump_until(double until);
    std::uint64_t total_bytes() const;
    int finish(const usage_sample& a, const usage_sample& b, std::uint64_t bytes);

    const run_options& o_;
    sink_server& sink_;
    dial_plan plan_;
    event_loop loop_;
    std::vector<stream_conn> conns_;
    std::vector<std::uint8_t> buffer_;
    std::uint8_t flags_;
    std::size_t ready_ = 0;
};

void throughput_run::fail(stream_conn& c, const char* why) {
    if (c.done) return;
    c.error = why;
    c.done = true;
    c.d.close();
}

void throughput_run::on_event(std::size_t i, std::uint32_t events) {
    stream_conn& c = conns_[i];
    if (c.done) return;
    if (c.d.current() != dialer::state::ready) {
        const auto s = c.d.on_event(events);
        if (s == dialer::state::failed) return fail(c, c.d.error());
        if (s == dialer::state::ready) return on_ready(i);
        return c.d.sync(loop_, i);
    }
    if ((events & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0) on_readable(c);
    if (!c.done && !c.shut && (events & EPOLLOUT) != 0) on_writable(c);
}

void throughput_run::on_ready(std::size_t i) {
    stream_conn& c = conns_[i];
    if (!c.d.leftover().empty()) return fail(c, "unexpected bytes after the handshake");
    if (::send(c.d.fd(), &flags_, 1, MSG_NOSIGNAL) != 1) return fail(c, "header not sent");
    ++ready_;
    c.d.watch(loop_, i, EPOLLIN);
}

void throughput_run::on_writable(stream_conn& c) {
    const ssize_t n = ::send(c.d.fd(), buffer_.data(), io_size, MSG_NOSIGNAL);
    if (n > 0) c.sent += static_cast<std::uint64_t>(n);
    if (n < 0 && errno != EAGAIN && errno != EINTR) fail(c, std::strerror(errno));
}

void throughput_run::on_readable(stream_conn& c) {
    // The trailer, after our EOF, is read for real.
    const int flags = o_.truncate && !c.shut ? MSG_TRUNC : 0;
    const ssize_t n = ::recv(c.d.fd(), buffer_.data(), io_size, flags);
    if (n < 0) {
        if (errno != EAGAIN && errno != EINTR) fail(c, std::strerror(errno));
        return;
    }
    if (n == 0) {
        if (c.trailer_len != trailer_size) return fail(c, "EOF before the trailer");
        c.done = true;
        c.d.close();
        return;
    }
    const auto got = static_cast<std::size_t>(n);
    if (!c.shut) { // the server sends its trailer only after our EOF
        c.received += got;
        return;
    }
    take_trailer(c, buffer_.data(), got);
}

/// After our EOF: zeros still in flight, then 01 and two counters.
void throughput_run::take_trailer(stream_conn& c, const std::uint8_t* p, std::size_t n) {
    if (c.trailer_len == 0) {
        const auto* first = std::find_if(p, p + n, [](std::uint8_t b) { return b != 0; });
        c.received += static_cast<std::uint64_t>(first - p);
        n -= static_cast<std::size_t>(first - p);
        p = first;
    }
    if (n > trailer_size - c.trailer_len) return fail(c, "bytes after the trailer");
    std::memcpy(c.trailer + c.trailer_len, p, n);
    c.trailer_len += n;
}

std::uint64_t throughput_run::total_bytes() const {
    std::uint64_t total = 0;
    for (const auto& c : conns_)
        total += c.sent + c.received;
    return total;
}

void throughput_run::pump_until(double until) {
    for (double now = now_seconds(); now < until; now = now_seconds()) {
        const int wait = static_cast<int>(std::min(10.0, (until - now) * 1000.0));
        loop_.poll(std::max(wait, 0), [this](std::uint64_t tok, std::uint32_t ev) {
            on_event(static_cast<std::size_t>(tok), ev);
        });
    }
}

bool throughput_run::dial_all() {
    for (std::size_t i = 0; i < conns_.size(); ++i) {
        if (!conns_[i].d.start(plan_.connect_to, nullptr, plan_.steps))
            fail(conns_[i], conns_[i].d.error());
        else
            conns_[i].d.sync(loop_, i);
    }
    const double deadline = now_seconds() + o_.timeout;
    while (ready_ < conns_.size() && now_seconds() < deadline)
        loop_.poll(10, [this](std::uint64_t tok, std::uint32_t ev) {
            on_event(static_cast<std::size_t>(tok), ev);
        });
    return ready_ == conns_.size();
}

int throughput_run::run() {
    if (!dial_all()) {
        for (const auto& c : conns_)
            if (c.d.current() != dialer::state::ready)
                std::fprintf(stderr, "loadgen: dial failed: %s\n",
                             c.error != nullptr ? c.error : "timeout");
        result_line(o_, "throughput").add("error", "dial").print();
        return exit_incomplete;
    }
    const std::uint32_t events = EPOLLIN | ((flags_ & stream_upload) != 0 ? EPOLLOUT : 0u);
    for (std::size_t i = 0; i < conns_.size(); ++i)
        conns_[i].d.watch(loop_, i, events);
    pump_until(now_seconds() + o_.warmup);
    const auto a = take_sample(o_, sink_);
    const auto bytes_a = total_bytes();
    pump_until(a.wall + o_.duration);
    const auto b = take_sample(o_, sink_);
    const auto bytes = total_bytes() - bytes_a;
    for (std::size_t i = 0; i < conns_.size(); ++i) {
        auto& c = conns_[i];
        if (c.done) continue;
        c.shut = true;
        ::shutdown(c.d.fd(), SHUT_WR);
        c.d.watch(loop_, i, EPOLLIN);
    }
    const double deadline = now_seconds() + o_.timeout;
    while (now_seconds() < deadline &&
           std::any_of(conns_.begin(), conns_.end(), [](const auto& c) { return !c.done; }))
        pump_until(std::min(deadline, now_seconds() + 0.05));
    return finish(a, b, bytes);
}

int throughput_run::finish(const usage_sample& a, const usage_sample& b, std::uint64_t bytes) {
    int rc = exit_ok;
    for (auto& c : conns_) {
        if (!c.done) fail(c, "no trailer before the timeout");
        if (c.error != nullptr) {
            std::fprintf(stderr, "loadgen: connection failed: %s\n", c.error);
            rc = std::max(rc, exit_incomplete);
        } else if (c.trailer[0] != 0x01 || read_u64(c.trailer + 1) != c.sent ||
                   read_u64(c.trailer + 9) != c.received) {
            std::fprintf(stderr,
                         "loadgen: byte count mismatch: sent %llu, server got %llu; "
                         "received %llu, server sent %llu\n",
                         static_cast<unsigned long long>(c.sent),
                         static_cast<unsigned long long>(read_u64(c.trailer + 1)),
                         static_cast<unsigned long long>(c.received),
                         static_cast<unsigned long long>(read_u64(c.trailer + 9)));
            rc = exit_mismatch;
        }
    }
    const double secs = b.wall - a.wall;
    const double gb = static_cast<double>(bytes) / 1e9;
    result_line(o_, "throughput")
        .add("conns", std::to_string(conns_.size()))
        .add("dir", o_.dir)
        .add("truncate", o_.truncate ? "1" : "0")
        .add("gbps", gb * 8 / secs)
        .add("bytes", std::to_string(bytes))
        .add_usage(a, b)
        .add("proxy_cpu_per_gb", gb > 0 ? (b.proxy_cpu - a.proxy_cpu) / gb : 0)
        .add("loadgen_cpu_per_gb", gb > 0 ? (b.self_cpu - a.self_cpu) / gb : 0)
        .add("machine_cpu_per_gb",
             gb > 0 ? (b.machine.busy_seconds - a.machine.busy_seconds) / gb : 0)
        .add("ok", rc == exit_ok ? "1" : "0")
        .print();
    return rc;
}

} // namespace

int run_throughput(const run_options& o, sink_server& sink) {
    return throughput_run(o, sink).run();
}

} // namespace weir::bench
