#pragma once

#include "cli/options.hpp"

namespace weir::cli {

/// `weir probe`: a health check of the instance these options describe (a
/// container's HEALTHCHECK, a Kubernetes exec probe), so an image needs no
/// curl. With --metrics, `GET /healthz` on it must answer 200; otherwise
/// every listener must accept a TCP connection (a wildcard address is probed
/// on its loopback), closed before a byte is sent. Each step gives up after
/// 2 s. Returns 0, or 1 after one `weir: probe:` line saying what failed.
int run_probe(const options& opts);

} // namespace weir::cli
