#include "auth/verifier.hpp"
#include "tests/unit/auth/cheap_hash.hpp"

#include <atomic>
#include <chrono>
#include <latch>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

using weir::auth::hash_password;
using weir::auth::user_db;
using weir::auth::verifier;
using weir::auth::test::cheap_hash;
using weir::auth::test::cheap_line;

namespace {

// "u3", "p3": built by append, since `"u" + std::to_string(i)` trips GCC 12's -Wrestrict at -O3.
std::string nth(std::string_view prefix, int i) {
    std::string s(prefix);
    s += std::to_string(i);
    return s;
}

std::shared_ptr<const user_db> db_of(const std::string& text) {
    return std::make_shared<const user_db>(
        user_db::parse_accepting_weak_hashes_for_tests(text, "test"));
}

// Users u0..u{n-1} with passwords p0..p{n-1}.
std::shared_ptr<const user_db> numbered_users(int n) {
    std::string text;
    for (int i = 0; i < n; ++i) {
        text += cheap_line(nth("u", i), nth("p", i));
    }
    return db_of(text);
}

verifier::options with(std::chrono::steady_clock::duration ttl, std::size_t capacity) {
    verifier::options opts;
    opts.cache_ttl = ttl;
    opts.cache_capacity = capacity;
    return opts;
}

} // namespace

TEST_CASE("verify accepts the right password only and caches successes", "[verifier]") {
    const std::string long_password(255, 'L');
    const auto db = db_of(cheap_line("alice", "alice-pw") + cheap_line("bob", "bob-pw") +
                          "a:" + cheap_hash("bc", crypto_pwhash_ALG_ARGON2I13) + "\n" +
                          cheap_line("long", long_password));
    verifier v(db, {});

    CHECK_FALSE(v.cached("alice", "alice-pw"));
    CHECK_FALSE(v.verify("alice", "wrong"));
    CHECK_FALSE(v.verify("alice", "alice-pw "));
    CHECK_FALSE(v.verify("bob", "alice-pw"));
    CHECK_FALSE(v.verify("mallory", "alice-pw"));
    CHECK(v.cache_size() == 0);

    CHECK(v.verify("alice", "alice-pw"));
    CHECK(v.cache_size() == 1);
    CHECK(v.cached("alice", "alice-pw"));
    CHECK_FALSE(v.cached("alice", "wrong"));
    CHECK_FALSE(v.cached("bob", "alice-pw"));
    CHECK_FALSE(v.cached("bob", "bob-pw"));

    CHECK(v.verify("a", "bc")); // an $argon2i$ hash
    CHECK(v.cached("a", "bc"));
    CHECK_FALSE(v.cached("ab", "c")); // the length prefix keeps the pairs apart

    CHECK(v.verify("long", long_password));
    CHECK(v.cached("long", long_password));
    CHECK(v.verify("alice", "alice-pw")); // refreshes, does not duplicate
    CHECK(v.cache_size() == 3);
}

TEST_CASE("the longest name and password both count, to their last byte", "[verifier]") {
    const std::string name(255, 'N');
    const std::string password(255, 'P');
    std::string other_password = password;
    other_password.back() = 'Q';
    std::string other_name = name;
    other_name.back() = 'M';
    const auto db = db_of(cheap_line(name, password) + cheap_line(other_name, password) +
                          cheap_line("short", password));
    verifier v(db, {});
    REQUIRE(v.verify(name, password));
    CHECK(v.cached(name, password));
    CHECK_FALSE(v.cached(name, other_password));
    CHECK_FALSE(v.cached(other_name, password));
    CHECK_FALSE(v.cached("short", password));
    CHECK_FALSE(v.cached(name.substr(1), password));
    CHECK_FALSE(v.cached(name, password.substr(1)));
    CHECK(v.cache_size() == 1);
}

TEST_CASE("verify rejects empty and over-long fields", "[verifier]") {
    const auto db = db_of(cheap_line("alice", "alice-pw"));
    verifier v(db, {});
    CHECK_FALSE(v.verify("alice", ""));
    CHECK_FALSE(v.verify("alice", std::string(256, 'x')));
    CHECK_FALSE(v.verify("", "alice-pw"));
    CHECK_FALSE(v.verify(std::string(256, 'a'), "alice-pw"));
    CHECK_FALSE(v.cached("alice", ""));
    CHECK_FALSE(v.cached(std::string(256, 'a'), "alice-pw"));
    CHECK(v.cache_size() == 0);
}

TEST_CASE("cache entries expire", "[verifier]") {
    const auto ttl = GENERATE(std::chrono::steady_clock::duration::zero(),
                              std::chrono::steady_clock::duration(std::chrono::seconds(-1)));
    CAPTURE(ttl.count());
    verifier v(numbered_users(3), with(ttl, 2));
    CHECK(v.verify("u0", "p0"));
    CHECK(v.cache_size() == 1);
    CHECK_FALSE(v.cached("u0", "p0"));
    CHECK(v.cache_size() == 0); // the lookup erased the expired entry

    // A full cache of expired entries is swept before a new one goes in.
    CHECK(v.verify("u0", "p0"));
    CHECK(v.verify("u1", "p1"));
    CHECK(v.cache_size() == 2);
    CHECK(v.verify("u2", "p2"));
    CHECK(v.cache_size() == 1);
}

TEST_CASE("a cache entry lives a lifetime after its last use", "[verifier]") {
    using namespace std::chrono_literals;
    verifier v(numbered_users(2), with(5min, 4));
    const auto t0 = verifier::clock::now();
    CHECK(v.verify("u0", "p0")); // remembered until about t0 + 5 min
    CHECK(v.verify("u1", "p1"));
    CHECK(v.cached("u0", "p0", t0 + 4min));       // used: until t0 + 9 min
    CHECK(v.cached("u0", "p0", t0 + 8min));       // past 5 min from the login: still there
    CHECK_FALSE(v.cached("u1", "p1", t0 + 8min)); // unused since the login
    CHECK(v.cached("u0", "p0", t0 + 12min));
    CHECK_FALSE(v.cached("u0", "p0", t0 + 18min)); // unused for 6 minutes
    CHECK(v.cache_size() == 0);
    CHECK(v.slow_checks() == 2);
}

TEST_CASE("a full cache drops the entry unused the longest", "[verifier]") {
    using namespace std::chrono_literals;
    verifier v(numbered_users(3), with(5min, 2));
    const auto t0 = verifier::clock::now();
    CHECK(v.verify("u0", "p0"));
    CHECK(v.verify("u1", "p1"));
    CHECK(v.cached("u0", "p0", t0 + 1min)); // u0 now the more recently used
    CHECK(v.verify("u2", "p2"));            // room is made by dropping u1
    CHECK(v.cache_size() == 2);
    CHECK(v.cached("u0", "p0", t0 + 2min));
    CHECK(v.cached("u2", "p2", t0 + 2min));
    CHECK_FALSE(v.cached("u1", "p1", t0 + 2min));
}

TEST_CASE("the cache never grows past its capacity and drops the oldest", "[verifier]") {
    constexpr int users = 7;
    verifier v(numbered_users(users), with(std::chrono::minutes(5), 3));
    for (int i = 0; i < users; ++i) {
        CHECK(v.verify(nth("u", i), nth("p", i)));
        CHECK(v.cache_size() == std::min<std::size_t>(static_cast<std::size_t>(i) + 1, 3));
    }
    for (int i = 0; i < users; ++i) {
        CAPTURE(i);
        CHECK(v.cached(nth("u", i), nth("p", i)) == (i >= users - 3));
    }
}

TEST_CASE("a zero capacity disables the cache", "[verifier]") {
    verifier v(numbered_users(1), with(std::chrono::minutes(5), 0));
    CHECK(v.verify("u0", "p0"));
    CHECK(v.cache_size() == 0);
    CHECK_FALSE(v.cached("u0", "p0"));
}

TEST_CASE("verify and cached may run on several threads", "[verifier]") {
    constexpr int users = 4;
    verifier v(numbered_users(users), with(std::chrono::minutes(5), 2));
    std::vector<int> failures(users, 0);
    std::vector<std::thread> threads;
    for (int t = 0; t < users; ++t) {
        threads.emplace_back([&v, &failures, t] {
            const auto name = nth("u", t);
            const auto password = nth("p", t);
            for (int round = 0; round < 20; ++round) {
                if (!v.verify(name, password)) ++failures[static_cast<std::size_t>(t)];
                if (v.verify(name, "wrong")) ++failures[static_cast<std::size_t>(t)];
                if (v.cached(name, "wrong")) ++failures[static_cast<std::size_t>(t)];
                if (v.cache_size() > 2) ++failures[static_cast<std::size_t>(t)];
            }
        });
    }
    for (auto& thread : threads)
        thread.join();
    CHECK(failures == std::vector<int>(users, 0));
}

TEST_CASE("replace_users swaps the users and forgets cached successes", "[verifier][reload]") {
    verifier v(db_of(cheap_line("alice", "old") + cheap_line("bob", "b")), verifier::options{});
    REQUIRE(v.verify("alice", "old"));
    REQUIRE(v.cached("alice", "old"));
    v.replace_users(db_of(cheap_line("alice", "new")));
    CHECK_FALSE(v.cached("alice", "old"));
    CHECK(v.cache_size() == 0);
    CHECK_FALSE(v.verify("alice", "old"));
    CHECK_FALSE(v.verify("bob", "b"));
    CHECK(v.verify("alice", "new"));
    CHECK(v.cached("alice", "new"));
    CHECK_THROWS_AS(v.replace_users(nullptr), std::invalid_argument);
}

// The next cases use hash_password()'s real cost (Argon2id at the interactive
// limits, tens of milliseconds): logins that arrive together overlap for real.

namespace {

constexpr int logins = 8;

// verify(name, password) from `logins` threads let go at once: 1 or 0 each.
std::vector<int> verify_at_once(verifier& v, std::string_view name, std::string_view password) {
    std::latch start(logins);
    std::vector<int> ok(logins, -1);
    std::vector<std::thread> threads;
    for (int i = 0; i < logins; ++i) {
        threads.emplace_back([&, i] {
            start.arrive_and_wait();
            ok[static_cast<std::size_t>(i)] = v.verify(name, password) ? 1 : 0;
        });
    }
    for (auto& thread : threads)
        thread.join();
    return ok;
}

} // namespace

TEST_CASE("logins with the same name and password at once share one Argon2id run", "[verifier]") {
    verifier v(db_of("alice:" + hash_password("alice-pw") + "\n"), verifier::options{});
    CHECK(verify_at_once(v, "alice", "alice-pw") == std::vector<int>(logins, 1));
    // The first ran it; the others waited for its answer or found it cached.
    CHECK(v.slow_checks() == 1);
    CHECK(v.checks_in_flight() == 0);
    CHECK(v.cached("alice", "alice-pw"));
}

TEST_CASE("a wrong password tried at once fails for every caller and is not cached", "[verifier]") {
    verifier v(db_of("alice:" + hash_password("alice-pw") + "\n"), verifier::options{});
    CHECK(verify_at_once(v, "alice", "wrong") == std::vector<int>(logins, 0));
    CHECK(v.slow_checks() >= 1);
    CHECK(v.slow_checks() <= logins);
    CHECK(v.checks_in_flight() == 0);
    CHECK(v.cache_size() == 0);
    CHECK(v.verify("alice", "alice-pw")); // a shared failure leaves nothing behind
}

TEST_CASE("a check under way against replaced users is not shared after the reload",
          "[verifier][reload]") {
    verifier v(db_of("alice:" + hash_password("old") + "\n"), verifier::options{});
    std::atomic<int> before_reload{-1};
    std::thread first([&] { before_reload = v.verify("alice", "old") ? 1 : 0; });
    // Usually caught under way; if it already finished, the reload forgets its
    // cached success and every check below holds all the same.
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (v.checks_in_flight() == 0 && before_reload == -1 &&
           std::chrono::steady_clock::now() < give_up)
        std::this_thread::yield();
    v.replace_users(db_of(cheap_line("alice", "new")));
    CHECK_FALSE(v.verify("alice", "old"));
    CHECK(v.verify("alice", "new"));
    first.join();
    CHECK(before_reload == 1); // it began before the reload
    CHECK_FALSE(v.cached("alice", "old"));
}
