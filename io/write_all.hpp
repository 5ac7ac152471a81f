#pragma once

#include "io/deadline.hpp"
#include "io/task.hpp"
#include "io/tcp_socket.hpp"

#include <cstdint>
#include <system_error>
#include <vector>

namespace weir::io {

/// Writes all of `bytes` (kept alive by the caller) within `dl`. Made for
/// replies, a few bytes into an empty socket buffer: one non-blocking send(2)
/// nearly always takes them whole, with no asynchronous write (whose
/// completion Asio would post, polling epoll once more before running it).
/// The rest, if any, and any error, go through async_write.
task<std::error_code> write_all(tcp_socket& s, deadline& dl,
                                const std::vector<std::uint8_t>& bytes);

} // namespace weir::io
