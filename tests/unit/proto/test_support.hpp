#pragma once

#include "socks/proto/server_handshake.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace weir::proto::test {

using bytes = std::vector<std::uint8_t>;

/// "05 01 00" -> {5, 1, 0}; spaces are ignored.
bytes hex(std::string_view text);
/// The bytes of `text`, as is.
bytes ascii(std::string_view text);
/// `n` copies of `c`.
bytes repeat(std::size_t n, char c);
/// {5, 1, 0} -> "05 01 00".
std::string show(const bytes& b);
/// The enumerator's name, for readable event logs.
std::string errc_name(std::error_code ec);

bytes operator+(bytes a, const bytes& b);

/// `wire` cut at `at`: two chunks, either may be empty.
std::vector<bytes> split_at(const bytes& wire, std::size_t at);
/// `wire` cut at `a` and `b` (a <= b): three chunks.
std::vector<bytes> split_at(const bytes& wire, std::size_t a, std::size_t b);
/// One chunk per byte.
std::vector<bytes> one_byte_each(const bytes& wire);

/// Drives a server_handshake the way a session does, one chunk per read, and
/// logs what happens, one line each:
///   "out 05 00"                          bytes queued in take_output()
///   "credentials alice:secret"           then auth_result(accept)
///   "request socks5 connect host:port"   (SOCKS4 adds " userid=...")
///   "remaining 16 03"                    take_remaining() + the chunks not yet fed
///   "error <errc> reply 05 FF"           the error and its reply bytes, or "(none)"
///   "need_data"                          all chunks fed and still incomplete
std::vector<std::string> drive(const server_handshake::options& opts,
                               const std::vector<bytes>& chunks, bool accept = true);

/// Checks that `wire` gives `expected` fed whole, split at every offset, split
/// at every pair of offsets (when short), and one byte at a time.
void check_every_split(const server_handshake::options& opts, const bytes& wire,
                       const std::vector<std::string>& expected, bool accept = true);

} // namespace weir::proto::test
