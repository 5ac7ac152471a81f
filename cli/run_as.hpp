#pragma once

#include <string>
#include <sys/types.h>

namespace weir::cli {

/// A user (and group) to switch to after binding: `--run-as USER[:GROUP]`.
struct identity {
    std::string spec; ///< as given, for messages
    uid_t uid = 0;
    gid_t gid = 0;
};

/// Looks the names (or numeric ids) up; the group defaults to the user's
/// primary group. Throws std::invalid_argument naming what is unknown.
identity lookup_identity(const std::string& spec);

/// Drops every privilege for good: supplementary groups, gid, uid (in that
/// order), and checks that root cannot be regained. A process that already
/// runs as that user and group (real and effective) is left as it is.
/// Throws std::runtime_error.
void drop_privileges(const identity& id);

} // namespace weir::cli
