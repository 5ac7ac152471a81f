#include "auth/user_db.hpp"
#include "tests/unit/auth/cheap_hash.hpp"

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

#include <catch2/catch.hpp>
#include <sodium.h>

using weir::auth::user_db;
using weir::auth::users_file_error;
using weir::auth::test::cheap_hash;
using weir::auth::test::cheap_line;

namespace {

const std::string expected_hash_msg = "expected name:$argon2id$... hash";
const std::string bad_name_msg = "invalid user name (1..255 bytes, no ':' or control characters)";
const std::string weak_hash_msg = "hash is argon2i or weaker than interactive Argon2id "
                                  "(t>=2, m>=64 MiB): rehash with `weir passwd NAME`";

/// A crypto_pwhash_str string with these parameters and a random salt and
/// digest, made without hashing: parse() checks a hash's shape and cost, not
/// what password it holds, and a 1 GiB Argon2 run would take seconds.
std::string hash_string(std::uint32_t m, std::uint32_t t, std::uint32_t p,
                        std::string_view prefix = crypto_pwhash_argon2id_STRPREFIX) {
    if (sodium_init() < 0) throw std::runtime_error("sodium_init failed");
    const auto b64 = [](std::size_t size) {
        std::vector<unsigned char> bytes(size);
        randombytes_buf(bytes.data(), bytes.size());
        std::string out(sodium_base64_ENCODED_LEN(size, sodium_base64_VARIANT_ORIGINAL_NO_PADDING),
                        '\0');
        sodium_bin2base64(out.data(), out.size(), bytes.data(), bytes.size(),
                          sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
        out.resize(out.find('\0'));
        return out;
    };
    return std::string(prefix) + "v=19$m=" + std::to_string(m) + ",t=" + std::to_string(t) +
           ",p=" + std::to_string(p) + "$" + b64(16) + "$" + b64(32);
}

/// A hash at libsodium's interactive limits, as `weir passwd` makes them.
std::string interactive_hash() {
    return hash_string(65536, 2, 1);
}

/// "name:hash\n" with an interactive hash.
std::string line_of(std::string_view name) {
    return std::string(name) + ":" + interactive_hash() + "\n";
}

std::string parse_error(std::string_view text) {
    try {
        user_db::parse(text, "users.txt");
    } catch (const users_file_error& e) {
        return e.what();
    }
    return "(no error)";
}

std::string invalid_argument_of(std::string_view name, std::string_view password) {
    try {
        weir::auth::make_users_line(name, password);
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
    return "(no error)";
}

/// A file under the temp directory, removed when the test ends.
struct temp_file {
    std::filesystem::path path;
    explicit temp_file(std::string_view content) {
        static std::atomic<int> counter{0};
        path = std::filesystem::temp_directory_path() /
               ("weir-auth-test-" + std::to_string(::getpid()) + "-" + std::to_string(++counter));
        std::ofstream(path, std::ios::binary) << content;
    }
    ~temp_file() { std::filesystem::remove(path); }
    temp_file(const temp_file&) = delete;
    temp_file& operator=(const temp_file&) = delete;
};

bool verifies(const std::string& hash, std::string_view password) {
    return crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()) == 0;
}

} // namespace

TEST_CASE("users file with comments, blank lines, CRLF and trailing spaces", "[user_db]") {
    const auto alice = interactive_hash();
    const auto bob = interactive_hash();
    const auto carol = hash_string(262144, 4, 1); // sensitive limits: stronger is fine
    const std::string text = "# weir users\r\n"
                             "\r\n"
                             "   # indented comment\n"
                             "alice:" +
                             alice +
                             "\r\n"
                             "  \t \n"
                             "bob:" +
                             bob +
                             " \t\r\n"
                             "carol:" +
                             carol; // no final newline
    const auto db = user_db::parse(text, "users.txt");
    CHECK(db.size() == 3);
    REQUIRE(db.find("alice") != nullptr);
    CHECK(*db.find("alice") == alice);
    REQUIRE(db.find("bob") != nullptr);
    CHECK(*db.find("bob") == bob);
    REQUIRE(db.find("carol") != nullptr);
    CHECK(*db.find("carol") == carol);
    CHECK(db.find("dave") == nullptr);
    CHECK(db.find("Alice") == nullptr);
    CHECK(db.find("") == nullptr);
}

TEST_CASE("user names of 255 bytes and unusual bytes are accepted", "[user_db]") {
    const std::string long_name(255, 'n');
    const std::string text =
        line_of(long_name) + line_of("user name \xc3\xa9") + line_of("not#a-comment");
    const auto db = user_db::parse(text, "users.txt");
    CHECK(db.size() == 3);
    CHECK(db.find(long_name) != nullptr);
    CHECK(db.find("user name \xc3\xa9") != nullptr);
    CHECK(db.find("not#a-comment") != nullptr);
}

TEST_CASE("malformed lines name file and line, never their content", "[user_db]") {
    const auto hash = interactive_hash();
    struct bad_line {
        std::string line;
        std::string secret; // a part of the line that must not leak into the message
        std::string message;
    };
    const std::vector<bad_line> cases = {
        {"SECRET-hunter2", "SECRET", expected_hash_msg},
        {"SECRET-hunter2 $argon2id$", "SECRET", expected_hash_msg},
        {":" + hash, hash, bad_name_msg},
        {"SECRET\x01"
         "bob:" +
             hash,
         "SECRET", bad_name_msg},
        {"SECRET\tbob:" + hash, "SECRET", bad_name_msg},
        {"SECRET\rbob:" + hash, "SECRET", bad_name_msg},
        {std::string("SECRET\0bob:", 11) + hash, "SECRET", bad_name_msg},
        {"SECRET\x7f"
         "bob:" +
             hash,
         "SECRET", bad_name_msg},
        {std::string(256, 'S') + ":" + hash, std::string(256, 'S'), bad_name_msg},
        {"bob:SECRET-hunter2", "SECRET", expected_hash_msg},
        {"bob:", "bob", expected_hash_msg},
        {"bob: " + hash, "bob", expected_hash_msg},
        {"bob:$2b$10$SECRETSECRETSECRET", "SECRET", expected_hash_msg},
        {"bob:$argon2d$v=19$m=8,t=1,p=1$SECRET$SECRET", "SECRET", expected_hash_msg},
        {"bob:$argon2id$" + std::string(118, 'S'), std::string(20, 'S'), expected_hash_msg},
        {"bob:$argon2id$v=19$SECRET-garbage", "SECRET", "malformed Argon2 hash"},
        {"bob:$argon2i$v=19$SECRET-garbage", "SECRET", "malformed Argon2 hash"},
        {"bob:$argon2id$v=19$m=8,t=1,p=1$SECRET!!$SECRET", "SECRET", "malformed Argon2 hash"},
        {"bob:" + hash + " SECRET", "SECRET", "malformed Argon2 hash"},
        {"bob:" + hash + "\x01SECRET", "SECRET", "malformed Argon2 hash"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.line);
        const auto text = "# users\n" + line_of("alice") + c.line + "\n" + line_of("carol");
        const auto message = parse_error(text);
        CHECK(message == "users.txt:3: " + c.message);
        CHECK(message.find(c.secret) == std::string::npos);
    }
}

TEST_CASE("line numbers count comments, blank lines and CRLF lines", "[user_db]") {
    const auto text = "\r\n# c\r\n" + line_of("alice") + "   \r\nSECRET\r\n";
    CHECK(parse_error(text) == "users.txt:5: " + expected_hash_msg);
    CHECK(parse_error("SECRET") == "users.txt:1: " + expected_hash_msg);
}

TEST_CASE("a duplicate user is an error naming both lines", "[user_db]") {
    const auto text = line_of("alice") + line_of("bob") + "\n" + line_of("alice");
    CHECK(parse_error(text) == "users.txt:4: duplicate user (first defined on line 1)");
}

TEST_CASE("a users file without users is an error", "[user_db]") {
    CHECK(parse_error("") == "users.txt: no users");
    CHECK(parse_error("\n\n") == "users.txt: no users");
    CHECK(parse_error("# only a comment\r\n   \r\n\t# another\n") == "users.txt: no users");
}

TEST_CASE("load reads a file and names it in errors", "[user_db]") {
    const temp_file good(line_of("alice") + line_of("bob"));
    const auto db = user_db::load(good.path);
    CHECK(db.size() == 2);
    CHECK(db.find("bob") != nullptr);

    const temp_file bad(line_of("alice") + "SECRET\n");
    CHECK_THROWS_MATCHES(user_db::load(bad.path), users_file_error,
                         Catch::Matchers::Message(bad.path.string() + ":2: " + expected_hash_msg));

    const temp_file empty("");
    CHECK_THROWS_MATCHES(user_db::load(empty.path), users_file_error,
                         Catch::Matchers::Message(empty.path.string() + ": no users"));
}

TEST_CASE("load reports unreadable files with the system's reason", "[user_db]") {
    const std::filesystem::path missing = "/nonexistent-weir-dir/users.txt";
    CHECK_THROWS_MATCHES(
        user_db::load(missing), users_file_error,
        Catch::Matchers::Message(
            "cannot read users file /nonexistent-weir-dir/users.txt: No such file or directory"));
    const auto dir = std::filesystem::temp_directory_path();
    CHECK_THROWS_MATCHES(
        user_db::load(dir), users_file_error,
        Catch::Matchers::Message("cannot read users file " + dir.string() + ": Is a directory"));
}

TEST_CASE("make_users_line makes a line that parses and verifies", "[user_db][argon2]") {
    const std::string name(255, 'n');
    const std::string password(255, 'p');
    const auto line = weir::auth::make_users_line(name, password);
    CHECK(line.starts_with(name + ":$argon2id$v=19$m=65536,t=2,p=1$"));
    const auto db = user_db::parse(line, "generated");
    REQUIRE(db.find(name) != nullptr);
    CHECK(verifies(*db.find(name), password));
    CHECK_FALSE(verifies(*db.find(name), password.substr(1)));
}

TEST_CASE("make_users_line rejects bad names and passwords without echoing them", "[user_db]") {
    const std::string name_msg =
        "invalid user name: must be 1..255 bytes without ':' or control characters";
    const std::string password_msg = "invalid password: must be 1..255 bytes";
    CHECK(invalid_argument_of("", "SECRET") == name_msg);
    CHECK(invalid_argument_of(std::string(256, 'n'), "SECRET") == name_msg);
    CHECK(invalid_argument_of("al:ice", "SECRET") == name_msg);
    CHECK(invalid_argument_of("al\nice", "SECRET") == name_msg);
    CHECK(invalid_argument_of("alice", "") == password_msg);
    CHECK(invalid_argument_of("alice", std::string(256, 'S')) == password_msg);
    CHECK_THROWS_AS(user_db::single("", "pw"), std::invalid_argument);
    CHECK_THROWS_AS(user_db::single("alice", ""), std::invalid_argument);
}

TEST_CASE("single holds one user with a fresh Argon2id hash", "[user_db][argon2]") {
    const auto db = user_db::single("weir", "generated-secret");
    CHECK(db.size() == 1);
    REQUIRE(db.find("weir") != nullptr);
    const auto& hash = *db.find("weir");
    CHECK(hash.starts_with("$argon2id$v=19$m=65536,t=2,p=1$"));
    CHECK(verifies(hash, "generated-secret"));
    CHECK(hash != weir::auth::hash_password("generated-secret")); // salted
}

TEST_CASE("argon2i and Argon2id weaker than interactive are refused, the hash unquoted",
          "[user_db]") {
    const std::vector<std::string> weak = {
        cheap_hash("pw"),                                          // m=8, t=1: a real, cheap hash
        cheap_hash("pw", crypto_pwhash_ALG_ARGON2I13),             // a real argon2i hash
        hash_string(65536, 2, 1, crypto_pwhash_argon2i_STRPREFIX), // argon2i, however costly
        hash_string(131072, 4, 1, crypto_pwhash_argon2i_STRPREFIX),
        hash_string(65536, 1, 1),   // one pass short
        hash_string(65535, 2, 1),   // 1 KiB short
        hash_string(32768, 4, 1),   // more passes do not make up for memory
        hash_string(1048576, 1, 1), // nor more memory for passes
        hash_string(8, 2, 1),
        hash_string(64, 2, 8), // lanes are no cost: libsodium runs them one after another
    };
    for (const auto& hash : weak) {
        CAPTURE(hash);
        const auto message =
            parse_error("# users\n" + line_of("alice") + "bob:" + hash + "\n" + line_of("carol"));
        CHECK(message == "users.txt:3: " + weak_hash_msg);
        CHECK(message.find(hash.substr(hash.rfind('$'))) == std::string::npos);
        CHECK(message.find("$argon2") == std::string::npos);
    }
}

TEST_CASE("Argon2id at or above the interactive limits is accepted", "[user_db]") {
    const std::vector<std::string> strong = {
        hash_string(65536, 2, 1),   // what `weir passwd` makes
        hash_string(65536, 3, 1),   // more passes
        hash_string(131072, 2, 1),  // more memory
        hash_string(262144, 3, 1),  // libsodium's moderate limits
        hash_string(1048576, 4, 1), // and its sensitive ones
        hash_string(65536, 2, 4),   // lanes make it no weaker
        hash_string(4294967295u, 4294967295u, 1),
    };
    for (const auto& hash : strong) {
        CAPTURE(hash);
        const auto db = user_db::parse("bob:" + hash + "\n", "users.txt");
        REQUIRE(db.find("bob") != nullptr);
        CHECK(*db.find("bob") == hash);
    }
}

TEST_CASE("load refuses a weak hash, naming the file and line", "[user_db]") {
    const temp_file weak(line_of("alice") + cheap_line("bob", "pw"));
    CHECK_THROWS_MATCHES(user_db::load(weak.path), users_file_error,
                         Catch::Matchers::Message(weak.path.string() + ":2: " + weak_hash_msg));
}

TEST_CASE("the tests' parse accepts weak hashes, and nothing malformed", "[user_db]") {
    const auto argon2i = cheap_hash("bc", crypto_pwhash_ALG_ARGON2I13);
    const auto db = user_db::parse_accepting_weak_hashes_for_tests(
        cheap_line("alice", "pw") + "a:" + argon2i + "\n" + line_of("bob"), "test");
    CHECK(db.size() == 3);
    REQUIRE(db.find("a") != nullptr);
    CHECK(*db.find("a") == argon2i);
    const auto error_of = [](std::string_view text) {
        try {
            user_db::parse_accepting_weak_hashes_for_tests(text, "test");
        } catch (const users_file_error& e) {
            return std::string(e.what());
        }
        return std::string("(no error)");
    };
    CHECK(error_of("bob:$argon2id$v=19$m=8,t=1,p=1$SECRET!!$SECRET") ==
          "test:1: malformed Argon2 hash");
    CHECK(error_of("bob:SECRET") == "test:1: " + expected_hash_msg);
    CHECK(error_of(cheap_line("bob", "pw") + cheap_line("bob", "pw")) ==
          "test:2: duplicate user (first defined on line 1)");
}

TEST_CASE("permission_warning: a users file others may read, or anyone else write", "[user_db]") {
    const temp_file file(line_of("alice"));
    const auto p = file.path.string();
    const auto with_mode = [&](::mode_t mode) {
        REQUIRE(::chmod(file.path.c_str(), mode) == 0);
        return weir::auth::permission_warning(file.path);
    };
    CHECK(with_mode(0600) == std::nullopt);
    CHECK(with_mode(0400) == std::nullopt);
    CHECK(with_mode(0640) == std::nullopt); // a service's group may read it
    CHECK(with_mode(0644) ==
          "users file " + p + " is readable by other users (mode 0644): chmod 600 " + p);
    CHECK(with_mode(0604) ==
          "users file " + p + " is readable by other users (mode 0604): chmod 600 " + p);
    CHECK(with_mode(0620) ==
          "users file " + p + " is writable by other users (mode 0620): chmod 600 " + p);
    CHECK(with_mode(0602) ==
          "users file " + p + " is writable by other users (mode 0602): chmod 600 " + p);
    CHECK(with_mode(0666) ==
          "users file " + p + " is readable and writable by other users (mode 0666): chmod 600 " +
              p);
    CHECK(with_mode(04644) ==
          "users file " + p + " is readable by other users (mode 4644): chmod 600 " + p);
    CHECK(weir::auth::permission_warning("/nonexistent-weir-dir/users.txt") == std::nullopt);
}
