#include "socks/server/access.hpp"

#include "socks/server/address_conversion.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <fmt/core.h>

namespace weir::server {
namespace {

std::string read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw auth::rule_error(
            fmt::format("cannot read rules file {}: {}", path.string(), std::strerror(errno)));
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

bool applies_to(const auth::rule& r, const std::string& url) {
    if (!r.listener) return true;
    const auto urls = canonical_listeners(r);
    return std::find(urls.begin(), urls.end(), url) != urls.end();
}

std::string named(const auth::rule& r) {
    auto out = "rule '" + r.text() + "'";
    if (!r.origin.empty()) out += " (" + r.origin + ")";
    return out;
}

} // namespace

std::vector<auth::rule> load_rules(const access_config& cfg) {
    std::vector<auth::rule> rules;
    for (const auto& text : cfg.rules)
        rules.push_back(auth::parse_rule(text));
    if (cfg.rules_file) {
        auto from_file =
            auth::parse_rules_file(read_file(*cfg.rules_file), cfg.rules_file->string());
        rules.insert(rules.end(), from_file.begin(), from_file.end());
    }
    return rules;
}

auth::policy policy_for(const listen_spec& spec, const std::string& url,
                        const std::vector<auth::rule>& rules, const access_config& cfg) {
    std::vector<auth::rule> mine;
    for (const auto& r : rules) {
        if (!applies_to(r, url)) continue;
        mine.push_back(r);
        if (r.listener) mine.back().listener = url; // the policy compares it as text
    }
    const bool reachable = cfg.deny_private_everywhere || !is_loopback(spec);
    auth::guard g{auth::private_destination_rules(cfg.deny_private_ranges, reachable), reachable};
    const bool open = spec.auth == auth_mode::none && !is_loopback(spec);
    return auth::policy(std::move(mine), open ? auth::action::deny : auth::action::allow,
                        std::move(g));
}

std::vector<std::string> canonical_listeners(const auth::rule& r) {
    if (!r.listener) return {};
    try {
        std::vector<std::string> urls;
        for (const auto& spec : parse_listen_urls(*r.listener))
            urls.push_back(to_url(spec));
        return urls;
    } catch (const listen_url_error& e) {
        throw auth::rule_error(fmt::format("{}: bad listener: {}", named(r), e.what()));
    }
}

void check_listeners(const std::vector<auth::rule>& rules, const std::vector<std::string>& urls) {
    for (const auto& r : rules) {
        if (!r.listener) continue;
        const auto wanted = canonical_listeners(r);
        if (std::find_first_of(wanted.begin(), wanted.end(), urls.begin(), urls.end()) !=
            wanted.end())
            continue;
        std::string there;
        for (const auto& u : urls)
            there += (there.empty() ? "" : ", ") + u;
        throw auth::rule_error(fmt::format("{}: no listener {} (the listeners are: {})", named(r),
                                           wanted.front(), there));
    }
}

void check_not_open_proxy(const listen_spec& spec, const std::vector<auth::rule>& rules) {
    if (spec.auth == auth_mode::password || is_loopback(spec)) return;
    const auto url = to_url(spec);
    for (const auto& r : rules) {
        const bool restricts_clients =
            r.act == auth::action::allow && r.from && std::holds_alternative<auth::cidr>(*r.from);
        if (restricts_clients && applies_to(r, url)) return;
    }
    const listen_spec with_password{scheme::socks5, spec.host, spec.port, auth_mode::password};
    throw listen_url_error(fmt::format(
        "--listen {}: clients on other hosts could use this listener without a password "
        "(an open proxy). Say which clients may, e.g. --rule 'allow from 192.168.1.0/24' "
        "(everyone else is refused), or require a password: --listen {}",
        url, to_url(with_password)));
}

void access_table::set(policies by_listener) {
    auto next = std::make_shared<const policies>(std::move(by_listener));
    std::lock_guard lock(mutex_);
    policies_ = std::move(next);
}

std::shared_ptr<const access_table::policies> access_table::get() const {
    std::lock_guard lock(mutex_);
    return policies_;
}

access_check::access_check(std::shared_ptr<const access_table::policies> table,
                           std::size_t listener, auth::request_facts facts,
                           const host_addresses& hosts)
    : table_(std::move(table))
    , policy_(table_->at(listener))
    , facts_(std::move(facts)) {
    if (policy_.guards_host_addresses()) hosts_ = hosts.get(); // a lock: only when needed
}

bool access_check::allowed_by_name() {
    const auto d = policy_.check(facts_, hosts());
    if (d.result != auth::verdict::deny) return true;
    denial_ = d;
    return false;
}

bool access_check::allowed_name(std::string_view name, std::uint16_t port) {
    facts_.destination_unknown = false;
    facts_.destination_name = std::string(name);
    facts_.destination_address.reset();
    facts_.port = port;
    return allowed_by_name();
}

bool access_check::allowed(const asio::ip::address& address, std::uint16_t port) {
    facts_.destination_unknown = false;
    facts_.port = port;
    return allowed(address);
}

bool access_check::allowed(const asio::ip::address& address) {
    facts_.destination_address = to_policy(address);
    const auto d = policy_.check(facts_, hosts());
    if (d.result == auth::verdict::allow) return true;
    denial_ = d;
    return false;
}

auth::request_facts facts_of(const proto::request_event& request,
                             const asio::ip::tcp::endpoint& client, const std::string& listener_url,
                             const std::optional<std::string>& user) {
    auth::request_facts f;
    f.client = to_policy(client.address());
    f.listener = listener_url;
    f.user = user;
    f.command = request.cmd == proto::command::bind            ? auth::request_command::bind
                : request.cmd == proto::command::udp_associate ? auth::request_command::udp
                                                               : auth::request_command::connect;
    f.destination_unknown = f.command == auth::request_command::udp; // each datagram's own
    if (f.destination_unknown) return f;
    f.port = request.destination.port;
    if (const auto* name = std::get_if<std::string>(&request.destination.host))
        f.destination_name = *name;
    else
        f.destination_address = to_policy(request.destination);
    return f;
}

} // namespace weir::server
