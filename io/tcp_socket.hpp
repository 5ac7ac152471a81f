#pragma once

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>

namespace weir::io {

/// A TCP socket bound to one thread's io_context: half the size of one with a
/// type-erased executor, and so are the waits pending on it.
using tcp_socket = asio::basic_stream_socket<asio::ip::tcp, asio::io_context::executor_type>;

} // namespace weir::io
