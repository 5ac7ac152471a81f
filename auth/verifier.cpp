#include "auth/verifier.hpp"

#include "auth/sodium_init.hpp"
#include "text/field.hpp"

#include <algorithm>
#include <cstring>
#include <new>
#include <stdexcept>
#include <utility>

#include <sodium.h>

namespace weir::auth {
namespace {

bool plausible(std::string_view field) {
    return !field.empty() && field.size() <= text::max_field;
}

std::string random_dummy_hash() {
    std::array<char, 32> secret{};
    randombytes_buf(secret.data(), secret.size());
    auto hash = hash_password(std::string_view(secret.data(), secret.size()));
    sodium_memzero(secret.data(), secret.size());
    return hash;
}

} // namespace

std::size_t verifier::key_hash::operator()(const cache_key& k) const noexcept {
    std::size_t h = 0;
    std::memcpy(&h, k.data(), sizeof h); // the key is already a keyed hash: uniform
    return h;
}

verifier::verifier(std::shared_ptr<const user_db> users, options opts)
    : users_(std::move(users))
    , opts_(opts) {
    if (!users_) throw std::invalid_argument("verifier needs a user_db");
    detail::ensure_sodium();
    randombytes_buf(cache_secret_.data(), cache_secret_.size());
    dummy_hash_ = random_dummy_hash();
}

verifier::cache_key verifier::key_of(std::string_view name, std::string_view password) const {
    static_assert(sizeof(cache_key) == crypto_shorthash_siphashx24_BYTES);
    static_assert(sizeof cache_secret_ == crypto_shorthash_siphashx24_KEYBYTES);
    // Callers pass only plausible fields; a longer one would overrun `in`.
    if (name.size() > text::max_field || password.size() > text::max_field)
        throw std::length_error("credential field longer than 255 bytes");
    // len(name) || name || password: unambiguous because name is at most 255 bytes.
    std::array<unsigned char, 1 + 2 * text::max_field> in;
    in[0] = static_cast<unsigned char>(name.size());
    std::memcpy(in.data() + 1, name.data(), name.size());
    std::memcpy(in.data() + 1 + name.size(), password.data(), password.size());
    const std::size_t size = 1 + name.size() + password.size();
    cache_key key{};
    crypto_shorthash_siphashx24(key.data(), in.data(), size, cache_secret_.data());
    sodium_memzero(in.data(), size);
    return key;
}

// A hit renews the entry: it expires a lifetime after its last use.
bool verifier::fresh_locked(const cache_key& key, clock::time_point now) {
    const auto it = cache_.find(key);
    if (it == cache_.end()) return false;
    if (now >= it->second) {
        cache_.erase(it);
        return false;
    }
    it->second = std::max(it->second, now + opts_.cache_ttl); // `now` may be a little stale
    return true;
}

bool verifier::cached(std::string_view name, std::string_view password, clock::time_point now) {
    if (!plausible(name) || !plausible(password)) return false;
    const auto key = key_of(name, password);
    const std::lock_guard lock(mutex_);
    return fresh_locked(key, now);
}

// The Argon2id run itself, outside the lock.
bool verifier::check(const user_db& users, std::string_view name,
                     std::string_view password) const noexcept {
    const std::string* stored = plausible(name) ? users.find(name) : nullptr;
    const bool usable = stored != nullptr && plausible(password);
    const std::string& hash = usable ? *stored : dummy_hash_;
    // Unknown users and out-of-range fields pay the same Argon2 cost as a wrong password.
    const bool match =
        crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()) == 0;
    return match && usable;
}

bool verifier::verify_implausible(std::string_view name, std::string_view password) {
    std::shared_ptr<const user_db> users;
    {
        const std::lock_guard lock(mutex_);
        users = users_;
        ++slow_checks_;
    }
    return check(*users, name, password); // false, at a wrong password's cost
}

bool verifier::verify(std::string_view name, std::string_view password) {
    // No key for these: it is unambiguous only for fields in range.
    if (!plausible(name) || !plausible(password)) return verify_implausible(name, password);
    const auto key = key_of(name, password);
    std::unique_lock lock(mutex_);
    // The same login may have succeeded while this one waited for a worker.
    if (fresh_locked(key, clock::now())) return true;
    const auto users = users_;
    const auto generation = generation_;
    if (const auto it = flights_.find(key);
        it != flights_.end() && it->second->generation == generation) {
        const auto joined = it->second; // the same check, against the same users
        landed_.wait(lock, [&] { return joined->landed; });
        return joined->ok;
    }
    // A flight against users replaced since is left to finish alone.
    const auto mine = std::make_shared<flight>(generation);
    flights_.insert_or_assign(key, mine);
    ++slow_checks_;
    lock.unlock();
    const bool ok = check(*users, name, password);
    land(key, mine, ok);
    return ok;
}

void verifier::land(const cache_key& key, const std::shared_ptr<flight>& mine, bool ok) {
    std::unique_lock lock(mutex_);
    mine->landed = true;
    mine->ok = ok;
    if (const auto it = flights_.find(key); it != flights_.end() && it->second == mine)
        flights_.erase(it);
    // Verified against users replaced meanwhile: not worth remembering.
    if (ok && mine->generation == generation_ && opts_.cache_capacity > 0) {
        try {
            remember_locked(key, clock::now());
        } catch (const std::bad_alloc&) { // not cached: the next login runs Argon2id again
        }
    }
    lock.unlock();
    landed_.notify_all();
}

void verifier::replace_users(std::shared_ptr<const user_db> users) {
    if (!users) throw std::invalid_argument("verifier needs a user_db");
    const std::lock_guard lock(mutex_);
    users_ = std::move(users);
    ++generation_;
    cache_.clear();
}

void verifier::remember_locked(const cache_key& key, clock::time_point now) {
    if (cache_.size() >= opts_.cache_capacity && !cache_.contains(key)) make_room(now);
    cache_.insert_or_assign(key, now + opts_.cache_ttl);
}

// Drops expired entries; if none were, drops the entry closest to expiry (the
// one unused the longest).
void verifier::make_room(clock::time_point now) {
    auto oldest = cache_.end();
    for (auto it = cache_.begin(); it != cache_.end();) {
        if (now >= it->second) {
            it = cache_.erase(it);
            continue;
        }
        if (oldest == cache_.end() || it->second < oldest->second) oldest = it;
        ++it;
    }
    if (cache_.size() >= opts_.cache_capacity && oldest != cache_.end()) cache_.erase(oldest);
}

std::size_t verifier::cache_size() {
    const std::lock_guard lock(mutex_);
    return cache_.size();
}

std::uint64_t verifier::slow_checks() {
    const std::lock_guard lock(mutex_);
    return slow_checks_;
}

std::size_t verifier::checks_in_flight() {
    const std::lock_guard lock(mutex_);
    return flights_.size();
}

} // namespace weir::auth
