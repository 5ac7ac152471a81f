#pragma once

#include "socks/relay/relay_options.hpp"

namespace weir::relay {

/// relay_options::on_pipe_shortage for a server: one warning at once, then at
/// most one a minute, counting the shortages since the last and since start
/// and naming the latest cause (budget spent, no pipe to be had, the kernel
/// refusing the size, with what to change). Copying keeps the bytes moving
/// at a higher CPU cost; the line says why, so that the budget or the
/// kernel's limits can be fixed.
void log_pipe_shortage(const pipe_shortage& shortage) noexcept;

} // namespace weir::relay
