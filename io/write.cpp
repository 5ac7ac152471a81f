#include "io/write.hpp"

#include <sys/socket.h>

#include <asio/write.hpp>

namespace weir::io {

std::size_t send_now(tcp_socket& s, std::span<const std::uint8_t> bytes) noexcept {
    const ssize_t n =
        ::send(s.native_handle(), bytes.data(), bytes.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    return n > 0 ? static_cast<std::size_t>(n) : 0;
}

task<std::error_code> write_rest(tcp_socket& s, deadline& dl,
                                 const std::vector<std::uint8_t>& bytes, std::size_t from) {
    auto [ec, written] =
        co_await asio::async_write(s, asio::buffer(bytes) + from, dl.bind(use_tuple));
    co_return ec;
}

} // namespace weir::io
