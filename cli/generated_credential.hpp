#pragma once

#include "auth/user_db.hpp"

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <sys/types.h>

namespace weir::cli {

/// Where weir keeps what it generates: $STATE_DIRECTORY (systemd's
/// StateDirectory=; the first of a colon-separated list), else /var/lib/weir
/// for root, else $XDG_STATE_HOME/weir, else $HOME/.local/state/weir. nullopt
/// when none can be named (no HOME). `euid` is the effective user id to decide by.
std::optional<std::filesystem::path> state_directory(uid_t euid);

/// The users file the generated credential is kept in, under `dir`.
std::filesystem::path kept_users_file(const std::filesystem::path& dir);

/// The credential of the password listeners when no --users file is given:
/// one user `weir` with a random password, made once and kept in a users file
/// under the state directory (mode 0600), so that it stays the same from one
/// start to the next; where it cannot be kept, made anew at every start.
class generated_credential {
public:
    /// Reads the kept file when there is one (throws auth::users_file_error if
    /// it is malformed), else makes a new password, kept by keep(). `dir`
    /// nullopt: nowhere to keep it.
    explicit generated_credential(std::optional<std::filesystem::path> dir);
    generated_credential(const generated_credential&) = delete;
    generated_credential& operator=(const generated_credential&) = delete;
    ~generated_credential();

    std::shared_ptr<const auth::user_db> users() const { return users_; }
    /// The users file it is kept in: set when it was read, or once keep() wrote it.
    const std::optional<std::filesystem::path>& file() const { return file_; }
    /// True when the password was made by this start (so it is shown once).
    bool is_new() const { return !password_.empty(); }

    /// Writes a new credential to the state directory (creating it, mode 0700,
    /// owned by `owner` when given, as for --run-as), without replacing a file
    /// another weir wrote meanwhile (then that one is read and used). Returns an
    /// error message when it cannot be kept (the credential still works for
    /// this run). Call once the server is up: no file for a server that never started.
    std::optional<std::string> keep(std::optional<std::pair<uid_t, gid_t>> owner);

    /// The start-up lines: the new password with where it is kept, or where the
    /// kept one is (never its password).
    std::string announcement() const;

private:
    std::optional<std::filesystem::path> dir_;
    std::optional<std::filesystem::path> file_;
    std::shared_ptr<const auth::user_db> users_;
    std::string password_; ///< only while new; wiped on destruction
};

} // namespace weir::cli
