// weir_reference_relay: the least a splice relay can do, as a yardstick for
// bench/run.sh. SOCKS5 without authentication, or with one RFC 1929 user
// compared in plain text (--user, --password: the least a password costs
// beyond the protocol's extra round trip), CONNECT to 127.0.0.0/8 only,
// one edge-triggered epoll thread per core (each with its own SO_REUSEPORT
// listener, as weir has), a 1 MiB pipe per direction taken from a per-thread
// pool while bytes are in flight and given back when drained. No timeouts, no
// limits, no logging, no copy fallback (a session that cannot get a pipe
// ends): it measures what this machine allows a relay, it is not a server.
// UDP ASSOCIATE (RFC 1928 section 7) in the same spirit: per association a
// relay socket facing the client (on the control connection's local address)
// and one upstream socket, both in the thread's epoll set; recvmmsg/sendmmsg
// in batches of 32 through the thread's buffers (no allocation per datagram);
// IPv4 destinations in 127.0.0.0/8 only, FRAG 0 only; datagrams from any
// source but the client (its port pinned by its first datagram), and replies
// from anyone the client has not sent to (the last 4), are dropped, as are
// datagrams the kernel will not take at once.
#include "bench/net.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <fcntl.h>
#include <memory>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <optional>
#include <string>
#include <sys/socket.h>
#include <system_error>
#include <thread>
#include <unistd.h>
#include <vector>

#include <CLI/CLI.hpp>

namespace {

using namespace weir::bench;

constexpr unsigned splice_flags = SPLICE_F_MOVE | SPLICE_F_NONBLOCK;
constexpr std::size_t spare_pipes = 16;
constexpr std::uint64_t listener_token = 0;
// Set in a token: the event is the target's (or the UDP upstream socket's),
// or the UDP relay socket's (it faces the client); neither: the client's.
constexpr std::uint64_t target_bit = 1;
constexpr std::uint64_t relay_bit = 2;
constexpr std::uint64_t socket_bits = target_bit | relay_bit;
constexpr std::size_t udp_batch = 32;
constexpr std::size_t udp_slot = 65536;
constexpr std::size_t udp_header = 10; ///< RSV RSV FRAG ATYP(1) ADDR(4) PORT(2)
constexpr std::size_t udp_targets = 4;

struct pipe_pair {
    unique_fd read_end;
    unique_fd write_end;
};

/// Pipes of one thread: a new one only when no spare is left.
class pipe_pool {
public:
    explicit pipe_pool(int size)
        : size_(size) {}

    std::optional<pipe_pair> take() {
        if (!spare_.empty()) {
            auto p = std::move(spare_.back());
            spare_.pop_back();
            return p;
        }
        int fds[2];
        if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) return std::nullopt;
        pipe_pair p{unique_fd(fds[0]), unique_fd(fds[1])};
        ::fcntl(fds[1], F_SETPIPE_SZ, size_);
        return p;
    }
    void give_back(pipe_pair p) {
        if (spare_.size() < spare_pipes) spare_.push_back(std::move(p));
    }
    int size() const { return size_; }

private:
    int size_;
    std::vector<pipe_pair> spare_;
};

/// One direction: source socket -> pipe -> destination socket.
struct direction {
    std::optional<pipe_pair> pipe;
    std::size_t held = 0;
    bool eof = false;
    bool done = false;
};

enum class phase { greeting, credentials, request, connecting, relaying, associated };

/// The sockets and peers of a UDP association.
struct association {
    unique_fd relay;    ///< faces the client
    unique_fd upstream; ///< faces the targets
    sockaddr_in client{};
    bool client_port_known = false;
    sockaddr_in targets[udp_targets]{}; ///< replies are accepted from these alone
    std::size_t next_target = 0;
};

/// One thread's datagrams in flight: received in place, sent from there.
struct udp_buffers {
    std::vector<std::uint8_t> data = std::vector<std::uint8_t>(udp_batch * udp_slot);
    mmsghdr in[udp_batch]{};
    iovec in_iov[udp_batch]{};
    sockaddr_in from[udp_batch]{};
    mmsghdr out[udp_batch]{};
    iovec out_iov[udp_batch]{};
    sockaddr_in to[udp_batch]{};

    /// recvmmsg into the slots, each leaving room for a header in front; the
    /// number received (0: none, or an error).
    std::size_t receive(int fd) {
        for (std::size_t i = 0; i < udp_batch; ++i) {
            in_iov[i] = {data.data() + i * udp_slot + udp_header, udp_slot - udp_header};
            in[i].msg_hdr = {};
            in[i].msg_hdr.msg_iov = &in_iov[i];
            in[i].msg_hdr.msg_iovlen = 1;
            in[i].msg_hdr.msg_name = &from[i];
            in[i].msg_hdr.msg_namelen = sizeof from[i];
        }
        const int n = ::recvmmsg(fd, in, udp_batch, MSG_DONTWAIT, nullptr);
        return n > 0 ? static_cast<std::size_t>(n) : 0;
    }
    std::uint8_t* payload(std::size_t i) { return data.data() + i * udp_slot + udp_header; }
    bool usable(std::size_t i) const {
        return (in[i].msg_hdr.msg_flags & MSG_TRUNC) == 0 &&
               in[i].msg_hdr.msg_namelen == sizeof(sockaddr_in);
    }
    /// Queues `size` bytes at `p` to `dst` as the m-th datagram out.
    void queue(std::size_t m, std::uint8_t* p, std::size_t size, const sockaddr_in& dst) {
        to[m] = dst;
        out_iov[m] = {p, size};
        out[m].msg_hdr = {};
        out[m].msg_hdr.msg_iov = &out_iov[m];
        out[m].msg_hdr.msg_iovlen = 1;
        out[m].msg_hdr.msg_name = &to[m];
        out[m].msg_hdr.msg_namelen = sizeof to[m];
    }
    /// sendmmsg of the first `m` queued; what the kernel will not take at once is dropped.
    void flush(int fd, std::size_t m) {
        for (std::size_t i = 0; i < m;) {
            const int r = ::sendmmsg(fd, out + i, static_cast<unsigned>(m - i), MSG_DONTWAIT);
            if (r > 0)
                i += static_cast<std::size_t>(r);
            else if (r < 0 && (errno == EAGAIN || errno == ENOBUFS))
                return;
            else
                ++i; // this one failed (an ICMP error, say): skip it
        }
    }
};

bool same_peer(const sockaddr_in& a, const sockaddr_in& b) {
    return a.sin_addr.s_addr == b.sin_addr.s_addr && a.sin_port == b.sin_port;
}

struct session {
    unique_fd client;
    unique_fd target;
    phase at = phase::greeting;
    std::uint8_t buf[512];
    std::size_t have = 0;
    direction up;
    direction down;
    std::unique_ptr<association> udp;
    bool closed = false;
};

/// Moves bytes from `src` to `dst` until one would block or the direction
/// ends; false on an error (the session then ends).
bool pump(direction& d, int src, int dst, pipe_pool& pipes) {
    if (d.done) return true;
    for (;;) {
        while (d.held > 0) {
            const ssize_t n =
                ::splice(d.pipe->read_end.get(), nullptr, dst, nullptr, d.held, splice_flags);
            if (n > 0) {
                d.held -= static_cast<std::size_t>(n);
            } else if (n < 0 && errno == EAGAIN) {
                return true; // the destination's EPOLLOUT edge brings us back
            } else if (n < 0 && errno == EINTR) {
                continue;
            } else {
                return false;
            }
        }
        if (d.eof) {
            if (d.pipe) pipes.give_back(std::move(*d.pipe));
            d.pipe.reset();
            ::shutdown(dst, SHUT_WR);
            d.done = true;
            return true;
        }
        if (!d.pipe) {
            d.pipe = pipes.take();
            if (!d.pipe) return false;
        }
        const ssize_t n = ::splice(src, nullptr, d.pipe->write_end.get(), nullptr,
                                   static_cast<std::size_t>(pipes.size()), splice_flags);
        if (n > 0) {
            d.held = static_cast<std::size_t>(n);
        } else if (n == 0) {
            d.eof = true;
        } else if (errno == EAGAIN) {
            pipes.give_back(std::move(*d.pipe)); // drained: an idle direction holds no pipe
            d.pipe.reset();
            return true;
        } else if (errno != EINTR) {
            return false;
        }
    }
}

class worker {
public:
    /// `credentials`: the RFC 1929 request expected (01 ULEN USER PLEN PASS),
    /// or empty for no authentication.
    worker(unique_fd listener, int pipe_size, std::string credentials)
        : listener_(std::move(listener))
        , pipes_(pipe_size)
        , credentials_(std::move(credentials)) {
        loop_.add(listener_.get(), EPOLLIN, listener_token);
    }

    [[noreturn]] void run() {
        for (;;) {
            loop_.poll(-1, [this](std::uint64_t token, std::uint32_t) { on_event(token); });
            dead_.clear(); // freed only after the batch: a later event may name them
        }
    }

private:
    void on_event(std::uint64_t token) {
        if (token == listener_token) return accept_all();
        auto* s = reinterpret_cast<session*>(token & ~socket_bits);
        if (s->closed) return;
        const bool from_target = (token & socket_bits) == target_bit;
        switch (s->at) {
        case phase::greeting:
        case phase::credentials:
        case phase::request:
            if (!from_target) read_handshake(*s);
            break;
        case phase::connecting:
            if (from_target) connected(*s);
            break;
        case phase::relaying:
            relay(*s);
            break;
        case phase::associated:
            if ((token & socket_bits) == relay_bit)
                from_client(*s);
            else if (from_target)
                from_targets(*s);
            else
                watch_control(*s);
            break;
        }
    }

    void accept_all() {
        for (;;) {
            unique_fd c(::accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
            if (!c) return;
            const int one = 1;
            ::setsockopt(c.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            auto s = std::make_unique<session>();
            s->client = std::move(c);
            try {
                loop_.add(s->client.get(), EPOLLIN | EPOLLOUT | EPOLLET,
                          reinterpret_cast<std::uint64_t>(s.get()));
            } catch (const std::system_error&) {
                continue; // not watched: dropped, and the client with it
            }
            s.release(); // owned from now on by its sockets' events; see end()
        }
    }

    void read_handshake(session& s) {
        // Stops early when the buffer is full: bytes sent ahead of the reply
        // wait in the socket, and the relay reads them once it starts.
        while (s.have < sizeof s.buf) {
            const ssize_t n = ::recv(s.client.get(), s.buf + s.have, sizeof s.buf - s.have, 0);
            if (n < 0 && errno == EAGAIN) break;
            if (n <= 0) return end(s);
            s.have += static_cast<std::size_t>(n);
        }
        const bool full = s.have == sizeof s.buf; // no edge comes for what is left unread
        if (s.at == phase::greeting) {
            if (s.have < 2 || s.have < 2u + s.buf[1]) return full ? end(s) : void();
            const std::size_t used = 2u + s.buf[1];
            const std::uint8_t method = credentials_.empty() ? 0 : 2;
            const bool offered =
                s.buf[0] == 5 && std::memchr(s.buf + 2, method, s.buf[1]) != nullptr;
            const std::uint8_t choice[2] = {5, offered ? method : std::uint8_t{0xff}};
            if (!reply(s, choice, 2) || !offered) return end(s);
            consume(s, used);
            s.at = method == 0 ? phase::request : phase::credentials;
        }
        if (s.at == phase::credentials) {
            // VER ULEN UNAME PLEN PASSWD: compared whole, as one string
            if (s.have < 2 || s.have < 3u + s.buf[1] ||
                s.have < 3u + s.buf[1] + s.buf[2u + s.buf[1]])
                return full ? end(s) : void();
            const std::size_t used = 3u + s.buf[1] + s.buf[2u + s.buf[1]];
            const bool ok =
                used == credentials_.size() && std::memcmp(s.buf, credentials_.data(), used) == 0;
            if (!reply(s, ok ? "\x01\x00" : "\x01\x01", 2) || !ok) return end(s);
            consume(s, used);
            s.at = phase::request;
        }
        // VER CMD RSV ATYP(IPv4) ADDR(4) PORT(2)
        if (s.have < 10) return full ? end(s) : void();
        if (s.buf[0] != 5 || (s.buf[1] != 1 && s.buf[1] != 3) || s.buf[3] != 1) {
            reply(s, "\x05\x07\x00\x01\0\0\0\0\0\0", 10);
            return end(s);
        }
        sockaddr_in to{};
        to.sin_family = AF_INET;
        std::memcpy(&to.sin_addr, s.buf + 4, 4);
        std::memcpy(&to.sin_port, s.buf + 8, 2);
        if (s.buf[1] == 3) return associate(s, to);
        if ((ntohl(to.sin_addr.s_addr) >> 24) != 127) { // loopback only, never an open proxy
            reply(s, "\x05\x02\x00\x01\0\0\0\0\0\0", 10);
            return end(s);
        }
        consume(s, 10); // what is left was sent ahead of the reply
        int err = 0;
        s.target = connect_tcp(to, nullptr, err);
        if (!s.target) {
            reply(s, "\x05\x05\x00\x01\0\0\0\0\0\0", 10);
            return end(s);
        }
        try {
            loop_.add(s.target.get(), EPOLLIN | EPOLLOUT | EPOLLET,
                      reinterpret_cast<std::uint64_t>(&s) | target_bit);
        } catch (const std::system_error&) {
            reply(s, "\x05\x01\x00\x01\0\0\0\0\0\0", 10);
            return end(s);
        }
        s.at = phase::connecting;
    }

    void connected(session& s) {
        if (socket_error(s.target.get()) != 0) {
            reply(s, "\x05\x05\x00\x01\0\0\0\0\0\0", 10);
            return end(s);
        }
        sockaddr_in bound{};
        socklen_t len = sizeof bound;
        ::getsockname(s.target.get(), reinterpret_cast<sockaddr*>(&bound), &len);
        std::uint8_t ok[10] = {5, 0, 0, 1};
        std::memcpy(ok + 4, &bound.sin_addr, 4);
        std::memcpy(ok + 8, &bound.sin_port, 2);
        if (!reply(s, ok, sizeof ok)) return end(s);
        if (s.have > 0 &&
            ::send(s.target.get(), s.buf, s.have, MSG_NOSIGNAL) != static_cast<ssize_t>(s.have))
            return end(s);
        s.at = phase::relaying;
        relay(s);
    }

    void relay(session& s) {
        const int c = s.client.get();
        const int t = s.target.get();
        if (!pump(s.up, c, t, pipes_) || !pump(s.down, t, c, pipes_) || (s.up.done && s.down.done))
            end(s);
    }

    /// UDP ASSOCIATE: `named` is where the client says it will send from.
    void associate(session& s, const sockaddr_in& named) {
        auto a = std::make_unique<association>();
        sockaddr_in local{};
        socklen_t len = sizeof local;
        ::getsockname(s.client.get(), reinterpret_cast<sockaddr*>(&local), &len);
        len = sizeof a->client;
        ::getpeername(s.client.get(), reinterpret_cast<sockaddr*>(&a->client), &len);
        if (named.sin_addr.s_addr == a->client.sin_addr.s_addr && named.sin_port != 0) {
            a->client.sin_port = named.sin_port;
            a->client_port_known = true;
        }
        local.sin_port = 0;
        a->relay = open_udp(local);
        a->upstream = open_udp(ipv4_address(0x7f000001, 0));
        const auto base = reinterpret_cast<std::uint64_t>(&s);
        try {
            if (!a->relay || !a->upstream) throw std::system_error(errno, std::system_category());
            loop_.add(a->relay.get(), EPOLLIN | EPOLLET, base | relay_bit);
            loop_.add(a->upstream.get(), EPOLLIN | EPOLLET, base | target_bit);
        } catch (const std::system_error&) {
            reply(s, "\x05\x01\x00\x01\0\0\0\0\0\0", 10);
            return end(s);
        }
        len = sizeof local;
        ::getsockname(a->relay.get(), reinterpret_cast<sockaddr*>(&local), &len);
        std::uint8_t ok[10] = {5, 0, 0, 1};
        std::memcpy(ok + 4, &local.sin_addr, 4);
        std::memcpy(ok + 8, &local.sin_port, 2);
        s.udp = std::move(a);
        if (!reply(s, ok, sizeof ok)) return end(s);
        s.have = 0; // bytes on the control connection mean nothing
        s.at = phase::associated;
    }

    static unique_fd open_udp(const sockaddr_in& at) {
        unique_fd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
        if (!fd) return fd;
        const int size = 4 << 20; // as weir asks; the kernel caps it at rmem_max/wmem_max
        ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
        ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
        if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&at), sizeof at) != 0)
            return unique_fd{};
        return fd;
    }

    /// The association lives as long as its control connection.
    void watch_control(session& s) {
        for (;;) {
            const ssize_t n = ::recv(s.client.get(), s.buf, sizeof s.buf, 0);
            if (n < 0 && errno == EAGAIN) return;
            if (n <= 0) return end(s);
        }
    }

    // Datagrams from the client: header off, to their destinations.
    void from_client(session& s) {
        auto& a = *s.udp;
        for (;;) {
            const std::size_t n = udp_.receive(a.relay.get());
            std::size_t m = 0;
            for (std::size_t i = 0; i < n; ++i) {
                const auto size = static_cast<std::size_t>(udp_.in[i].msg_len);
                const std::uint8_t* p = udp_.payload(i); // the whole datagram, header first
                if (!udp_.usable(i) || udp_.from[i].sin_addr.s_addr != a.client.sin_addr.s_addr)
                    continue;
                if (!a.client_port_known) {
                    a.client.sin_port = udp_.from[i].sin_port; // pinned by the first datagram
                    a.client_port_known = true;
                }
                if (udp_.from[i].sin_port != a.client.sin_port || size < udp_header || p[0] != 0 ||
                    p[1] != 0 || p[2] != 0 || p[3] != 1 || p[4] != 127)
                    continue;
                sockaddr_in dst{};
                dst.sin_family = AF_INET;
                std::memcpy(&dst.sin_addr, p + 4, 4);
                std::memcpy(&dst.sin_port, p + 8, 2);
                remember(a, dst);
                udp_.queue(m++, udp_.payload(i) + udp_header, size - udp_header, dst);
            }
            udp_.flush(a.upstream.get(), m);
            if (n < udp_batch) return; // drained: the next edge brings us back
        }
    }

    static void remember(association& a, const sockaddr_in& dst) {
        for (const auto& t : a.targets)
            if (same_peer(t, dst)) return;
        a.targets[a.next_target++ % udp_targets] = dst;
    }

    // Replies from targets: a header naming the source in front, to the client.
    void from_targets(session& s) {
        auto& a = *s.udp;
        for (;;) {
            const std::size_t n = udp_.receive(a.upstream.get());
            std::size_t m = 0;
            for (std::size_t i = 0; i < n && a.client_port_known; ++i) {
                const auto& src = udp_.from[i];
                if (!udp_.usable(i) ||
                    std::none_of(std::begin(a.targets), std::end(a.targets),
                                 [&](const auto& t) { return same_peer(t, src); }))
                    continue;
                std::uint8_t* head = udp_.payload(i) - udp_header;
                head[0] = head[1] = head[2] = 0;
                head[3] = 1;
                std::memcpy(head + 4, &src.sin_addr, 4);
                std::memcpy(head + 8, &src.sin_port, 2);
                udp_.queue(m++, head, udp_header + udp_.in[i].msg_len, a.client);
            }
            udp_.flush(a.relay.get(), m);
            if (n < udp_batch) return;
        }
    }

    static void consume(session& s, std::size_t used) {
        std::memmove(s.buf, s.buf + used, s.have - used);
        s.have -= used;
    }

    /// The handshake's replies are a few bytes into an empty send buffer.
    static bool reply(session& s, const void* bytes, std::size_t size) {
        return ::send(s.client.get(), bytes, size, MSG_NOSIGNAL) == static_cast<ssize_t>(size);
    }

    void end(session& s) {
        s.closed = true;
        s.client.reset(); // closing a socket takes it out of the epoll set
        s.target.reset();
        s.udp.reset();
        for (direction* d : {&s.up, &s.down})
            if (d->pipe && d->held == 0) pipes_.give_back(std::move(*d->pipe));
        dead_.emplace_back(&s);
    }

    unique_fd listener_;
    event_loop loop_;
    pipe_pool pipes_;
    const std::string credentials_;
    std::vector<std::unique_ptr<session>> dead_;
    udp_buffers udp_;
};

/// A listening socket in the SO_REUSEPORT group of 127.0.0.1:port.
unique_fd listen_shared(std::uint16_t port) {
    unique_fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) throw sys_error("socket");
    const int one = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    const auto at = ipv4_address(0x7f000001, port);
    if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&at), sizeof at) != 0)
        throw sys_error("bind");
    if (::listen(fd.get(), 4096) != 0) throw sys_error("listen");
    return fd;
}

} // namespace

int main(int argc, char** argv) {
    CLI::App app{"weir_reference_relay: a minimal SOCKS5 splice relay on 127.0.0.1, the "
                 "yardstick of bench/run.sh (no auth or one plain-text user, CONNECT and "
                 "UDP ASSOCIATE to 127.0.0.0/8 only)"};
    std::string user;
    std::string password;
    int port = 0;
    unsigned threads = std::max(1u, std::thread::hardware_concurrency());
    int pipe_size = 1 << 20;
    app.add_option("--port", port, "Port on 127.0.0.1 (0: any; the port is printed)")
        ->check(CLI::Range(0, 65535))
        ->capture_default_str();
    app.add_option("--threads", threads, "epoll threads, each with its own listener")
        ->check(CLI::Range(1u, 64u))
        ->capture_default_str();
    app.add_option("--pipe-size", pipe_size, "Bytes of pipe per direction in flight")
        ->check(CLI::Range(4096, 64 << 20))
        ->capture_default_str();
    app.add_option("--user", user, "RFC 1929 user name (with --password: auth required)")
        ->check(CLI::Validator([](std::string& v) { return v.size() <= 255 ? "" : "too long"; },
                               "1-255 bytes"));
    app.add_option("--password", password, "RFC 1929 password")
        ->check(CLI::Validator([](std::string& v) { return v.size() <= 255 ? "" : "too long"; },
                               "1-255 bytes"));
    CLI11_PARSE(app, argc, argv);
    if (user.empty() != password.empty()) {
        std::fprintf(stderr, "weir_reference_relay: --user and --password go together\n");
        return 2;
    }
    std::string credentials;
    if (!user.empty()) {
        credentials.push_back('\x01');
        credentials.push_back(static_cast<char>(user.size()));
        credentials += user;
        credentials.push_back(static_cast<char>(password.size()));
        credentials += password;
    }
    try {
        std::signal(SIGPIPE, SIG_IGN); // splice(2) into a reset socket raises it
        raise_fd_limit();
        auto first = listen_shared(static_cast<std::uint16_t>(port));
        const std::uint16_t bound = local_port(first.get());
        std::vector<std::unique_ptr<worker>> workers;
        workers.push_back(std::make_unique<worker>(std::move(first), pipe_size, credentials));
        for (unsigned i = 1; i < threads; ++i)
            workers.push_back(
                std::make_unique<worker>(listen_shared(bound), pipe_size, credentials));
        std::fprintf(stderr, "reference relay listening on 127.0.0.1:%u\n", unsigned{bound});
        for (unsigned i = 1; i < threads; ++i)
            std::thread([w = workers[i].get()] { w->run(); }).detach();
        workers[0]->run();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "weir_reference_relay: %s\n", e.what());
        return 1;
    }
}
