#pragma once

#include "log/log.hpp"
#include "socks/server/access.hpp"
#include "socks/server/config.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace weir::cli {

/// Where an option's value came from, and what it is, for `weir check`.
struct setting {
    std::string name;   ///< the long option without "--", also the config key
    std::string value;  ///< as a config-file value ("15m", ["a", "b"]); empty: not set
    std::string origin; ///< "flag", "env WEIR_X", "file PATH" or "default"
    std::string where;  ///< prefix for an error about it: "--x", "WEIR_X", "PATH:LINE: x"
};

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
    bool check = false;                     ///< `weir check`: validate, print, exit
    bool probe = false;                     ///< `weir probe`: health-check the instance, exit
    std::vector<setting> settings;          ///< every option, in --help order (--config first)
};

/// The setting of option `name`, for error messages.
const setting* find_setting(const options& opts, std::string_view name);

/// "--rule", "WEIR_RULE", "weir.toml:7: rule" or "--rule (default)": the
/// prefix of an error about option `name`'s value.
std::string where(const options& opts, std::string_view name);

/// Parses argv, the WEIR_* variables and the --config (or WEIR_CONFIG) file;
/// a flag beats the environment, which beats the file, which beats the
/// default. Returns an exit status when the program should end now (help or
/// version shown: 0; bad options: 2, after printing one `weir: error:` line),
/// nothing when it should go on.
std::optional<int> parse(int argc, char** argv, options& out);

} // namespace weir::cli
