#pragma once

#include <cstddef>

namespace weir::text {

/// The longest field a one-byte length can announce: the RFC 1928 domain name
/// (ATYP 03, one length byte) and the RFC 1929 user name and password (ULEN, PLEN).
inline constexpr std::size_t max_field = 255;

} // namespace weir::text
