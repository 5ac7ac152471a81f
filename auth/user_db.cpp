#include "auth/user_db.hpp"

#include "auth/sodium_init.hpp"
#include "text/ascii.hpp"
#include "text/field.hpp"

#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <sys/stat.h>
#include <system_error>
#include <utility>

#include <sodium.h>

namespace weir::auth {
namespace {

constexpr std::string_view argon2id_prefix = crypto_pwhash_argon2id_STRPREFIX;
constexpr std::string_view argon2i_prefix = crypto_pwhash_argon2i_STRPREFIX;

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

bool valid_name(std::string_view name) {
    if (name.empty() || name.size() > text::max_field) return false;
    for (char c : name) {
        if (c == ':' || text::is_control(c)) return false;
    }
    return true;
}

void check_name(std::string_view name) {
    if (!valid_name(name)) {
        throw std::invalid_argument(
            "invalid user name: must be 1..255 bytes without ':' or control characters");
    }
}

void check_password(std::string_view password) {
    if (password.empty() || password.size() > text::max_field) {
        throw std::invalid_argument("invalid password: must be 1..255 bytes");
    }
}

std::string_view trim_right(std::string_view line) {
    while (!line.empty() && is_space(line.back()))
        line.remove_suffix(1);
    return line;
}

bool ignorable(std::string_view line) {
    const auto first = line.find_first_not_of(" \t\v\f");
    return first == std::string_view::npos || line[first] == '#';
}

enum class hash_check { ok, weak, not_a_hash, malformed };

struct argon2_cost {
    std::uint32_t m = 0; ///< KiB
    std::uint32_t t = 0;
};

// "m=65536,t=2,p=1$..." after "$argon2id$v=19$"; libsodium has decoded the
// string already, so this only reads what it accepted (p is not a cost: libsodium
// runs the lanes one after another, m blocks t times whatever p is).
std::optional<argon2_cost> read_cost(std::string_view params) {
    argon2_cost cost;
    const auto field = [&](std::string_view key, std::uint32_t& value) {
        if (!params.starts_with(key)) return false;
        params.remove_prefix(key.size());
        const auto [end, ec] = std::from_chars(params.data(), params.data() + params.size(), value);
        if (ec != std::errc() || end == params.data()) return false;
        params.remove_prefix(static_cast<std::size_t>(end - params.data()));
        return true;
    };
    std::uint32_t p = 0;
    if (!field("m=", cost.m) || !field(",t=", cost.t) || !field(",p=", p)) return std::nullopt;
    if (!params.starts_with('$')) return std::nullopt;
    return cost;
}

// Argon2id at libsodium's interactive limits or above.
hash_check check_cost(std::string_view hash) {
    constexpr std::string_view version = "v=19$";
    hash.remove_prefix(argon2id_prefix.size());
    if (!hash.starts_with(version)) return hash_check::malformed;
    const auto cost = read_cost(hash.substr(version.size()));
    if (!cost) return hash_check::malformed;
    const bool strong = cost->t >= crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE &&
                        cost->m >= crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE / 1024;
    return strong ? hash_check::ok : hash_check::weak;
}

// Shape (the prefix, the length, and libsodium's own decoder: no hashing work),
// then cost.
hash_check check_hash(const std::string& hash) {
    const bool id = hash.starts_with(argon2id_prefix);
    if (!id && !hash.starts_with(argon2i_prefix)) return hash_check::not_a_hash;
    if (hash.size() >= crypto_pwhash_STRBYTES) return hash_check::not_a_hash;
    for (char c : hash) {
        if (text::is_control(c) || c == ' ') return hash_check::malformed;
    }
    const auto ops = crypto_pwhash_OPSLIMIT_INTERACTIVE;
    const auto mem = crypto_pwhash_MEMLIMIT_INTERACTIVE;
    const int rc = id ? crypto_pwhash_argon2id_str_needs_rehash(hash.c_str(), ops, mem)
                      : crypto_pwhash_argon2i_str_needs_rehash(hash.c_str(), ops, mem);
    if (rc < 0) return hash_check::malformed;
    return id ? check_cost(hash) : hash_check::weak;
}

[[noreturn]] void fail(std::string_view source, std::size_t line_no, std::string_view what) {
    throw users_file_error(std::string(source) + ":" + std::to_string(line_no) + ": " +
                           std::string(what));
}

struct user_line {
    std::string_view name;
    std::string hash;
};

// One non-comment line; errors name the line, never quote it.
user_line parse_line(std::string_view line, std::string_view source, std::size_t line_no,
                     bool accept_weak) {
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) {
        fail(source, line_no, "expected name:$argon2id$... hash");
    }
    user_line user{line.substr(0, colon), std::string(line.substr(colon + 1))};
    if (!valid_name(user.name)) {
        fail(source, line_no, "invalid user name (1..255 bytes, no ':' or control characters)");
    }
    switch (check_hash(user.hash)) {
    case hash_check::ok:
        return user;
    case hash_check::weak:
        if (accept_weak) return user;
        fail(source, line_no,
             "hash is argon2i or weaker than interactive Argon2id (t>=2, m>=64 MiB): "
             "rehash with `weir passwd NAME`");
    case hash_check::not_a_hash:
        fail(source, line_no, "expected name:$argon2id$... hash");
    case hash_check::malformed:
        fail(source, line_no, "malformed Argon2 hash");
    }
    fail(source, line_no, "malformed Argon2 hash");
}

// "0644"
std::string octal_mode(unsigned mode) {
    std::string text(4, '0');
    for (auto digit = text.rbegin(); digit != text.rend(); ++digit, mode >>= 3)
        *digit = static_cast<char>('0' + (mode & 7u));
    return text;
}

} // namespace

user_db user_db::parse(std::string_view text, std::string_view source) {
    return parse_text(text, source, false);
}

user_db user_db::parse_accepting_weak_hashes_for_tests(std::string_view text,
                                                       std::string_view source) {
    return parse_text(text, source, true);
}

user_db user_db::parse_text(std::string_view text, std::string_view source, bool accept_weak) {
    user_db db;
    std::map<std::string, std::size_t, std::less<>> first_line;
    std::size_t line_no = 0;
    while (!text.empty()) {
        ++line_no;
        const auto end = text.find('\n');
        const auto line = trim_right(text.substr(0, end));
        text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
        if (ignorable(line)) continue;

        auto user = parse_line(line, source, line_no, accept_weak);
        if (auto it = first_line.find(user.name); it != first_line.end()) {
            fail(source, line_no,
                 "duplicate user (first defined on line " + std::to_string(it->second) + ")");
        }
        first_line.emplace(user.name, line_no);
        db.users_.emplace(user.name, std::move(user.hash));
    }
    if (db.users_.empty()) throw users_file_error(std::string(source) + ": no users");
    return db;
}

user_db user_db::load(const std::filesystem::path& path) {
    const auto cannot_read = [&](int err) {
        return users_file_error("cannot read users file " + path.string() + ": " +
                                std::generic_category().message(err));
    };
    const std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"),
                                                               &std::fclose);
    if (!file) throw cannot_read(errno);
    std::string text;
    char buffer[4096];
    std::size_t n = 0;
    while ((n = std::fread(buffer, 1, sizeof buffer, file.get())) > 0)
        text.append(buffer, n);
    if (std::ferror(file.get())) throw cannot_read(errno);
    return parse(text, path.string());
}

user_db user_db::single(std::string name, std::string_view password) {
    check_name(name);
    check_password(password);
    user_db db;
    db.users_.emplace(std::move(name), hash_password(password));
    return db;
}

const std::string* user_db::find(std::string_view name) const {
    const auto it = users_.find(name);
    return it == users_.end() ? nullptr : &it->second;
}

std::optional<std::string> permission_warning(const std::filesystem::path& users_file) {
    struct stat st {};
    if (::stat(users_file.c_str(), &st) != 0) return std::nullopt;
    const bool readable = (st.st_mode & S_IROTH) != 0;
    const bool writable = (st.st_mode & (S_IWGRP | S_IWOTH)) != 0;
    if (!readable && !writable) return std::nullopt;
    const std::string how = readable && writable ? "readable and writable"
                            : readable           ? "readable"
                                                 : "writable";
    const auto path = users_file.string();
    return "users file " + path + " is " + how + " by other users (mode " +
           octal_mode(st.st_mode & 07777u) + "): chmod 600 " + path;
}

std::string hash_password(std::string_view password) {
    detail::ensure_sodium();
    char out[crypto_pwhash_STRBYTES];
    if (crypto_pwhash_str(out, password.data(), password.size(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
        throw std::runtime_error("cannot hash password: out of memory");
    }
    return out;
}

std::string make_users_line(std::string_view name, std::string_view password) {
    check_name(name);
    check_password(password);
    return std::string(name) + ":" + hash_password(password);
}

} // namespace weir::auth
