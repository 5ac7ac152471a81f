#pragma once

#include "auth/policy.hpp"
#include "socks/proto/server_handshake.hpp"
#include "socks/server/host_addresses.hpp"
#include "socks/server/listen_url.hpp"

#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <asio/ip/address.hpp>
#include <asio/ip/tcp.hpp>

namespace weir::server {

/// Where the access rules come from (flags and an optional rules file).
struct access_config {
    std::vector<std::string> rules;                  ///< --rule, in order
    std::optional<std::filesystem::path> rules_file; ///< --rules-file, after the --rule ones
    bool deny_private_everywhere =
        false;                        ///< --deny-private-destinations: on loopback listeners too
    bool deny_private_ranges = false; ///< --deny-private-ranges: RFC 1918, CGNAT, ULA too
};

/// The rules as parsed: throws auth::rule_error (a bad --rule) or
/// std::runtime_error (an unreadable or bad rules file), never half-loaded.
std::vector<auth::rule> load_rules(const access_config& cfg);

/// The policy one listener enforces: the rules that apply to it, then the
/// default (deny for a listener without a password on a non-loopback
/// address, allow otherwise), behind the guard (auth/policy.hpp): on a
/// listener reachable from other hosts, or everywhere with
/// --deny-private-destinations, loopback, link-local, unspecified, multicast,
/// broadcast and the host's own addresses; with --deny-private-ranges, on every
/// listener, RFC 1918, CGNAT and unique-local ranges.
auth::policy policy_for(const listen_spec& spec, const std::string& url,
                        const std::vector<auth::rule>& rules, const access_config& cfg);

/// A rule's `listener` clause in the form weir prints listeners
/// ("SOCKS5://10.0.0.1:01101" -> "socks5://10.0.0.1:1101"; `localhost` names
/// two, 127.0.0.1 and [::1]). Throws auth::rule_error naming the rule when it
/// is not a listen URL.
std::vector<std::string> canonical_listeners(const auth::rule& r);

/// Every `listener` clause must name one of `urls` (the bound listeners):
/// throws auth::rule_error naming the rule and the listeners there are.
void check_listeners(const std::vector<auth::rule>& rules, const std::vector<std::string>& urls);

/// Start-up check: a listener without a password on a non-loopback address
/// must have an `allow from <network>` rule that applies to it (and then
/// refuses everyone else). Throws listen_url_error saying what to add.
void check_not_open_proxy(const listen_spec& spec, const std::vector<auth::rule>& rules);

/// The policies of all listeners (by listener index), replaced whole by a
/// reload while sessions keep the set they started with. Thread-safe.
class access_table {
public:
    using policies = std::vector<auth::policy>;
    void set(policies by_listener);
    std::shared_ptr<const policies> get() const;

private:
    mutable std::mutex mutex_;
    std::shared_ptr<const policies> policies_ = std::make_shared<const policies>();
};

/// The access check of one request: first what the client asked for (a name
/// or a literal address), then every address a name resolves to, so a name
/// that resolves to a forbidden address (DNS rebinding) is refused.
class access_check {
public:
    access_check(std::shared_ptr<const access_table::policies> table, std::size_t listener,
                 auth::request_facts facts, const host_addresses& hosts);

    /// Before resolving: false when the request is denied whatever it resolves to.
    bool allowed_by_name();
    /// For each address to connect to: false when that address is denied.
    bool allowed(const asio::ip::address& address);
    /// UDP ASSOCIATE, per datagram: a destination named `name`, on `port`
    /// (false when denied whatever it resolves to).
    bool allowed_name(std::string_view name, std::uint16_t port);
    /// UDP ASSOCIATE, per datagram: the destination `address`, on `port`.
    bool allowed(const asio::ip::address& address, std::uint16_t port);
    /// The decision that refused the request (for the log), if one did.
    const std::optional<auth::decision>& denial() const noexcept { return denial_; }

private:
    std::shared_ptr<const access_table::policies> table_;
    std::shared_ptr<const host_addresses::list> hosts_; ///< taken only when the guard needs them
    const auth::policy& policy_;
    auth::request_facts facts_;
    std::optional<auth::decision> denial_;

    std::span<const auth::ip_address> hosts() const noexcept {
        return hosts_ ? std::span<const auth::ip_address>(*hosts_)
                      : std::span<const auth::ip_address>();
    }
};

/// The facts a policy needs about a request. A UDP ASSOCIATE request names
/// the client's own address, not a destination: its facts have none (each
/// datagram's destination is checked on its own).
auth::request_facts facts_of(const proto::request_event& request,
                             const asio::ip::tcp::endpoint& client, const std::string& listener_url,
                             const std::optional<std::string>& user);

} // namespace weir::server
