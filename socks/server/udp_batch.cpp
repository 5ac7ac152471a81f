#include "socks/server/udp_batch.hpp"

#include <cerrno>
#include <cstring>
#include <netinet/in.h>

namespace weir::server::udp {

peer peer_of(const sockaddr_storage& sa) noexcept {
    if (sa.ss_family == AF_INET) {
        const auto& in = reinterpret_cast<const sockaddr_in&>(sa);
        asio::ip::address_v4::bytes_type b;
        std::memcpy(b.data(), &in.sin_addr, 4);
        return {asio::ip::address_v4(b), ntohs(in.sin_port)};
    }
    const auto& in6 = reinterpret_cast<const sockaddr_in6&>(sa);
    asio::ip::address_v6::bytes_type b;
    std::memcpy(b.data(), &in6.sin6_addr, 16);
    const asio::ip::address_v6 v6(b, in6.sin6_scope_id);
    if (v6.is_v4_mapped())
        return {asio::ip::make_address_v4(asio::ip::v4_mapped, v6), ntohs(in6.sin6_port)};
    return {v6, ntohs(in6.sin6_port)};
}

socklen_t to_sockaddr(const peer& p, int family, sockaddr_storage& out) noexcept {
    std::memset(&out, 0, sizeof out);
    if (family == AF_INET) {
        if (!p.address.is_v4()) return 0;
        auto& in = reinterpret_cast<sockaddr_in&>(out);
        in.sin_family = AF_INET;
        in.sin_port = htons(p.port);
        const auto b = p.address.to_v4().to_bytes();
        std::memcpy(&in.sin_addr, b.data(), 4);
        return sizeof(sockaddr_in);
    }
    auto& in6 = reinterpret_cast<sockaddr_in6&>(out);
    in6.sin6_family = AF_INET6;
    in6.sin6_port = htons(p.port);
    const auto v6 = p.address.is_v4()
                        ? asio::ip::make_address_v6(asio::ip::v4_mapped, p.address.to_v4())
                        : p.address.to_v6();
    const auto b = v6.to_bytes();
    std::memcpy(&in6.sin6_addr, b.data(), 16);
    in6.sin6_scope_id = static_cast<std::uint32_t>(v6.scope_id());
    return sizeof(sockaddr_in6);
}

std::size_t receive_batch::receive(int fd) noexcept {
    for (std::size_t i = 0; i < batch_size; ++i) {
        iov_[i] = {buffer_.data() + i * slot_size, slot_size};
        msgs_[i].msg_hdr = {};
        msgs_[i].msg_hdr.msg_iov = &iov_[i];
        msgs_[i].msg_hdr.msg_iovlen = 1;
        msgs_[i].msg_hdr.msg_name = &from_[i];
        msgs_[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
    }
    const int n = ::recvmmsg(fd, msgs_.data(), batch_size, MSG_DONTWAIT, nullptr);
    return n > 0 ? static_cast<std::size_t>(n) : 0;
}

std::span<const std::uint8_t> receive_batch::datagram(std::size_t i) const noexcept {
    return {buffer_.data() + i * slot_size, msgs_[i].msg_len};
}

void send_batch::add(std::span<const std::uint8_t> head, std::span<const std::uint8_t> body,
                     const sockaddr_storage& to, socklen_t to_len) noexcept {
    auto& iov = iov_[n_];
    std::size_t parts = 0;
    if (!head.empty()) iov[parts++] = {const_cast<std::uint8_t*>(head.data()), head.size()};
    iov[parts++] = {const_cast<std::uint8_t*>(body.data()), body.size()};
    to_[n_] = to;
    msgs_[n_].msg_hdr = {};
    msgs_[n_].msg_hdr.msg_iov = iov.data();
    msgs_[n_].msg_hdr.msg_iovlen = parts;
    msgs_[n_].msg_hdr.msg_name = &to_[n_];
    msgs_[n_].msg_hdr.msg_namelen = to_len;
    ++n_;
}

std::size_t send_batch::flush(int fd) noexcept {
    std::size_t refused = 0;
    for (std::size_t i = 0; i < n_;) {
        const int r = ::sendmmsg(fd, msgs_.data() + i, static_cast<unsigned>(n_ - i), MSG_DONTWAIT);
        if (r > 0) {
            i += static_cast<std::size_t>(r);
        } else if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)) {
            refused += n_ - i; // the socket buffer is full: drop, never queue
            break;
        } else {
            ++refused; // this one failed (ICMP error, unreachable): skip it
            ++i;
        }
    }
    n_ = 0;
    return refused;
}

receive_batch& thread_receive_batch() {
    thread_local receive_batch batch;
    return batch;
}

send_batch& thread_send_batch() {
    thread_local send_batch batch;
    return batch;
}

} // namespace weir::server::udp
