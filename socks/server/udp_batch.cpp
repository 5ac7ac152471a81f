#include "socks/server/udp_batch.hpp"

#include <cerrno>
#include <cstring>
#include <netinet/in.h>
#include <netinet/udp.h>

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
    sizes_[n_] = head.size() + body.size();
    msgs_[n_].msg_hdr = {};
    msgs_[n_].msg_hdr.msg_iov = iov.data();
    msgs_[n_].msg_hdr.msg_iovlen = parts;
    msgs_[n_].msg_hdr.msg_name = &to_[n_];
    msgs_[n_].msg_hdr.msg_namelen = to_len;
    ++n_;
}

std::size_t send_batch::gso_run(std::size_t i) const noexcept {
    if (!gso_) return 1;
    const auto size = sizes_[i];
    const auto len = msgs_[i].msg_hdr.msg_namelen;
    std::size_t total = size;
    std::size_t j = i + 1;
    while (j < n_ && sizes_[j] == size && total + size <= proto::max_udp_payload &&
           msgs_[j].msg_hdr.msg_namelen == len && std::memcmp(&to_[j], &to_[i], len) == 0) {
        total += size;
        ++j;
    }
    return j - i;
}

// One sendmsg for `count` datagrams of one size to one address: the kernel
// cuts the payload into them (UDP_SEGMENT) instead of building each apart.
std::size_t send_batch::send_gso(int fd, std::size_t i, std::size_t count) noexcept {
    std::size_t parts = 0;
    for (std::size_t k = i; k < i + count; ++k)
        for (std::size_t p = 0; p < msgs_[k].msg_hdr.msg_iovlen; ++p)
            gso_iov_[parts++] = msgs_[k].msg_hdr.msg_iov[p];
    alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(std::uint16_t))> control{};
    msghdr m{};
    m.msg_name = &to_[i];
    m.msg_namelen = msgs_[i].msg_hdr.msg_namelen;
    m.msg_iov = gso_iov_.data();
    m.msg_iovlen = parts;
    m.msg_control = control.data();
    m.msg_controllen = control.size();
    auto* c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_UDP;
    c->cmsg_type = UDP_SEGMENT;
    c->cmsg_len = CMSG_LEN(sizeof(std::uint16_t));
    const auto segment = static_cast<std::uint16_t>(sizes_[i]);
    std::memcpy(CMSG_DATA(c), &segment, sizeof segment);
    if (::sendmsg(fd, &m, MSG_DONTWAIT) >= 0) return 0;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) return count;
    if (errno == ENOPROTOOPT || errno == EOPNOTSUPP || errno == EIO) {
        gso_ = false; // not offered here (EIO: no checksum offload): one by one from now on
        return send_each(fd, i, count);
    }
    if (errno == EINVAL || errno == EMSGSIZE) // a segment over the route's MTU, say
        return send_each(fd, i, count);
    return count; // an ICMP error or unreachable destination: all of them
}

// sendmmsg for datagrams [i, i + count): how many the kernel refused.
std::size_t send_batch::send_each(int fd, std::size_t i, std::size_t count) noexcept {
    std::size_t refused = 0;
    const auto end = i + count;
    while (i < end) {
        const int r =
            ::sendmmsg(fd, msgs_.data() + i, static_cast<unsigned>(end - i), MSG_DONTWAIT);
        if (r > 0) {
            i += static_cast<std::size_t>(r);
        } else if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)) {
            return refused + (end - i); // the socket buffer is full: drop, never queue
        } else {
            ++refused; // this one failed (ICMP error, unreachable): skip it
            ++i;
        }
    }
    return refused;
}

std::size_t send_batch::flush(int fd) noexcept {
    std::size_t refused = 0;
    std::size_t single = 0; // datagrams [single, i) wait for one sendmmsg
    for (std::size_t i = 0; i < n_;) {
        const auto run = gso_run(i);
        if (run < 2) {
            ++i;
            continue;
        }
        if (single < i) refused += send_each(fd, single, i - single);
        refused += send_gso(fd, i, run);
        i += run;
        single = i;
    }
    if (single < n_) refused += send_each(fd, single, n_ - single);
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
