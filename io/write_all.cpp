#include "io/write_all.hpp"

#include <sys/socket.h>

#include <asio/write.hpp>

namespace weir::io {

task<std::error_code> write_all(tcp_socket& s, deadline& dl,
                                const std::vector<std::uint8_t>& bytes) {
    const ssize_t n =
        ::send(s.native_handle(), bytes.data(), bytes.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    const std::size_t sent = n > 0 ? static_cast<std::size_t>(n) : 0;
    if (sent == bytes.size()) co_return std::error_code();
    auto [ec, written] =
        co_await asio::async_write(s, asio::buffer(bytes) + sent, dl.bind(use_tuple));
    co_return ec;
}

} // namespace weir::io
