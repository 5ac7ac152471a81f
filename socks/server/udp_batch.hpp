#pragma once

#include "socks/proto/udp.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <sys/socket.h>
#include <vector>

#include <asio/ip/address.hpp>

namespace weir::server::udp {

/// Datagrams at most per recvmmsg/sendmmsg.
inline constexpr std::size_t batch_size = 32;
/// Room per received datagram: any UDP payload fits.
inline constexpr std::size_t slot_size = 65536;

/// An IP endpoint as UDP sockets see it, IPv4 kept as IPv4 (unmapped).
struct peer {
    asio::ip::address address;
    std::uint16_t port = 0;
    bool operator==(const peer&) const = default;
};

/// A sockaddr (IPv4 or IPv6) as a peer, a v4-mapped IPv6 address unmapped.
peer peer_of(const sockaddr_storage& sa) noexcept;
/// `p` as a sockaddr for a socket of family `family` (AF_INET or AF_INET6; an
/// IPv4 peer becomes v4-mapped for AF_INET6); the length, 0 if it cannot be.
socklen_t to_sockaddr(const peer& p, int family, sockaddr_storage& out) noexcept;

/// The thread's receive batch: batch_size slots of slot_size bytes (made on
/// first use, 2 MiB per thread, shared by every association of the thread).
class receive_batch {
public:
    /// recvmmsg, non-blocking: the number of datagrams (0 when none or on an error).
    std::size_t receive(int fd) noexcept;
    std::span<const std::uint8_t> datagram(std::size_t i) const noexcept;
    const sockaddr_storage& source(std::size_t i) const noexcept { return from_[i]; }
    bool truncated(std::size_t i) const noexcept {
        return (msgs_[i].msg_hdr.msg_flags & MSG_TRUNC) != 0;
    }

private:
    std::vector<std::uint8_t> buffer_ = std::vector<std::uint8_t>(batch_size * slot_size);
    std::array<mmsghdr, batch_size> msgs_{};
    std::array<iovec, batch_size> iov_{};
    std::array<sockaddr_storage, batch_size> from_{};
};

/// The thread's send batch: up to batch_size datagrams of one or two parts
/// (a header and a payload, neither copied), each to its own address.
class send_batch {
public:
    bool full() const noexcept { return n_ == batch_size; }
    /// Room for the next datagram's header (valid until flush()).
    proto::udp_header_buffer& header() noexcept { return headers_[n_]; }
    /// Queues `head` (may be empty) then `body` to `to` (of length `to_len`).
    void add(std::span<const std::uint8_t> head, std::span<const std::uint8_t> body,
             const sockaddr_storage& to, socklen_t to_len) noexcept;
    /// Sends everything queued, non-blocking; returns how many the kernel
    /// refused (those are dropped). Empties the batch. A run of datagrams to
    /// one address, all of one size, goes as one UDP_SEGMENT (GSO) send where
    /// the kernel offers it; the rest with sendmmsg.
    std::size_t flush(int fd) noexcept;

private:
    /// How many datagrams from `i` on (2 at least, else 1) can go as one GSO send.
    std::size_t gso_run(std::size_t i) const noexcept;
    std::size_t send_gso(int fd, std::size_t i, std::size_t count) noexcept;
    std::size_t send_each(int fd, std::size_t i, std::size_t count) noexcept;

    std::size_t n_ = 0;
    std::array<mmsghdr, batch_size> msgs_{};
    std::array<std::array<iovec, 2>, batch_size> iov_{};
    std::array<sockaddr_storage, batch_size> to_{};
    std::array<proto::udp_header_buffer, batch_size> headers_{};
    std::array<std::size_t, batch_size> sizes_{}; ///< each datagram's bytes, head and body
    std::array<iovec, 2 * batch_size> gso_iov_{};
    bool gso_ = true; ///< false once the kernel refused a GSO send as unsupported
};

/// The calling thread's batches.
receive_batch& thread_receive_batch();
send_batch& thread_send_batch();

} // namespace weir::server::udp
