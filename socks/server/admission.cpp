#include "socks/server/admission.hpp"

#include <utility>

namespace weir::server {

admission::admission(limits l)
    : limits_(l) {}

refusal admission::admit(std::string_view client, ticket& out) {
    if (limits_.sessions != 0 && sessions_.load() >= limits_.sessions) return refusal::sessions;
    if (limits_.handshakes != 0 && handshakes_.load() >= limits_.handshakes)
        return refusal::handshakes;
    std::string key(client);
    if (limits_.per_client != 0) { // unlimited: no count kept, no lock taken
        std::lock_guard lock(mutex_);
        auto& n = per_client_[key];
        if (n >= limits_.per_client) return refusal::client_sessions; // n > 0: the entry was there
        ++n;
    }
    sessions_.fetch_add(1);
    handshakes_.fetch_add(1);
    out = ticket(this, std::move(key));
    return refusal::none;
}

void admission::leave(const std::string& client, bool in_handshake) {
    if (in_handshake) handshakes_.fetch_sub(1);
    sessions_.fetch_sub(1);
    if (limits_.per_client == 0) return;
    std::lock_guard lock(mutex_);
    const auto it = per_client_.find(client);
    if (it != per_client_.end() && --it->second == 0) per_client_.erase(it);
}

admission::ticket::ticket(admission* owner, std::string client)
    : owner_(owner)
    , client_(std::move(client))
    , in_handshake_(true) {}

admission::ticket::ticket(ticket&& other) noexcept
    : owner_(std::exchange(other.owner_, nullptr))
    , client_(std::move(other.client_))
    , in_handshake_(other.in_handshake_) {}

admission::ticket& admission::ticket::operator=(ticket&& other) noexcept {
    if (this != &other) {
        release();
        owner_ = std::exchange(other.owner_, nullptr);
        client_ = std::move(other.client_);
        in_handshake_ = other.in_handshake_;
    }
    return *this;
}

admission::ticket::~ticket() {
    release();
}

void admission::ticket::handshake_done() {
    if (owner_ != nullptr && in_handshake_) {
        owner_->handshakes_.fetch_sub(1);
        in_handshake_ = false;
    }
}

void admission::ticket::release() noexcept {
    if (owner_ != nullptr) owner_->leave(client_, in_handshake_);
    owner_ = nullptr;
}

} // namespace weir::server
