#include "text/escape.hpp"

#include "text/ascii.hpp"

namespace weir::text {
namespace {

bool needs_escape(unsigned char byte, const escape_options& options) {
    if (is_control(static_cast<char>(byte))) return true;
    if (byte == ' ') return options.space;
    if (byte == '\\') return options.backslash;
    return byte >= 0x80 && options.non_ascii;
}

} // namespace

void append_escaped(std::string& out, std::string_view text, escape_options options) {
    static constexpr char digits[] = "0123456789abcdef";
    for (const char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        if (!needs_escape(byte, options)) {
            out += c;
            continue;
        }
        out += "\\x";
        out += digits[byte >> 4];
        out += digits[byte & 0x0f];
    }
}

std::string escape(std::string_view text, escape_options options) {
    std::string out;
    out.reserve(text.size());
    append_escaped(out, text, options);
    return out;
}

} // namespace weir::text
