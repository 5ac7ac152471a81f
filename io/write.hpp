#pragma once

#include "io/deadline.hpp"
#include "io/task.hpp"
#include "io/tcp_socket.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <system_error>
#include <vector>

namespace weir::io {

// Replies are a few bytes into an empty socket buffer: one non-blocking
// send(2) nearly always takes them whole. Writing one is
//
//     const auto sent = send_now(s, bytes);
//     if (sent < bytes.size() && co_await write_rest(s, dl, bytes, sent)) ...failed
//
// so that the usual case starts no coroutine and no asynchronous write (whose
// completion Asio would post, polling epoll once more before running it).

/// What one non-blocking send(2) takes of `bytes`: the number of bytes sent;
/// 0 on an error, which write_rest() then meets and reports.
std::size_t send_now(tcp_socket& s, std::span<const std::uint8_t> bytes) noexcept;

/// Writes bytes[from..] (kept alive by the caller) within `dl`.
task<std::error_code> write_rest(tcp_socket& s, deadline& dl,
                                 const std::vector<std::uint8_t>& bytes, std::size_t from);

} // namespace weir::io
