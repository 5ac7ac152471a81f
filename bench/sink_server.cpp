#include "bench/sink_server.hpp"

#include <cstring>
#include <ctime>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sys/socket.h>

namespace weir::bench {
namespace {

constexpr std::size_t io_size = 256 * 1024;
constexpr std::uint64_t listener_token = ~std::uint64_t{0} - 8;
constexpr std::uint8_t echo_kind = 0;
constexpr std::uint8_t cycle_kind = 1;
constexpr std::uint8_t stream_kind = 2;

const std::uint8_t* zeros() {
    static const std::vector<std::uint8_t> z(io_size);
    return z.data();
}

} // namespace

struct sink_server::conn {
    unique_fd fd;
    std::uint32_t gen = 0;
    std::uint32_t events = 0;
    std::uint8_t kind = echo_kind;
    std::uint8_t flags = 0;
    bool have_flags = false;
    bool eof = false;
    std::uint64_t rx = 0;
    std::uint64_t tx = 0;
    std::vector<std::uint8_t> pending;
    std::size_t pending_off = 0;
};

sink_server::sink_server()
    : buffer_(io_size) {
    const auto any = ipv4_address(0x7f000001, 0);
    for (auto& l : listeners_)
        l = listen_tcp(any, 4096);
    ports_ = {local_port(listeners_[0].get()), local_port(listeners_[1].get()),
              local_port(listeners_[2].get())};
    for (std::uint8_t k = 0; k < 3; ++k)
        loop_.add(listeners_[k].get(), EPOLLIN, listener_token + k);
    (void)zeros();
    thread_ = std::thread([this] { run(); });
}

sink_server::~sink_server() {
    stop_ = true;
    thread_.join();
}

double sink_server::cpu_seconds() const {
    clockid_t id{};
    auto handle = const_cast<std::thread&>(thread_).native_handle();
    timespec ts{};
    if (::pthread_getcpuclockid(handle, &id) != 0 || ::clock_gettime(id, &ts) != 0) return 0;
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

std::uint64_t sink_server::token(std::uint32_t index) const {
    return (std::uint64_t{conns_[index].gen} << 32) | index;
}

void sink_server::run() {
    while (!stop_) {
        loop_.poll(50, [this](std::uint64_t tok, std::uint32_t events) {
            if (tok >= listener_token) {
                const auto k = static_cast<std::uint8_t>(tok - listener_token);
                accept_all(listeners_[k].get(), k);
                return;
            }
            const auto index = static_cast<std::uint32_t>(tok);
            if (index < conns_.size() && conns_[index].gen == tok >> 32 && conns_[index].fd)
                on_conn(index, events);
        });
    }
}

void sink_server::accept_all(int listener, std::uint8_t kind) {
    for (int i = 0; i < 64; ++i) {
        const int fd = ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) return;
        const int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        std::uint32_t index = 0;
        if (free_.empty()) {
            index = static_cast<std::uint32_t>(conns_.size());
            conns_.emplace_back();
        } else {
            index = free_.back();
            free_.pop_back();
        }
        conn& c = conns_[index];
        c.fd.reset(fd);
        c.kind = kind;
        c.events = EPOLLIN;
        loop_.add(fd, c.events, token(index));
    }
}

void sink_server::release(std::uint32_t index) {
    conn& c = conns_[index];
    const auto gen = c.gen + 1;
    c = conn{};
    c.gen = gen;
    free_.push_back(index);
}

/// Pending output first; a sending stream also waits for room to write.
std::uint32_t sink_server::wanted_events(const conn& c) {
    if (c.pending_off < c.pending.size()) return EPOLLOUT;
    const bool sending = c.kind == stream_kind && (c.flags & stream_download) != 0 && !c.eof;
    return sending ? EPOLLIN | EPOLLOUT : EPOLLIN;
}

void sink_server::on_conn(std::uint32_t index, std::uint32_t events) {
    conn& c = conns_[index];
    if (c.kind == cycle_kind)
        on_cycle(c);
    else if (c.kind == echo_kind)
        on_echo(c, events);
    else
        on_stream(c, events);
    if (!c.fd) {
        release(index);
        return;
    }
    const std::uint32_t want = wanted_events(c);
    if (want != c.events) {
        c.events = want;
        loop_.modify(c.fd.get(), want, token(index));
    }
}

/// Writes what is pending; false on error (the connection is closed).
bool sink_server::flush(conn& c) {
    while (c.pending_off < c.pending.size()) {
        const ssize_t n = ::send(c.fd.get(), c.pending.data() + c.pending_off,
                                 c.pending.size() - c.pending_off, MSG_NOSIGNAL);
        if (n < 0 && errno == EAGAIN) return true;
        if (n < 0) {
            c.fd.reset();
            return false;
        }
        c.pending_off += static_cast<std::size_t>(n);
    }
    c.pending.clear();
    c.pending_off = 0;
    return true;
}

void sink_server::on_echo(conn& c, std::uint32_t events) {
    if (c.pending_off < c.pending.size()) {
        if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) != 0) flush(c);
        return;
    }
    const ssize_t n = ::recv(c.fd.get(), buffer_.data(), buffer_.size(), 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        c.fd.reset();
        return;
    }
    if (n < 0) return;
    c.pending.assign(buffer_.begin(), buffer_.begin() + n);
    flush(c);
}

void sink_server::on_cycle(conn& c) {
    std::uint8_t byte[16];
    const ssize_t n = ::recv(c.fd.get(), byte, sizeof byte, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n > 0) ::send(c.fd.get(), byte, static_cast<std::size_t>(n), MSG_NOSIGNAL);
    c.fd.reset(); // the server closes first
}

void sink_server::on_stream(conn& c, std::uint32_t events) {
    if (c.eof) {
        if (flush(c) && c.pending.empty()) c.fd.reset();
        return;
    }
    if ((events & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0) stream_read(c);
    if (!c.fd || c.eof || (c.flags & stream_download) == 0 || (events & EPOLLOUT) == 0) return;
    const ssize_t n = ::send(c.fd.get(), zeros(), io_size, MSG_NOSIGNAL);
    if (n > 0) c.tx += static_cast<std::uint64_t>(n);
    if (n < 0 && errno != EAGAIN && errno != EINTR) c.fd.reset();
}

void sink_server::stream_read(conn& c) {
    // The first byte is the flags: read, not discarded.
    const int flags = c.have_flags && (c.flags & stream_truncate) != 0 ? MSG_TRUNC : 0;
    const ssize_t n = ::recv(c.fd.get(), buffer_.data(), buffer_.size(), flags);
    if (n < 0) {
        if (errno != EAGAIN && errno != EINTR) c.fd.reset();
        return;
    }
    if (n > 0) {
        auto got = static_cast<std::uint64_t>(n);
        if (!c.have_flags) {
            c.have_flags = true;
            c.flags = buffer_[0];
            --got;
        }
        c.rx += got;
        return;
    }
    c.eof = true;
    c.pending.assign(trailer_size, 0);
    c.pending[0] = 0x01;
    for (std::size_t i = 0; i < 8; ++i) {
        c.pending[1 + i] = static_cast<std::uint8_t>(c.rx >> (8 * i));
        c.pending[9 + i] = static_cast<std::uint8_t>(c.tx >> (8 * i));
    }
    if (flush(c) && c.pending.empty()) c.fd.reset();
}

} // namespace weir::bench
