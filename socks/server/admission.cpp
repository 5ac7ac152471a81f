#include "socks/server/admission.hpp"

#include "text/ip.hpp"

#include <algorithm>
#include <sys/socket.h>
#include <utility>

namespace weir::server {

// Made for every connection: without inet_ntop's sprintf.
std::string client_key(const asio::ip::address& a) {
    if (a.is_v4()) return text::ipv4_to_string(a.to_v4().to_bytes());
    const auto v6 = a.to_v6();
    if (v6.is_v4_mapped())
        return text::ipv4_to_string(asio::ip::make_address_v4(asio::ip::v4_mapped, v6).to_bytes());
    auto bytes = v6.to_bytes();
    std::fill(bytes.begin() + 8, bytes.end(), std::uint8_t{0});
    return text::ipv6_to_string(bytes) + "/64";
}

admission::admission(limits l)
    : limits_(l)
    , per_client_(l.per_client != 0 || l.handshakes != 0 || l.per_client_handshakes != 0)
    , register_handshakes_(l.handshakes != 0 || l.per_client_handshakes != 0) {}

refusal admission::admit(std::string_view client, int fd, ticket& out, std::string* shed_from,
                         bool uncapped) {
    out.release(); // before the lock: releasing takes it too
    if (per_client_) return admit_counted(client, fd, out, shed_from, uncapped);
    // Only the total may be limited: no lock, no count per client.
    if (limits_.sessions != 0 && sessions_.load() >= limits_.sessions) return refusal::sessions;
    sessions_.fetch_add(1);
    handshakes_.fetch_add(1);
    out = ticket(this, std::string(client), 0);
    return refusal::none;
}

refusal admission::admit_counted(std::string_view client, int fd, ticket& out,
                                 std::string* shed_from, bool uncapped) {
    std::string key(client);
    std::lock_guard lock(mutex_);
    if (limits_.sessions != 0 && sessions_.load() >= limits_.sessions) return refusal::sessions;
    auto it = clients_.find(key);
    const bool known = it != clients_.end();
    const std::size_t held = known ? it->second.handshakes.size() : 0;
    if (limits_.per_client != 0 && !uncapped && known && it->second.sessions >= limits_.per_client)
        return refusal::client_sessions;
    if (limits_.per_client_handshakes != 0 && held >= limits_.per_client_handshakes)
        return refusal::client_handshakes;
    if (limits_.handshakes != 0) {
        if (holders_.size() < held + 2) holders_.resize(held + 2); // may throw: before any change
        if (handshakes_.load() >= limits_.handshakes && !shed_for(held, shed_from))
            return refusal::handshakes;
    }
    if (!known) {
        it = clients_.try_emplace(key).first;
        it->second.key = &it->first;
    }
    auto& c = it->second;
    std::uint64_t id = 0;
    if (register_handshakes_) {
        id = next_id_++;
        c.handshakes.push_back({id, fd}); // ids ascend: the vector stays sorted, oldest first
        regroup(c, held);
    }
    ++c.sessions;
    sessions_.fetch_add(1);
    handshakes_.fetch_add(1);
    out = ticket(this, std::move(key), id); // `out` is empty: no lock taken
    return refusal::none;
}

// The ticket's place, and its handshake if it is in one, move to `client`'s
// counts. The totals do not change, so nobody is shed: the newcomer must fit
// within its own client's limits.
refusal admission::move(ticket& t, std::string_view client) {
    if (!per_client_) {
        t.client_ = std::string(client);
        return refusal::none;
    }
    std::string key(client);
    std::lock_guard lock(mutex_);
    auto to = clients_.find(key);
    const bool known = to != clients_.end();
    const std::size_t held = known ? to->second.handshakes.size() : 0;
    if (limits_.per_client != 0 && known && to->second.sessions >= limits_.per_client)
        return refusal::client_sessions;
    if (t.in_handshake_ && limits_.per_client_handshakes != 0 &&
        held >= limits_.per_client_handshakes)
        return refusal::client_handshakes;
    if (limits_.handshakes != 0 && holders_.size() < held + 2) holders_.resize(held + 2);
    if (!known) { // may throw: before any change
        to = clients_.try_emplace(key).first;
        to->second.key = &to->first;
    }
    const auto from = clients_.find(t.client_);
    std::optional<pending> moved; // none if not registered or shed already
    if (from != clients_.end()) {
        auto& c = from->second;
        const auto before = c.handshakes.size();
        const auto at = std::find_if(c.handshakes.begin(), c.handshakes.end(),
                                     [&](const pending& p) { return p.id == t.id_; });
        if (t.in_handshake_ && t.id_ != 0 && at != c.handshakes.end()) {
            moved = *at;
            c.handshakes.erase(at);
            regroup(c, before);
        }
        if (--c.sessions == 0) clients_.erase(from);
    }
    auto& c = to->second;
    ++c.sessions;
    if (moved) {
        moved->id = next_id_++; // the newest: the vector stays sorted
        c.handshakes.push_back(*moved);
        regroup(c, held);
        t.id_ = moved->id;
    }
    t.client_ = std::move(key);
    return refusal::none;
}

// The handshake places are full and a client holding `held` wants one: shed the
// oldest handshake of the client holding the most, if that client would still
// hold more than the newcomer's. O(1): the lists in holders_ name the biggest
// holder at once, and it loses its first entry.
bool admission::shed_for(std::size_t held, std::string* shed_from) {
    if (most_ <= held + 1) return false;
    auto& victim = *holders_[most_];
    if (shed_from != nullptr) *shed_from = *victim.key; // may throw: before any change
    // A session unregisters before it closes its socket, and cannot while we hold
    // the lock: the descriptor is still its socket. Shut down, never closed: the
    // session sees EOF and ends, releasing its ticket.
    ::shutdown(victim.handshakes.front().fd, SHUT_RDWR);
    victim.handshakes.erase(victim.handshakes.begin());
    regroup(victim, most_);
    handshakes_.fetch_sub(1);
    shed_.fetch_add(1);
    return true;
}

// Unregisters handshake `id` of `c`; nothing when it was shed already.
void admission::forget_handshake(client_state& c, std::uint64_t id) noexcept {
    const auto held = c.handshakes.size();
    const auto at = std::lower_bound(c.handshakes.begin(), c.handshakes.end(), id,
                                     [](const pending& p, std::uint64_t v) { return p.id < v; });
    if (at == c.handshakes.end() || at->id != id) return;
    c.handshakes.erase(at);
    regroup(c, held);
    handshakes_.fetch_sub(1);
}

void admission::finish_handshake(const std::string& client, std::uint64_t id) {
    std::lock_guard lock(mutex_);
    const auto it = clients_.find(client);
    if (it != clients_.end()) forget_handshake(it->second, id);
}

void admission::leave(const std::string& client, std::uint64_t id, bool in_handshake) noexcept {
    if (in_handshake && id == 0) handshakes_.fetch_sub(1); // counted in the total only
    sessions_.fetch_sub(1);
    if (!per_client_) return;
    std::lock_guard lock(mutex_);
    const auto it = clients_.find(client);
    if (it == clients_.end()) return;
    if (in_handshake && id != 0) forget_handshake(it->second, id);
    if (--it->second.sessions == 0) clients_.erase(it); // its handshakes are gone with them
}

// Moves `c` from the list of clients holding `held_before` handshakes to the one
// for what it holds now (one more or one fewer), and keeps most_ up to date.
void admission::regroup(client_state& c, std::size_t held_before) noexcept {
    if (limits_.handshakes == 0) return; // nobody is ever shed: no lists kept
    if (held_before > 0) {
        (c.prev != nullptr ? c.prev->next : holders_[held_before]) = c.next;
        if (c.next != nullptr) c.next->prev = c.prev;
        c.prev = c.next = nullptr;
    }
    const auto held = c.handshakes.size();
    if (held > 0) { // admit_counted made room for held_before + 1
        c.next = holders_[held];
        if (c.next != nullptr) c.next->prev = &c;
        holders_[held] = &c;
        most_ = std::max(most_, held);
    }
    while (most_ > 0 && holders_[most_] == nullptr)
        --most_; // one step at most: counts move by one
}

admission::ticket::ticket(admission* owner, std::string client, std::uint64_t id)
    : owner_(owner)
    , client_(std::move(client))
    , id_(id)
    , in_handshake_(true) {}

admission::ticket::ticket(ticket&& other) noexcept
    : owner_(std::exchange(other.owner_, nullptr))
    , client_(std::move(other.client_))
    , id_(other.id_)
    , in_handshake_(other.in_handshake_) {}

admission::ticket& admission::ticket::operator=(ticket&& other) noexcept {
    if (this != &other) {
        release();
        owner_ = std::exchange(other.owner_, nullptr);
        client_ = std::move(other.client_);
        id_ = other.id_;
        in_handshake_ = other.in_handshake_;
    }
    return *this;
}

admission::ticket::~ticket() {
    release();
}

void admission::ticket::handshake_done() {
    if (owner_ == nullptr || !in_handshake_) return;
    if (id_ != 0)
        owner_->finish_handshake(client_, id_);
    else
        owner_->handshakes_.fetch_sub(1);
    in_handshake_ = false; // only now: should the lock throw, release() unregisters it
}

refusal admission::ticket::move_to(std::string_view client) {
    if (owner_ == nullptr || client == client_) return refusal::none;
    return owner_->move(*this, client);
}

void admission::ticket::release() noexcept {
    if (owner_ != nullptr) owner_->leave(client_, id_, in_handshake_);
    owner_ = nullptr;
}

} // namespace weir::server
