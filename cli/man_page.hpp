#pragma once

#include <string>
#include <string_view>

namespace weir::cli {

/// weir(1) in roff (man macros): the commands, every option of option_table()
/// grouped as --help shows them (value name, default, variable, config key),
/// environment, files, signals, exit status, examples. `doc_dir` is where the
/// README and the examples are installed.
std::string man_page(std::string_view version, std::string_view doc_dir);

/// `text` for a roff text line: backslashes as \e, dashes as \- (so options
/// copy as typed), quotes as \(aq and \(ga, text between backticks in bold,
/// and a line starting with . or ' made plain text with \&.
std::string roff_text(std::string_view text);

} // namespace weir::cli
