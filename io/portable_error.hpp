#pragma once

#include <system_error>

#include <asio/error.hpp>

namespace weir::io {

/// Asio 1.22 reports errno values in its own "asio.system" category, which
/// does not compare equal to std::errc; the codec's reply mapping expects
/// std's. Other errors pass through.
inline std::error_code portable(std::error_code ec) {
    if (ec.category() == asio::error::get_system_category())
        return {ec.value(), std::system_category()};
    return ec;
}

} // namespace weir::io
