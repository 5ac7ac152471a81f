#include "cli/man_page.hpp"

#include "cli/help.hpp"
#include "cli/option_table.hpp"

#include <fmt/core.h>

namespace weir::cli {
namespace {

// Each element of a list of text lines below: a paragraph, or a macro when it
// starts with '.'. Text in backticks is bold.
using lines = std::initializer_list<std::string_view>;

void emit(std::string& out, lines text) {
    for (const auto l : text) {
        out += l.starts_with('.') ? std::string(l) : roff_text(l);
        out += '\n';
    }
}

// "--idle-timeout DURATION": the flag in bold, the value name in italics.
std::string term(std::string_view name, std::string_view value_name) {
    auto t = fmt::format("\\fB{}\\fR", roff_text(name));
    if (!value_name.empty()) t += fmt::format(" \\fI{}\\fR", roff_text(value_name));
    return t;
}

std::string heading(std::string_view group) {
    std::string h(group);
    h.front() = static_cast<char>(h.front() - 'a' + 'A');
    return h;
}

// One option: its term, its help, then where else it comes from.
void option_entry(std::string& out, const option_decl& d, const options& defaults) {
    out += ".TP\n" + term(fmt::format("--{}", d.name), d.value_name) + '\n';
    out += roff_text(d.help) + ".\n.br\n";
    std::string more;
    if (const auto shown = default_text(d, defaults); !shown.empty())
        more += fmt::format("Default: `{}`. ", shown);
    const auto variable = env_name(d.name);
    if (d.kind == option_kind::list)
        more += fmt::format("Repeatable. Variable: `{}` (values separated by {}). ", variable,
                            d.delimiter == ';' ? "semicolons" : "commas");
    else if (d.kind == option_kind::flag)
        more += fmt::format("Variable: `{}` (true or false). ", variable);
    else
        more += fmt::format("Variable: `{}`. ", variable);
    more += fmt::format("Config key: `{}`.", d.name);
    out += roff_text(more) + '\n';
}

void options_section(std::string& out) {
    emit(out, {".SH OPTIONS",
               "Every option is also the environment variable WEIR_NAME and the key NAME of "
               "the --config file, named after the long option (--idle-timeout: "
               "`WEIR_IDLE_TIMEOUT` and `idle-timeout`). A flag beats the variable, which beats "
               "the file, which beats the default; for a list, the values of the winning "
               "source replace the others whole."});
    const auto defaults = default_options();
    for (const auto group : option_groups()) {
        out += ".SS " + roff_text(heading(group)) + '\n';
        for (const auto& d : option_table())
            if (d.group == group) option_entry(out, d, defaults);
        if (group != "general") continue;
        for (const auto& b : builtin_options()) {
            // "--config FILE": a value name; "-h, --help": none.
            const auto space = b.left.rfind(' ');
            const bool valued = space != std::string_view::npos && b.left[space + 1] != '-';
            out += ".TP\n" + term(valued ? b.left.substr(0, space) : b.left,
                                  valued ? b.left.substr(space + 1) : "");
            out += '\n' + roff_text(b.help) + ".\n";
        }
    }
    emit(out, {".SS Units",
               "A DURATION is a number of seconds (fractions allowed) or a number with a unit: "
               "`500ms`, `90s`, `15m`, `1h`. A SIZE is a number of bytes or a whole number with "
               "a unit: `64K`, `1M`, `1G` (binary: KiB, MiB, GiB)."});
}

void head_sections(std::string& out, std::string_view version) {
    out += fmt::format(".TH WEIR 1 \"\" \"weir {}\" \"User Commands\"\n", roff_text(version));
    // Left-aligned, no hyphenation: URLs and option names stay whole and copy as typed.
    out += ".ad l\n.nh\n";
    emit(out, {".SH NAME",
               "weir - a SOCKS4, SOCKS4a and SOCKS5 proxy server",
               ".SH SYNOPSIS",
               ".B weir",
               ".RI [ OPTIONS ]",
               ".br",
               ".B \"weir check\"",
               ".RI [ OPTIONS ]",
               ".br",
               ".B \"weir probe\"",
               ".RI [ OPTIONS ]",
               ".br",
               ".B \"weir passwd\"",
               ".I NAME",
               ".SH DESCRIPTION",
               "weir serves SOCKS4, SOCKS4a and SOCKS5 (RFC 1928, with RFC 1929 username and "
               "password authentication): CONNECT, BIND and UDP ASSOCIATE, to IPv4 and IPv6 "
               "addresses and to host names, which it resolves. It relays connections with "
               "splice(2) or a copy loop, logs one line per session on stderr, and is safe by "
               "default: nothing it opens to the network works without a password.",
               ".PP",
               "With no --listen, weir serves the listeners of the --listen default below: SOCKS4, "
               "SOCKS4a and SOCKS5 without a password on loopback, and SOCKS5 with a password on "
               "every address. A password listener with no --users file gets a generated "
               "credential, user weir, printed at the first start and kept in users.txt under the "
               "state directory (see FILES).",
               ".SH COMMANDS",
               ".TP",
               "`weir` [OPTIONS]",
               "Serve until SIGTERM or SIGINT.",
               ".TP",
               "`weir check` [OPTIONS]",
               "Check the configuration as start-up would (listener URLs, rules, users file, "
               "--run-as user, that every port is free), print the options in force with where "
               "each came from, and exit.",
               ".TP",
               "`weir probe` [OPTIONS]",
               "A health check of the instance the same options describe (a container's "
               "HEALTHCHECK, a Kubernetes probe): GET /healthz when --metrics is set, else a "
               "connection to each listener, closed before a byte (logged at debug level only); "
               "exit 0 when healthy, else 1 with one line saying why. Each step waits 2 s at most.",
               ".TP",
               "`weir passwd` NAME",
               "Read a password (twice from a hidden prompt, or the first line of stdin) and "
               "print a users-file line for NAME, with an Argon2id hash."});
}

void reference_sections(std::string& out) {
    emit(out, {".SH ENVIRONMENT",
               ".TP",
               "`WEIR_`NAME",
               "The option --NAME, in capitals with underscores (see OPTIONS). A `WEIR_` variable "
               "a typo away from an option's name stops weir.",
               ".TP",
               "`WEIR_CONFIG`",
               "The config file, when there is no --config.",
               ".TP",
               "`STATE_DIRECTORY`",
               "Set by systemd (StateDirectory=): the state directory (the first of a "
               "colon-separated list), instead of /var/lib/weir (root), $XDG_STATE_HOME/weir or "
               "~/.local/state/weir.",
               ".SH FILES",
               ".TP",
               "/etc/weir/users.txt",
               "The users file of the system unit (--users): lines `name:$argon2id$...` from `weir "
               "passwd`, mode 0600 or 0640 root:weir; reloaded when it changes.",
               ".TP",
               "/etc/weir/weir.toml",
               "A config file (--config): `key = value` lines.",
               ".TP",
               "/var/lib/weir/users.txt",
               "In the state directory: the generated credential of the password listeners when "
               "no --users file is given (mode 0600, the password in a comment line); made at the "
               "first start, the same after; delete it for a new one.",
               ".SH SIGNALS",
               ".TP",
               "SIGHUP",
               "Read the users file and the rules again (`systemctl reload weir`); a file with an "
               "error changes nothing.",
               ".TP",
               "SIGTERM, SIGINT",
               "Drain: close the listeners, let sessions finish for --drain-timeout, close the "
               "rest, exit 0. A second signal exits at once.",
               ".SH EXIT STATUS",
               ".TP",
               "0",
               "Stopped after a drain; a command succeeded.",
               ".TP",
               "1",
               "An unexpected error.",
               ".TP",
               "2",
               "A bad option, file or rule, a port in use, or another start-up failure; one line "
               "`weir: error: ...` on stderr.",
               ".TP",
               "128+N",
               "A second signal N cut the drain short (130 for SIGINT, 143 for SIGTERM)."});
}

void example_sections(std::string& out, std::string_view doc_dir) {
    emit(out, {".SH EXAMPLES",
               "On a laptop, no password, both loopback addresses:",
               ".PP",
               ".RS",
               ".nf",
               "weir --listen socks://localhost:1080",
               ".fi",
               ".RE",
               ".PP",
               "For other hosts, with passwords:",
               ".PP",
               ".RS",
               ".nf",
               "weir passwd alice >> /etc/weir/users.txt",
               "weir --listen socks5://0.0.0.0:1088 --users /etc/weir/users.txt",
               ".fi",
               ".RE",
               ".PP",
               "From a config file, checked first:",
               ".PP",
               ".RS",
               ".nf",
               "weir check --config /etc/weir/weir.toml && weir --config /etc/weir/weir.toml",
               ".fi",
               ".RE",
               ".PP",
               "Through it:",
               ".PP",
               ".RS",
               ".nf",
               "curl --socks5-hostname 127.0.0.1:1080 https://example.org/",
               ".fi",
               ".RE",
               ".SH SEE ALSO",
               "curl(1), proxychains4(1), ncat(1), ssh(1), systemd.exec(5)."});
    out += roff_text(
               fmt::format("The README and the example configs and systemd units: {}.", doc_dir)) +
           '\n';
}

} // namespace

std::string roff_text(std::string_view text) {
    std::string out = text.starts_with('.') ? "\\&" : "";
    bool bold = false;
    std::size_t word = 0; // characters since the last space
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        word = c == ' ' ? 0 : word + 1;
        // A long word (a listener URL) may break after / ? & | , (\: prints nothing).
        const bool may_break = word > 20 && i + 1 < text.size() && text[i + 1] != '/' &&
                               std::string_view("/?&|,").find(c) != std::string_view::npos;
        switch (c) {
        case '\\':
            out += "\\e";
            break;
        case '-':
            out += "\\-";
            break;
        case '\'':
            out += "\\(aq";
            break;
        case '`':
            out += bold ? "\\fR" : "\\fB";
            bold = !bold;
            break;
        default:
            out += c;
        }
        if (may_break) out += "\\:";
    }
    if (bold) out += "\\fR";
    return out;
}

std::string man_page(std::string_view version, std::string_view doc_dir) {
    std::string out;
    head_sections(out, version);
    options_section(out);
    reference_sections(out);
    example_sections(out, doc_dir);
    return out;
}

} // namespace weir::cli
