#pragma once

#include <string>
#include <string_view>

namespace weir::text {

/// The bytes escape() writes as \xNN besides the control bytes (0x00-0x1f and
/// 0x7f), which it always escapes so that a message stays on one line.
struct escape_options {
    bool space = false;     ///< ' ' too: the text stays one word of a log line
    bool backslash = false; ///< '\\' too: an escape in the output is always ours
    bool non_ascii = false; ///< 0x80-0xff too: the output is printable ASCII
};

/// Appends `text` to `out`, the bytes `options` chooses as \xNN (lowercase hex).
void append_escaped(std::string& out, std::string_view text, escape_options options = {});

/// `text` with the bytes `options` chooses as \xNN (lowercase hex).
std::string escape(std::string_view text, escape_options options = {});

} // namespace weir::text
