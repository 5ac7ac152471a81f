#pragma once

#include "bench/scenario.hpp"
#include "bench/udp_association.hpp"
#include "bench/udp_echo.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <sys/socket.h>
#include <vector>

namespace weir::bench {

/// Datagrams per recvmmsg/sendmmsg.
inline constexpr std::size_t udp_batch = 32;

/// A usage sample with the UDP server's thread as the sink.
usage_sample sample(const run_options& o, const sink_server& sink, const udp_echo_server& udp);

/// Opens --associations to `target`; complains on stderr when some failed,
/// and prints the scenario's result line with error=associate when none opened.
std::vector<udp_client> open_associations(const run_options& o, const sockaddr_in& target,
                                          const char* scenario);

/// Outgoing datagrams of one sendmmsg on a connected socket: the request
/// header (shared) and a payload each.
class send_queue {
public:
    send_queue(std::vector<std::uint8_t> header, std::size_t size);

    /// The payload of the next datagram, to fill in before push().
    std::uint8_t* next() { return payloads_.data() + n_ * size_; }
    /// Queues next(), or with `same` the first payload again.
    void push(bool same = false);
    bool full() const { return n_ == udp_batch; }
    /// Sends what is queued (what the kernel refuses is dropped); how many went.
    std::size_t flush(int fd);

private:
    std::vector<std::uint8_t> header_;
    std::vector<std::uint8_t> payloads_;
    std::size_t size_;
    std::size_t n_ = 0;
    std::array<mmsghdr, udp_batch> msgs_{};
    std::array<std::array<iovec, 2>, udp_batch> iov_{};
};

/// Incoming datagrams of one recvmmsg on a connected socket.
class receive_queue {
public:
    /// recvmmsg, non-blocking; how many came (0: none or an error).
    std::size_t receive(int fd);
    const std::uint8_t* data(std::size_t i) const { return data_.data() + i * slot; }
    std::size_t size(std::size_t i) const { return msgs_[i].msg_len; }

private:
    static constexpr std::size_t slot = udp_echo_server::max_size + 64;
    std::vector<std::uint8_t> data_ = std::vector<std::uint8_t>(udp_batch * slot);
    std::array<mmsghdr, udp_batch> msgs_{};
    std::array<iovec, udp_batch> iov_{};
};

/// The payload of a datagram from the echo server, the proxy's header (if
/// any) taken off and `size` shortened to match; nullptr when malformed.
const std::uint8_t* payload_of(const proxy_spec& proxy, const std::uint8_t* p, std::size_t& size);

} // namespace weir::bench
