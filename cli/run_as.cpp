#include "cli/run_as.hpp"

#include <cerrno>
#include <charconv>
#include <cstring>
#include <grp.h>
#include <optional>
#include <pwd.h>
#include <stdexcept>
#include <unistd.h>

#include <fmt/core.h>

namespace weir::cli {
namespace {

template <typename Id>
std::optional<Id> numeric(const std::string& s) {
    unsigned long value = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (s.empty() || ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
    return static_cast<Id>(value);
}

} // namespace

identity lookup_identity(const std::string& spec) {
    identity id;
    id.spec = spec;
    const auto colon = spec.find(':');
    const std::string user = spec.substr(0, colon);
    if (const auto* pw = ::getpwnam(user.c_str())) {
        id.uid = pw->pw_uid;
        id.gid = pw->pw_gid;
    } else if (auto n = numeric<uid_t>(user)) {
        id.uid = *n;
        id.gid = static_cast<gid_t>(*n);
    } else {
        throw std::invalid_argument(fmt::format("--run-as {}: no user '{}'", spec, user));
    }
    if (colon != std::string::npos) {
        const std::string group = spec.substr(colon + 1);
        if (const auto* gr = ::getgrnam(group.c_str()))
            id.gid = gr->gr_gid;
        else if (auto n = numeric<gid_t>(group))
            id.gid = *n;
        else
            throw std::invalid_argument(fmt::format("--run-as {}: no group '{}'", spec, group));
    }
    return id;
}

void drop_privileges(const identity& id) {
    auto fail = [&](const char* step) {
        throw std::runtime_error(
            fmt::format("--run-as {}: {} failed: {}", id.spec, step, std::strerror(errno)));
    };
    // Already that user (a container started as it, `setpriv`): nothing to
    // change, and setgroups would fail without privilege.
    if (id.uid != 0 && ::getuid() == id.uid && ::geteuid() == id.uid && ::getgid() == id.gid &&
        ::getegid() == id.gid)
        return;
    if (::setgroups(1, &id.gid) != 0) fail("setgroups");
    if (::setgid(id.gid) != 0) fail("setgid");
    if (::setuid(id.uid) != 0) fail("setuid");
    if (id.uid != 0 && ::setuid(0) == 0)
        throw std::runtime_error(fmt::format("--run-as {}: root could be regained", id.spec));
}

} // namespace weir::cli
