#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace weir::auth {

/// A users-file problem; what() names the file and line, never a secret.
struct users_file_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

/// Users loaded from a users file: one `name:$argon2id$...` line per user
/// (libsodium crypto_pwhash_str format). Blank lines and lines starting with
/// '#' are ignored. Names are 1..255 bytes without ':' or newline. Hashes must
/// be Argon2id at libsodium's interactive limits or stronger (t >= 2 and
/// m >= 64 MiB): against a cheaper hash a wrong password is answered faster
/// than an unknown user (whose check costs an interactive hash), which tells
/// that the user exists. argon2i hashes are refused too.
class user_db {
public:
    /// Parses text; `source` names it in errors ("users.txt:3: ...").
    static user_db parse(std::string_view text, std::string_view source);
    /// Reads and parses a file; throws users_file_error if unreadable or malformed.
    static user_db load(const std::filesystem::path& path);
    /// For tests only, which hash with libsodium's minimum limits for speed:
    /// parse() that also accepts argon2i and Argon2id hashes weaker than the
    /// interactive limits. A server must never load users this way.
    static user_db parse_accepting_weak_hashes_for_tests(std::string_view text,
                                                         std::string_view source);
    /// One user with a password hashed now (used for the generated start-up credential).
    static user_db single(std::string name, std::string_view password);

    /// The stored hash, or nullptr for an unknown user.
    const std::string* find(std::string_view name) const;
    std::size_t size() const noexcept { return users_.size(); }

private:
    static user_db parse_text(std::string_view text, std::string_view source, bool accept_weak);

    std::map<std::string, std::string, std::less<>> users_;
};

/// A one-line warning when `users_file` is readable by other users or writable
/// by anyone but its owner ("users file F is readable by other users (mode
/// 0644): chmod 600 F"); nullopt if it is not, or if stat(2) fails (loading
/// it reports that).
std::optional<std::string> permission_warning(const std::filesystem::path& users_file);

/// Hashes a password with Argon2id (crypto_pwhash_str, interactive limits).
std::string hash_password(std::string_view password);

/// "name:$argon2id$..." for a users file; throws std::invalid_argument for a bad name
/// or a password outside 1..255 bytes.
std::string make_users_line(std::string_view name, std::string_view password);

} // namespace weir::auth
