// K idle sessions through the proxy: what each costs it, then a wake-up of all.
#include "bench/dialer.hpp"
#include "bench/proc_stats.hpp"
#include "bench/scenario.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <sys/socket.h>

namespace weir::bench {
namespace {

constexpr std::size_t wake_size = 8;
constexpr std::size_t max_failures = 100;

struct idle_session {
    dialer d;
    double started = 0;
    bool open = false;
    bool done = false; ///< woken and checked, or failed
    bool failed = false;
    std::uint8_t got[wake_size]{};
    std::size_t got_len = 0;
};

class idle_run {
public:
    idle_run(const run_options& o, sink_server& sink, std::size_t sessions)
        : o_(o)
        , sink_(sink)
        , plan_(make_plan(o, sink.ports().echo))
        , sessions_(sessions) {}

    int run();

private:
    void open_all();
    void wake_all();
    void on_event(std::size_t i, std::uint32_t events);
    void on_echo(std::size_t i);
    void fail(std::size_t i, const char* why);
    void pump(double seconds);
    std::size_t open_count() const;

    const run_options& o_;
    sink_server& sink_;
    dial_plan plan_;
    event_loop loop_;
    std::vector<idle_session> sessions_;
    std::size_t in_flight_ = 0;
    std::size_t failures_ = 0;
    bool waking_ = false;
    const char* first_error_ = nullptr;
};

void idle_run::fail(std::size_t i, const char* why) {
    auto& s = sessions_[i];
    if (s.d.current() != dialer::state::ready && !s.failed) --in_flight_;
    s.failed = s.done = true;
    s.d.close();
    ++failures_;
    if (first_error_ == nullptr) first_error_ = why;
}

void idle_run::on_event(std::size_t i, std::uint32_t events) {
    auto& s = sessions_[i];
    if (s.done) return;
    if (s.open) return waking_ ? on_echo(i) : fail(i, "closed or data while idle");
    const auto st = s.d.on_event(events);
    if (st == dialer::state::failed) return fail(i, s.d.error());
    if (st != dialer::state::ready) return s.d.sync(loop_, i);
    if (!s.d.leftover().empty()) return fail(i, "unexpected bytes after the handshake");
    s.open = true;
    --in_flight_;
    s.d.watch(loop_, i, EPOLLIN);
}

/// Each session sends its index (8 bytes) and expects it back.
void idle_run::on_echo(std::size_t i) {
    auto& s = sessions_[i];
    const ssize_t n = ::recv(s.d.fd(), s.got + s.got_len, wake_size - s.got_len, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n <= 0) return fail(i, n == 0 ? "EOF before the echo" : std::strerror(errno));
    s.got_len += static_cast<std::size_t>(n);
    if (s.got_len < wake_size) return;
    std::uint64_t index = 0;
    std::memcpy(&index, s.got, wake_size);
    if (index != i) return fail(i, "wrong echo");
    s.done = true;
}

void idle_run::pump(double seconds) {
    const double end = now_seconds() + seconds;
    while (now_seconds() < end)
        loop_.poll(10, [this](std::uint64_t tok, std::uint32_t ev) {
            on_event(static_cast<std::size_t>(tok), ev);
        });
}

void idle_run::open_all() {
    const auto limit = static_cast<std::size_t>(std::max(o_.concurrency, 1));
    std::size_t next = 0;
    const double deadline =
        now_seconds() + o_.timeout + static_cast<double>(sessions_.size()) / 200;
    while ((next < sessions_.size() || in_flight_ > 0) && failures_ < max_failures &&
           now_seconds() < deadline) {
        for (; next < sessions_.size() && in_flight_ < limit; ++next) {
            auto& s = sessions_[next];
            s.started = now_seconds();
            ++in_flight_;
            if (s.d.start(plan_.connect_to, nullptr, plan_.steps))
                s.d.sync(loop_, next);
            else
                fail(next, s.d.error());
        }
        loop_.poll(10, [this](std::uint64_t tok, std::uint32_t ev) {
            on_event(static_cast<std::size_t>(tok), ev);
        });
        const double now = now_seconds();
        for (std::size_t i = 0; i < next; ++i)
            if (!sessions_[i].open && !sessions_[i].done && now - sessions_[i].started > o_.timeout)
                fail(i, "timeout");
    }
    for (std::size_t i = 0; i < sessions_.size(); ++i) // never started, or still dialing
        if (!sessions_[i].open && !sessions_[i].done) sessions_[i].done = true;
}

void idle_run::wake_all() {
    waking_ = true;
    for (std::size_t i = 0; i < sessions_.size(); ++i) {
        auto& s = sessions_[i];
        if (!s.open || s.done) continue;
        const std::uint64_t index = i;
        if (::send(s.d.fd(), &index, wake_size, MSG_NOSIGNAL) != wake_size)
            fail(i, "wake-up not sent");
    }
    const double deadline = now_seconds() + o_.timeout;
    while (now_seconds() < deadline &&
           std::any_of(sessions_.begin(), sessions_.end(), [](const auto& s) { return !s.done; }))
        pump(0.05);
    for (std::size_t i = 0; i < sessions_.size(); ++i)
        if (!sessions_[i].done) fail(i, "no echo before the timeout");
}

std::size_t idle_run::open_count() const {
    return static_cast<std::size_t>(std::count_if(
        sessions_.begin(), sessions_.end(), [](const auto& s) { return s.open && !s.failed; }));
}

int idle_run::run() {
    const auto before = process_tree_usage(o_.proxy_pid);
    const auto a = take_sample(o_, sink_);
    open_all();
    const double open_secs = now_seconds() - a.wall;
    pump(1.0); // let the proxy settle; closes show up as failures
    const auto after = process_tree_usage(o_.proxy_pid);
    const std::size_t opened = open_count();
    wake_all();
    const auto b = take_sample(o_, sink_);
    const std::size_t woken = open_count(); // every open one that did not fail was checked
    const double per = opened > 0 ? 1.0 / static_cast<double>(opened) : 0;
    result_line(o_, "idle")
        .add("sessions", std::to_string(sessions_.size()))
        .add("opened", std::to_string(opened))
        .add("woken", std::to_string(woken))
        .add("open_per_s", static_cast<double>(opened) / open_secs, 0)
        .add("rss_before_kib", static_cast<double>(before.rss_bytes) / 1024, 0)
        .add("rss_after_kib", static_cast<double>(after.rss_bytes) / 1024, 0)
        .add("rss_per_session_bytes",
             (static_cast<double>(after.rss_bytes) - static_cast<double>(before.rss_bytes)) * per,
             0)
        .add("fds_per_session",
             (static_cast<double>(after.fds) - static_cast<double>(before.fds)) * per, 2)
        .add_usage(a, b)
        .print();
    if (first_error_ != nullptr) std::fprintf(stderr, "loadgen: first error: %s\n", first_error_);
    for (auto& s : sessions_)
        s.d.close();
    return woken == sessions_.size() ? exit_ok : exit_incomplete;
}

} // namespace

int run_idle(const run_options& o, sink_server& sink) {
    const std::uint64_t limit = raise_fd_limit();
    std::size_t k = static_cast<std::size_t>(std::max(o.sessions, 1));
    const std::size_t fit = limit > 128 ? static_cast<std::size_t>((limit - 128) / 2) : 1;
    if (k > fit) {
        std::fprintf(stderr, "loadgen: fd limit %llu holds %zu sessions (2 fds each), not %zu\n",
                     static_cast<unsigned long long>(limit), fit, k);
        k = fit;
    }
    return idle_run(o, sink, k).run();
}

} // namespace weir::bench
