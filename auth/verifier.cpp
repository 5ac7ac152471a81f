#include "auth/verifier.hpp"

#include "auth/sodium_init.hpp"

#include <cstring>
#include <stdexcept>
#include <utility>

#include <sodium.h>

namespace weir::auth {
namespace {

constexpr std::size_t max_field = 255; // RFC 1929: one length byte

bool plausible(std::string_view field) {
    return !field.empty() && field.size() <= max_field;
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
    // len(name) || name || password: unambiguous because name is at most 255 bytes.
    const auto name_len = static_cast<std::uint8_t>(name.size());
    crypto_generichash_state state;
    crypto_generichash_init(&state, cache_secret_.data(), cache_secret_.size(), sizeof(cache_key));
    crypto_generichash_update(&state, &name_len, 1);
    crypto_generichash_update(&state, reinterpret_cast<const unsigned char*>(name.data()),
                              name.size());
    crypto_generichash_update(&state, reinterpret_cast<const unsigned char*>(password.data()),
                              password.size());
    cache_key key{};
    crypto_generichash_final(&state, key.data(), key.size());
    sodium_memzero(&state, sizeof state);
    return key;
}

bool verifier::cached(std::string_view name, std::string_view password) {
    if (!plausible(name) || !plausible(password)) return false;
    const auto key = key_of(name, password);
    const auto now = std::chrono::steady_clock::now();
    const std::lock_guard lock(mutex_);
    const auto it = cache_.find(key);
    if (it == cache_.end()) return false;
    if (now >= it->second) {
        cache_.erase(it);
        return false;
    }
    return true;
}

bool verifier::verify(std::string_view name, std::string_view password) {
    std::shared_ptr<const user_db> users;
    std::uint64_t generation = 0;
    {
        const std::lock_guard lock(mutex_);
        users = users_;
        generation = generation_;
    }
    const std::string* stored = plausible(name) ? users->find(name) : nullptr;
    const bool usable = stored != nullptr && plausible(password);
    const std::string& hash = usable ? *stored : dummy_hash_;
    // Unknown users and out-of-range fields pay the same Argon2 cost as a wrong password.
    const bool match =
        crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()) == 0;
    if (!match || !usable) return false;
    remember(key_of(name, password), generation);
    return true;
}

void verifier::replace_users(std::shared_ptr<const user_db> users) {
    if (!users) throw std::invalid_argument("verifier needs a user_db");
    const std::lock_guard lock(mutex_);
    users_ = std::move(users);
    ++generation_;
    cache_.clear();
}

void verifier::remember(const cache_key& key, std::uint64_t generation) {
    if (opts_.cache_capacity == 0) return;
    const auto now = std::chrono::steady_clock::now();
    const std::lock_guard lock(mutex_);
    if (generation != generation_) return; // verified against users replaced meanwhile
    if (cache_.size() >= opts_.cache_capacity && !cache_.contains(key)) make_room(now);
    cache_.insert_or_assign(key, now + opts_.cache_ttl);
}

// Drops expired entries; if none were, drops the entry closest to expiry (the oldest).
void verifier::make_room(std::chrono::steady_clock::time_point now) {
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

} // namespace weir::auth
