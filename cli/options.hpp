#pragma once

#include "log/log.hpp"
#include "socks/server/access.hpp"
#include "socks/server/config.hpp"

#include <optional>
#include <string>

namespace weir::cli {

/// The command line, config file and environment, merged.
struct options {
    server::config config;
    server::access_config access;
    std::optional<std::string> users_file;
    log::level log_level = log::level::info;
    log::format log_format = log::format::text;
    std::optional<std::string> metrics;     ///< HOST:PORT of the metrics endpoint
    bool metrics_allow_remote = false;      ///< the endpoint may listen on a non-loopback address
    std::optional<std::string> passwd_name; ///< set for `weir passwd NAME`
    std::optional<std::string> run_as;      ///< USER[:GROUP] to become after binding
};

/// Parses argv (and the --config file and WEIR_* variables). Returns an exit
/// status when the program should end now (help shown: 0; bad options: 2,
/// after printing one `weir: error:` line), nothing when it should go on.
std::optional<int> parse(int argc, char** argv, options& out);

} // namespace weir::cli
