#include "bench/udp_io.hpp"

#include <cstdio>

namespace weir::bench {

namespace {
constexpr std::size_t open_window = 64; ///< handshakes at once
} // namespace

usage_sample sample(const run_options& o, const sink_server& sink, const udp_echo_server& udp) {
    auto s = take_sample(o, sink);
    s.sink_cpu = udp.cpu_seconds();
    return s;
}

std::vector<udp_client> open_associations(const run_options& o, const sockaddr_in& target,
                                          const char* scenario) {
    const auto count = static_cast<std::size_t>(std::max(o.associations, 1));
    std::string error;
    auto clients = open_udp_clients(o.proxy, target, count, open_window, o.timeout, error);
    if (clients.size() < count)
        std::fprintf(stderr, "loadgen: %zu of %zu associations opened: %s\n", clients.size(), count,
                     error.c_str());
    if (clients.empty()) result_line(o, scenario).add("error", "associate").print();
    return clients;
}

send_queue::send_queue(std::vector<std::uint8_t> header, std::size_t size)
    : header_(std::move(header))
    , payloads_(udp_batch * size)
    , size_(size) {}

void send_queue::push(bool same) {
    auto& iov = iov_[n_];
    iov[0] = {header_.data(), header_.size()};
    iov[1] = {same ? payloads_.data() : next(), size_};
    msgs_[n_].msg_hdr = {};
    msgs_[n_].msg_hdr.msg_iov = iov.data() + (header_.empty() ? 1 : 0);
    msgs_[n_].msg_hdr.msg_iovlen = header_.empty() ? 1 : 2;
    ++n_;
}

std::size_t send_queue::flush(int fd) {
    std::size_t sent = 0;
    while (sent < n_) {
        const int r =
            ::sendmmsg(fd, msgs_.data() + sent, static_cast<unsigned>(n_ - sent), MSG_DONTWAIT);
        if (r <= 0) break;
        sent += static_cast<std::size_t>(r);
    }
    n_ = 0;
    return sent;
}

std::size_t receive_queue::receive(int fd) {
    for (std::size_t i = 0; i < udp_batch; ++i) {
        iov_[i] = {data_.data() + i * slot, slot};
        msgs_[i].msg_hdr = {};
        msgs_[i].msg_hdr.msg_iov = &iov_[i];
        msgs_[i].msg_hdr.msg_iovlen = 1;
    }
    const int n = ::recvmmsg(fd, msgs_.data(), udp_batch, MSG_DONTWAIT, nullptr);
    return n > 0 ? static_cast<std::size_t>(n) : 0;
}

const std::uint8_t* payload_of(const proxy_spec& proxy, const std::uint8_t* p, std::size_t& size) {
    if (proxy.kind == proxy_kind::direct) return p;
    const std::size_t head = udp_reply_header_size(p, size);
    if (head == 0) return nullptr;
    size -= head;
    return p + head;
}

} // namespace weir::bench
