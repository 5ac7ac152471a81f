#pragma once

#include "auth/ip.hpp"

#include <stdexcept>
#include <string>
#include <string_view>

namespace weir::auth::test {

/// An address the test writes as text; a typo in a test throws rather than
/// testing 0.0.0.0.
inline ip_address ip(std::string_view text) {
    const auto a = ip_address::parse(text);
    if (!a) throw std::invalid_argument("test address does not parse: " + std::string(text));
    return *a;
}

} // namespace weir::auth::test
