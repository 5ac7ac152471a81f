#include "bench/udp_echo.hpp"

#include <array>
#include <ctime>
#include <pthread.h>
#include <sys/socket.h>
#include <vector>

namespace weir::bench {
namespace {

constexpr std::size_t batch = 32;
constexpr std::uint64_t echo_token = 0;
constexpr std::uint64_t discard_token = 1;

/// One recvmmsg/sendmmsg batch, each slot room for one datagram.
struct datagrams {
    std::vector<std::uint8_t> data = std::vector<std::uint8_t>(batch * udp_echo_server::max_size);
    std::array<mmsghdr, batch> msgs{};
    std::array<iovec, batch> iov{};
    std::array<sockaddr_in, batch> from{};

    std::size_t receive(int fd) {
        for (std::size_t i = 0; i < batch; ++i) {
            iov[i] = {data.data() + i * udp_echo_server::max_size, udp_echo_server::max_size};
            msgs[i].msg_hdr = {};
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
            msgs[i].msg_hdr.msg_name = &from[i];
            msgs[i].msg_hdr.msg_namelen = sizeof from[i];
        }
        const int n = ::recvmmsg(fd, msgs.data(), batch, MSG_DONTWAIT, nullptr);
        return n > 0 ? static_cast<std::size_t>(n) : 0;
    }
};

datagrams& thread_datagrams() {
    static datagrams d; // the server thread's alone
    return d;
}

} // namespace

unique_fd open_udp(const sockaddr_in& at) {
    unique_fd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) throw sys_error("socket");
    const int size = 8 << 20;
    if (::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0)
        ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    if (::setsockopt(fd.get(), SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size) != 0)
        ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&at), sizeof at) != 0)
        throw sys_error("bind udp");
    return fd;
}

udp_echo_server::udp_echo_server()
    : echo_(open_udp(ipv4_address(0x7f000001, 0)))
    , discard_(open_udp(ipv4_address(0x7f000001, 0)))
    , echo_port_(local_port(echo_.get()))
    , discard_port_(local_port(discard_.get())) {
    loop_.add(echo_.get(), EPOLLIN, echo_token);
    loop_.add(discard_.get(), EPOLLIN, discard_token);
    (void)thread_datagrams();
    thread_ = std::thread([this] { run(); });
}

udp_echo_server::~udp_echo_server() {
    stop_ = true;
    thread_.join();
}

double udp_echo_server::cpu_seconds() const {
    clockid_t id{};
    auto handle = const_cast<std::thread&>(thread_).native_handle();
    timespec ts{};
    if (::pthread_getcpuclockid(handle, &id) != 0 || ::clock_gettime(id, &ts) != 0) return 0;
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

void udp_echo_server::run() {
    while (!stop_)
        loop_.poll(10, [this](std::uint64_t token, std::uint32_t) {
            if (token == echo_token)
                echo_all();
            else
                discard_all();
        });
}

/// Every datagram back to its source, from the same buffers.
void udp_echo_server::echo_all() {
    auto& d = thread_datagrams();
    for (int round = 0; round < 8; ++round) {
        const std::size_t n = d.receive(echo_.get());
        for (std::size_t i = 0; i < n; ++i)
            d.iov[i].iov_len = d.msgs[i].msg_len;
        for (std::size_t i = 0; i < n;) {
            const int r = ::sendmmsg(echo_.get(), d.msgs.data() + i, static_cast<unsigned>(n - i),
                                     MSG_DONTWAIT);
            i += r > 0 ? static_cast<std::size_t>(r) : 1; // a refused one is lost: skipped
        }
        if (n < batch) return;
    }
}

void udp_echo_server::discard_all() {
    auto& d = thread_datagrams();
    for (int round = 0; round < 8; ++round) {
        const std::size_t n = d.receive(discard_.get());
        std::uint64_t bytes = 0;
        for (std::size_t i = 0; i < n; ++i)
            bytes += d.msgs[i].msg_len;
        discarded_.fetch_add(n, std::memory_order_relaxed);
        discarded_bytes_.fetch_add(bytes, std::memory_order_relaxed);
        if (n < batch) return;
    }
}

} // namespace weir::bench
