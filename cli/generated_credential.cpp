#include "cli/generated_credential.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <string_view>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/core.h>
#include <sodium.h>

namespace weir::cli {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kept_name = "users.txt";
constexpr std::string_view user_name = "weir";

std::optional<fs::path> absolute_variable(const char* name) {
    const char* value = std::getenv(name);
    if (value == nullptr || value[0] != '/') return std::nullopt; // XDG: relative paths are ignored
    return fs::path(value);
}

std::string random_password() {
    unsigned char raw[18];
    randombytes_buf(raw, sizeof raw);
    char text[sodium_base64_ENCODED_LEN(18, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
    sodium_bin2base64(text, sizeof text, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof raw);
    std::string out(text);
    sodium_memzero(text, sizeof text);
    return out;
}

std::string file_text(std::string_view password, std::string_view hash) {
    return fmt::format(
        "# weir's generated credential for its password listeners, made at the first start\n"
        "# without a --users file, and the same at every start after. For a new one, delete\n"
        "# this file; for your own users, give --users FILE (`weir passwd NAME` makes a line).\n"
        "# user={} password={}\n"
        "{}:{}\n",
        user_name, password, user_name, hash);
}

// Writes all of `text` to `fd`; false with errno set on failure.
bool write_all(int fd, std::string_view text) {
    while (!text.empty()) {
        const auto n = ::write(fd, text.data(), text.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        text.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

// The directory (and its parents), the last one 0700 and given to `owner`
// when this call made it.
std::error_code make_directory(const fs::path& dir,
                               const std::optional<std::pair<uid_t, gid_t>>& owner) {
    std::error_code ec;
    if (fs::is_directory(dir, ec)) return {};
    fs::create_directories(dir, ec);
    if (ec) return ec;
    if (::chmod(dir.c_str(), 0700) != 0) return {errno, std::generic_category()};
    if (owner && ::chown(dir.c_str(), owner->first, owner->second) != 0)
        return {errno, std::generic_category()};
    return {};
}

} // namespace

fs::path kept_users_file(const fs::path& dir) {
    return dir / kept_name;
}

std::optional<fs::path> state_directory(uid_t euid) {
    if (const char* dirs = std::getenv("STATE_DIRECTORY"); dirs != nullptr && dirs[0] == '/') {
        const std::string_view list(dirs);
        return fs::path(std::string(list.substr(0, list.find(':'))));
    }
    if (euid == 0) return fs::path("/var/lib/weir");
    if (auto xdg = absolute_variable("XDG_STATE_HOME")) return *xdg / "weir";
    if (auto home = absolute_variable("HOME")) return *home / ".local/state/weir";
    return std::nullopt;
}

generated_credential::generated_credential(std::optional<fs::path> dir)
    : dir_(std::move(dir)) {
    if (dir_) {
        const auto path = kept_users_file(*dir_);
        std::error_code ec;
        if (fs::exists(fs::symlink_status(path, ec))) {
            users_ = std::make_shared<const auth::user_db>(auth::user_db::load(path));
            file_ = path;
            return;
        }
    }
    password_ = random_password();
    users_ = std::make_shared<const auth::user_db>(
        auth::user_db::single(std::string(user_name), password_));
}

generated_credential::~generated_credential() {
    sodium_memzero(password_.data(), password_.size());
}

std::optional<std::string>
generated_credential::keep(std::optional<std::pair<uid_t, gid_t>> owner) {
    if (file_ || password_.empty()) return std::nullopt;
    if (!dir_) return "no state directory (set STATE_DIRECTORY, or HOME)";
    const auto failed = [&](std::string_view what, std::error_code ec) {
        return fmt::format("cannot keep it in {}: {}: {}", dir_->string(), what, ec.message());
    };
    if (const auto ec = make_directory(*dir_, owner)) return failed("making the directory", ec);
    const auto path = kept_users_file(*dir_);
    auto temp = (*dir_ / ".users.txt.XXXXXX").string();
    const int fd = ::mkstemp(temp.data()); // mode 0600
    if (fd < 0) return failed("creating a file", {errno, std::generic_category()});
    const auto text = file_text(password_, *users_->find(user_name));
    bool ok = write_all(fd, text) && ::fsync(fd) == 0 &&
              (!owner || ::fchown(fd, owner->first, owner->second) == 0);
    std::error_code ec(ok ? 0 : errno, std::generic_category());
    ::close(fd);
    // link(2), not rename(2): a file another weir kept meanwhile is never replaced.
    if (ok && ::link(temp.c_str(), path.c_str()) != 0) {
        ok = false;
        ec = {errno, std::generic_category()};
    }
    ::unlink(temp.c_str());
    if (!ok && ec == std::errc::file_exists) {
        users_ = std::make_shared<const auth::user_db>(auth::user_db::load(path));
        file_ = path;
        sodium_memzero(password_.data(), password_.size());
        password_.clear();
        return std::nullopt;
    }
    if (!ok) return failed("writing", ec);
    file_ = path;
    return std::nullopt;
}

std::string generated_credential::announcement() const {
    if (password_.empty())
        return fmt::format("password listeners: the generated credential kept in {} (user {}; "
                           "its password is in that file)",
                           file_ ? file_->string() : std::string("?"), user_name);
    if (file_)
        return fmt::format("weir: no --users file; generated credential for the password "
                           "listeners: user={} password={} (kept in {}, the same at every start; "
                           "delete that file for a new one)",
                           user_name, password_, file_->string());
    return fmt::format("weir: no --users file; generated credential for the password listeners "
                       "(shown once, a new one at every start): user={} password={}",
                       user_name, password_);
}

} // namespace weir::cli
