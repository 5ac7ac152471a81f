#pragma once

#include <string_view>

namespace weir::text {

/// Host-name syntax: labels of 1..63 letters, digits, '-' or '_', separated
/// by single dots, 253 bytes at most, one trailing dot allowed (an absolute
/// name). No escapes (a resolver would decode "\\112" to 'p' behind the rules'
/// back), no empty labels, no spaces or control bytes. An all-digit name such
/// as "127.1" passes: telling it from an address is the caller's business.
bool is_host_name(std::string_view name) noexcept;

} // namespace weir::text
