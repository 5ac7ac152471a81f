#include "cli/options.hpp"

#include "cli/config_file.hpp"
#include "cli/help.hpp"
#include "cli/nearest.hpp"
#include "cli/option_table.hpp"
#include "cli/option_values.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <unistd.h> // environ

#include <fmt/core.h>

namespace weir::cli {
namespace {

/// A usage error: printed as one `weir: error:` line, exit status 2.
struct usage_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

using values = std::vector<std::string>;

// What the command line says, before the environment and the file are read.
struct command_line {
    std::map<std::string, values, std::less<>> flags; ///< by option name
    std::optional<std::string> config;
    std::vector<std::string> positional;
    bool help = false, version = false;
};

// A list option's values, each split at the delimiter; empty pieces dropped.
void add_values(const option_decl& d, const std::string& text, values& out) {
    if (d.kind != option_kind::list) {
        out.assign(1, text);
        return;
    }
    std::size_t start = 0;
    for (;;) {
        const auto end = text.find(d.delimiter, start);
        auto piece = text.substr(start, end == std::string::npos ? end : end - start);
        if (!piece.empty()) out.push_back(std::move(piece));
        if (end == std::string::npos) return;
        start = end + 1;
    }
}

const option_decl* find_decl(std::string_view name) {
    for (const auto& d : option_table())
        if (d.name == name) return &d;
    return nullptr;
}

std::vector<std::string> option_names() {
    std::vector<std::string> names;
    for (const auto& d : option_table())
        names.emplace_back(d.name);
    return names;
}

[[noreturn]] void unknown_option(std::string_view name) {
    auto names = option_names();
    names.insert(names.end(), {"config", "help", "version"});
    const auto near = nearest(name, names);
    throw usage_error(fmt::format("unknown option --{}{} (see weir --help)", name,
                                  near ? fmt::format("; did you mean --{}?", *near) : ""));
}

command_line read_command_line(int argc, char** argv) {
    command_line cl;
    bool options_end = false;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (options_end || arg.size() < 2 || arg[0] != '-') {
            cl.positional.push_back(arg);
        } else if (arg == "--") {
            options_end = true;
        } else if (arg == "-h" || arg == "--help") {
            cl.help = true;
        } else if (arg == "--version") {
            cl.version = true;
        } else if (arg[1] != '-') {
            throw usage_error(fmt::format("unknown option {} (see weir --help)", arg));
        } else {
            const auto eq = arg.find('=');
            const std::string name = arg.substr(2, eq == std::string::npos ? eq : eq - 2);
            const auto* d = find_decl(name);
            if (d == nullptr && name != "config") unknown_option(name);
            std::optional<std::string> value;
            if (eq != std::string::npos) {
                value = arg.substr(eq + 1);
            } else if (d != nullptr && d->kind == option_kind::flag) {
                value = "true";
            } else if (i + 1 < argc) {
                value = argv[++i];
            } else {
                throw usage_error(fmt::format("--{} needs a value: --{} {}", name, name,
                                              d != nullptr ? d->value_name : "FILE"));
            }
            if ((d == nullptr && cl.config) ||
                (d != nullptr && d->kind != option_kind::list && cl.flags.count(name) != 0))
                throw usage_error(fmt::format("--{} is given more than once", name));
            if (d == nullptr) {
                cl.config = *value;
            } else {
                add_values(*d, *value, cl.flags[name]);
            }
        }
    }
    return cl;
}

// The config file's values by key, each with its line.
struct file_values {
    std::string path;
    std::map<std::string, std::pair<values, std::size_t>, std::less<>> by_key;
};

std::string read_whole(const std::string& path, const std::string& named_by) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw usage_error(
            fmt::format("{}: cannot read {}: {}", named_by, path, std::strerror(errno)));
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

file_values read_config(const std::string& path, const std::string& named_by) {
    file_values out{path, {}};
    std::vector<config_entry> entries;
    try {
        entries = parse_config(read_whole(path, named_by));
    } catch (const config_syntax_error& e) {
        throw usage_error(fmt::format("{}:{}: {}", path, e.line, e.what()));
    }
    for (auto& e : entries) {
        const auto* d = find_decl(e.key);
        if (d == nullptr) {
            const auto near = nearest(e.key, option_names());
            throw usage_error(fmt::format("{}:{}: unknown key {}{}", path, e.line, e.key,
                                          near ? fmt::format("; did you mean {}?", *near) : ""));
        }
        if (const auto seen = out.by_key.find(e.key); seen != out.by_key.end())
            throw usage_error(fmt::format("{}:{}: {} is already set on line {}", path, e.line,
                                          e.key, seen->second.second));
        if (e.array && d->kind != option_kind::list)
            throw usage_error(
                fmt::format("{}:{}: {}: takes one value, not an array", path, e.line, e.key));
        values v;
        for (const auto& text : e.values)
            add_values(*d, text, v);
        out.by_key.emplace(e.key, std::pair{std::move(v), e.line});
    }
    return out;
}

std::optional<std::string> env(const std::string& name) {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr || *value == '\0') return std::nullopt;
    return std::string(value);
}

const std::pair<values, std::size_t>* in_file(const file_values* file, std::string_view key) {
    if (file == nullptr) return nullptr;
    const auto found = file->by_key.find(key);
    return found == file->by_key.end() ? nullptr : &found->second;
}

// One option from the first source that has it: flag, environment, file, default.
void resolve(const option_decl& d, const command_line& cl, const file_values* file, options& out) {
    const std::string flag = fmt::format("--{}", d.name);
    const auto variable = env_name(d.name);
    setting s{std::string(d.name), {}, "default", flag + " (default)"};
    values v;
    if (const auto f = cl.flags.find(d.name); f != cl.flags.end()) {
        v = f->second;
        s.origin = "flag";
        s.where = flag;
    } else if (const auto e = env(variable)) {
        add_values(d, *e, v);
        s.origin = "env " + variable;
        s.where = variable;
    } else if (const auto* k = in_file(file, d.name)) {
        v = k->first;
        s.origin = "file " + file->path;
        s.where = fmt::format("{}:{}: {}", file->path, k->second, d.name);
    }
    if (s.origin != "default") {
        if (v.empty()) throw usage_error(s.where + ": needs a value");
        try {
            d.apply(out, v);
        } catch (const option_error& e) {
            throw usage_error(fmt::format("{}: {}", s.where, e.what()));
        }
    }
    s.value = d.show(out);
    out.settings.push_back(std::move(s));
}

// A WEIR_* variable that is no option's but close to one's name is a typo (or
// an old name: WEIR_RULES before --rule's variable was derived from it), not
// something to ignore. Others (a test's WEIR_BIN) are left alone.
void check_variables() {
    std::vector<std::string> names;
    for (const auto& d : option_table())
        names.push_back(env_name(d.name).substr(5));
    names.emplace_back("CONFIG");
    for (char** e = environ; *e != nullptr; ++e) {
        const std::string_view entry = *e;
        const auto name = entry.substr(0, entry.find('='));
        if (name.substr(0, 5) != "WEIR_") continue;
        const auto rest = name.substr(5);
        if (std::find(names.begin(), names.end(), rest) != names.end()) continue;
        if (const auto near = nearest(rest, names))
            throw usage_error(
                fmt::format("{} is not a weir variable; did you mean WEIR_{}?", name, *near));
    }
}

// The command: none (serve), `check`, `probe`, or `passwd NAME`.
void read_command(const command_line& cl, options& out) {
    const auto& p = cl.positional;
    if (p.empty()) return;
    if (p[0] == "check" && p.size() == 1) {
        out.check = true;
    } else if (p[0] == "probe" && p.size() == 1) {
        out.probe = true;
    } else if (p[0] == "passwd" && p.size() == 2) {
        out.passwd_name = p[1];
    } else if (p[0] == "passwd" && p.size() == 1) {
        throw usage_error("weir passwd needs a NAME (see weir --help)");
    } else {
        throw usage_error(
            fmt::format("unexpected argument {} (see weir --help)",
                        p[p[0] == "check" || p[0] == "probe" || p[0] == "passwd" ? 1 : 0]));
    }
}

// Everything parse() does but the error line; true when help or version was shown.
bool parse_all(int argc, char** argv, options& out) {
    const auto cl = read_command_line(argc, argv);
    if (cl.help || cl.version) {
        std::fputs(cl.help ? help_text().c_str() : "weir 0.1.0\n", stdout);
        return true;
    }
    read_command(cl, out);
    check_variables();
    std::optional<file_values> file;
    setting config{"config", {}, "default", "--config"};
    if (cl.config) {
        config.origin = "flag";
        file = read_config(*cl.config, "--config");
    } else if (const auto path = env("WEIR_CONFIG")) {
        config.origin = "env WEIR_CONFIG";
        config.where = "WEIR_CONFIG";
        file = read_config(*path, "WEIR_CONFIG");
    }
    if (file) config.value = quote(file->path);
    out.settings.push_back(std::move(config));
    for (const auto& d : option_table())
        resolve(d, cl, file ? &*file : nullptr, out);
    try {
        check_combination(out);
    } catch (const option_error& e) {
        throw usage_error(e.what());
    }
    return false;
}

} // namespace

const setting* find_setting(const options& opts, std::string_view name) {
    for (const auto& s : opts.settings)
        if (s.name == name) return &s;
    return nullptr;
}

std::string where(const options& opts, std::string_view name) {
    if (const auto* s = find_setting(opts, name)) return s->where;
    return fmt::format("--{}", name);
}

std::optional<int> parse(int argc, char** argv, options& out) {
    out = default_options();
    try {
        if (parse_all(argc, argv, out)) return 0;
    } catch (const usage_error& e) {
        std::fprintf(stderr, "weir: error: %s\n", e.what());
        return 2;
    }
    return std::nullopt;
}

} // namespace weir::cli
