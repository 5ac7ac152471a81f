#pragma once

#include "io/deadline.hpp"
#include "io/task.hpp"
#include "socks/proto/events.hpp"
#include "socks/server/context.hpp"

#include <optional>
#include <string>

namespace weir::server {

/// The answer to a SOCKS5 login (RFC 1929).
enum class login_verdict : unsigned char {
    accepted,
    rejected, ///< unknown user, wrong password, or no answer in time
    blocked,  ///< the client is blocked after repeated failed logins
};

/// The answer when it needs no waiting: the client is blocked (checked at
/// every login attempt, not only when the connection came), or the verifier
/// remembers this login (the usual case: a client's every connection after its
/// first), answered with no coroutine to start. nullopt: ask check_login().
std::optional<login_verdict> login_at_once(server_context& ctx, const std::string& client_key,
                                           const proto::credentials_event& cred);

/// Argon2id on the verification pool (which answers from the cache if the same
/// login succeeded meanwhile), queued under the client: clients take turns,
/// and those without a failed login on record go first. A failure makes a
/// client wait longer for each answer (unknown users and wrong passwords
/// alike); one that the failure blocks loses its other queued checks. No
/// answer (the pool full, the check dropped, the deadline passed) rejects.
io::task<login_verdict> check_login(server_context& ctx, io::deadline& dl,
                                    const std::string& client_key,
                                    const proto::credentials_event& cred);

} // namespace weir::server
