#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

#include <sodium.h>

namespace weir::auth::test {

/// A valid crypto_pwhash_str string made with the minimum limits: microseconds, not 100 ms,
/// so tests can build users files with many users. Production hashes use the interactive limits.
inline std::string cheap_hash(std::string_view password, int alg = crypto_pwhash_ALG_ARGON2ID13) {
    if (sodium_init() < 0) throw std::runtime_error("sodium_init failed");
    const auto ops = alg == crypto_pwhash_ALG_ARGON2I13 ? crypto_pwhash_argon2i_OPSLIMIT_MIN
                                                        : crypto_pwhash_argon2id_OPSLIMIT_MIN;
    char out[crypto_pwhash_STRBYTES];
    if (crypto_pwhash_str_alg(out, password.data(), password.size(), ops,
                              crypto_pwhash_MEMLIMIT_MIN, alg) != 0) {
        throw std::runtime_error("crypto_pwhash_str_alg failed");
    }
    return out;
}

/// "name:hash\n" with a cheap hash.
inline std::string cheap_line(std::string_view name, std::string_view password) {
    return std::string(name) + ":" + cheap_hash(password) + "\n";
}

} // namespace weir::auth::test
