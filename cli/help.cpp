#include "cli/help.hpp"

#include "cli/option_table.hpp"
#include "cli/units.hpp"

#include <string_view>

#include <fmt/core.h>

namespace weir::cli {
namespace {

constexpr std::size_t width = 92;
constexpr std::size_t indent = 32; // where the help text of an option starts

// Appends `text` word-wrapped to `width`, continuation lines indented; the
// first line starts at `column`.
void wrap(std::string& out, std::string_view text, std::size_t column, std::size_t margin) {
    std::size_t at = column;
    bool first = true;
    while (!text.empty()) {
        const auto space = text.find(' ');
        const auto word = text.substr(0, space);
        if (!first && at + 1 + word.size() > width) {
            out += '\n' + std::string(margin, ' ');
            at = margin;
        } else if (!first) {
            out += ' ';
            ++at;
        }
        out += word;
        at += word.size();
        first = false;
        text = space == std::string_view::npos ? std::string_view{} : text.substr(space + 1);
    }
    out += '\n';
}

void option_line(std::string& out, std::string_view left, std::string_view help) {
    out += "  ";
    out += left;
    if (left.size() + 2 + 2 > indent) {
        out += '\n' + std::string(indent, ' ');
    } else {
        out += std::string(indent - 2 - left.size(), ' ');
    }
    wrap(out, help, indent, indent);
}

// A config-file value as --help shows a default: "10s" -> 10s, ["a", "b"] -> a, b.
std::string plain(std::string_view value) {
    if (value.size() >= 2 && value.front() == '[' && value.back() == ']')
        value = value.substr(1, value.size() - 2);
    std::string out;
    for (const char c : value)
        if (c != '"') out += c;
    return out;
}

std::string heading(std::string_view group) {
    std::string h(group);
    h.front() = static_cast<char>(h.front() - 'a' + 'A');
    return h + ":\n";
}

constexpr std::string_view usage = R"(weir: a SOCKS4, SOCKS4a and SOCKS5 proxy server

Usage: weir [OPTIONS]               serve
       weir check [OPTIONS]         check the configuration as start-up would, print it, exit
       weir probe [OPTIONS]         health check: /healthz with --metrics, else connect to
                                    each listener; exit 0 when healthy, else 1 and why
       weir passwd NAME             read a password, print a users-file line for NAME

)";

constexpr std::string_view footer = R"(
Every option is also the variable WEIR_NAME (--idle-timeout: WEIR_IDLE_TIMEOUT; lists
separated by commas, rules by ;) and the key NAME in the --config file (idle-timeout = "15m",
listen = ["socks5://127.0.0.1:1088"]). A flag beats the variable, which beats the file, which
beats the default.
DURATION: a number of seconds (fractions allowed), or with a unit: 500ms, 90s, 15m, 1h.
SIZE: a number of bytes, or with a unit: 64K, 1M, 1G; K, M and G are binary (KiB, MiB, GiB).

Examples:
  On a laptop, no password, loopback only:
    weir --listen socks5://127.0.0.1:1080?auth=none
  For other hosts, with passwords (make the lines with weir passwd NAME):
    weir --listen socks5://0.0.0.0:1088 --users /etc/weir/users.txt
  From a config file, checked first:
    weir check --config /etc/weir/weir.toml && weir --config /etc/weir/weir.toml
)";

} // namespace

const std::vector<builtin_option>& builtin_options() {
    static const std::vector<builtin_option> all{
        {"--config FILE", "Read options from this file (TOML: key = value, keys the long options "
                          "without --); also WEIR_CONFIG"},
        {"-h, --help", "Show this help and exit"},
        {"--version", "Show weir's version and exit"},
    };
    return all;
}

std::string default_text(const option_decl& d, const options& defaults) {
    const auto shown = d.show(defaults);
    if (d.kind == option_kind::flag || shown.empty() || shown == "[]") return {};
    return plain(shown);
}

std::string help_text() {
    const auto defaults = default_options();
    std::string out(usage);
    for (const auto group : option_groups()) {
        out += heading(group);
        for (const auto& d : option_table()) {
            if (d.group != group) continue;
            const auto left = d.value_name.empty() ? fmt::format("--{}", d.name)
                                                   : fmt::format("--{} {}", d.name, d.value_name);
            std::string help(d.help);
            if (const auto shown = default_text(d, defaults); !shown.empty())
                help += fmt::format(" (default: {})", shown);
            option_line(out, left, help);
        }
        if (group == "general") {
            for (const auto& b : builtin_options())
                option_line(out, b.left, b.help);
        }
        out += '\n';
    }
    out += footer.substr(1);
    return out;
}

} // namespace weir::cli
