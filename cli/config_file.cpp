#include "cli/config_file.hpp"

namespace weir::cli {
namespace {

// Reads a config file one character at a time, counting lines.
class reader {
public:
    explicit reader(std::string_view text)
        : text_(text) {}

    bool done() const { return pos_ >= text_.size(); }
    char peek() const { return done() ? '\0' : text_[pos_]; }
    std::size_t line() const { return line_; }
    char take() {
        const char c = text_[pos_++];
        if (c == '\n') ++line_;
        return c;
    }
    [[noreturn]] void fail(const std::string& what) const {
        throw config_syntax_error(line_, what);
    }

    // Spaces and tabs; with `newlines`, line ends and comments too.
    void skip_blank(bool newlines) {
        while (!done()) {
            const char c = peek();
            if (c == ' ' || c == '\t' || c == '\r' || (newlines && c == '\n')) {
                take();
            } else if (c == '#' && newlines) {
                while (!done() && peek() != '\n')
                    take();
            } else {
                return;
            }
        }
    }
    // After a value: nothing but a comment up to the end of the line.
    void end_of_line() {
        skip_blank(false);
        if (peek() == '#')
            while (!done() && peek() != '\n')
                take();
        if (!done() && take() != '\n') fail("unexpected text after the value");
    }

private:
    std::string_view text_;
    std::size_t pos_ = 0;
    std::size_t line_ = 1;
};

bool key_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

std::string quoted(reader& in) {
    const char quote = in.take();
    std::string out;
    for (;;) {
        if (in.done() || in.peek() == '\n') in.fail("unterminated string");
        const char c = in.take();
        if (c == quote) return out;
        if (c != '\\' || quote == '\'') {
            out += c;
            continue;
        }
        if (in.done()) in.fail("unterminated string");
        switch (const char e = in.take()) {
        case 'n':
            out += '\n';
            break;
        case 't':
            out += '\t';
            break;
        case '"':
        case '\\':
            out += e;
            break;
        default:
            in.fail(std::string("unknown escape \\") + e);
        }
    }
}

// A bare word ends at a space, a comment, a comma, a bracket or the line's end.
std::string bare(reader& in, bool in_array) {
    std::string out;
    while (!in.done()) {
        const char c = in.peek();
        if (c == '\n' || c == '#' || (in_array && (c == ',' || c == ']'))) break;
        out += in.take();
    }
    while (!out.empty() && (out.back() == ' ' || out.back() == '\t' || out.back() == '\r'))
        out.pop_back();
    if (out.empty()) in.fail("missing value");
    return out;
}

std::string scalar(reader& in, bool in_array) {
    const char c = in.peek();
    return c == '"' || c == '\'' ? quoted(in) : bare(in, in_array);
}

std::vector<std::string> array(reader& in) {
    in.take(); // [
    std::vector<std::string> out;
    for (;;) {
        in.skip_blank(true);
        if (in.done()) in.fail("unterminated array");
        if (in.peek() == ']') break;
        if (in.peek() == '[') in.fail("nested arrays are not supported");
        out.push_back(scalar(in, true));
        in.skip_blank(true);
        if (in.done()) in.fail("unterminated array");
        if (in.peek() == ',') {
            in.take();
        } else if (in.peek() != ']') {
            in.fail("expected , or ] in the array");
        }
    }
    in.take(); // ]
    return out;
}

} // namespace

std::vector<config_entry> parse_config(std::string_view text) {
    reader in(text);
    std::vector<config_entry> entries;
    for (;;) {
        in.skip_blank(true);
        if (in.done()) return entries;
        if (in.peek() == '[') in.fail("sections are not supported: every key is a long option");
        config_entry entry;
        entry.line = in.line();
        while (!in.done() && key_char(in.peek()))
            entry.key += in.take();
        if (entry.key.empty()) in.fail("expected a key (a long option without --)");
        in.skip_blank(false);
        if (in.peek() != '=') in.fail("expected = after " + entry.key);
        in.take();
        in.skip_blank(false);
        if (in.peek() == '[') {
            entry.array = true;
            entry.values = array(in);
        } else {
            entry.values.push_back(scalar(in, false));
        }
        in.end_of_line();
        entries.push_back(std::move(entry));
    }
}

} // namespace weir::cli
