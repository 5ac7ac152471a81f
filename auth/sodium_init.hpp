#pragma once

#include <stdexcept>

#include <sodium.h>

namespace weir::auth::detail {

/// Initialises libsodium once per process; throws std::runtime_error if it cannot.
inline void ensure_sodium() {
    static const bool ready = sodium_init() >= 0;
    if (!ready) throw std::runtime_error("libsodium failed to initialise");
}

} // namespace weir::auth::detail
