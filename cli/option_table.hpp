#pragma once

#include "cli/option_values.hpp"
#include "cli/options.hpp"

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace weir::cli {

enum class option_kind {
    flag,  ///< no value on the command line; true/false in the environment or file
    value, ///< one value; a flag given twice is an error
    list,  ///< repeatable; the values of the first source that has any
};

/// One option, declared once: its flag `--name`, its config-file key `name`
/// and its variable WEIR_NAME all come from `name`.
struct option_decl {
    std::string_view name{};
    std::string_view group{};      ///< the --help section
    std::string_view value_name{}; ///< DURATION, SIZE, N, URL, FILE...; empty for a flag
    std::string_view help{};
    option_kind kind = option_kind::value;
    char delimiter = ','; ///< list: separates values within one string
    /// Stores the values (at least one; "true"/"false"... for a flag) into the
    /// options; throws option_error.
    void (*apply)(options&, const std::vector<std::string>&) = nullptr;
    /// The value in force, as a config-file value; empty when not set.
    std::string (*show)(const options&) = nullptr;
};

/// Every option, in --help order, grouped.
const std::vector<option_decl>& option_table();

/// The --help sections, in order ("general" last).
const std::vector<std::string_view>& option_groups();

/// The options before any flag, variable or file: the structs' defaults, but
/// for those weir's command line defaults otherwise (--idle-timeout 1h).
options default_options();

/// "idle-timeout" -> "WEIR_IDLE_TIMEOUT".
std::string env_name(std::string_view name);

/// Checks what no single option can: --metrics on a non-loopback address
/// needs --metrics-allow-remote. Throws option_error with the whole message.
void check_combination(const options& opts);

} // namespace weir::cli
