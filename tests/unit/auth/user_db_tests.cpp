#include "auth/user_db.hpp"
#include "tests/unit/auth/cheap_hash.hpp"

#include <atomic>
#include <fstream>
#include <string>
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
    const auto alice = cheap_hash("alice-pw");
    const auto bob = cheap_hash("bob-pw");
    const auto carol = cheap_hash("carol-pw", crypto_pwhash_ALG_ARGON2I13);
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
    const std::string text = cheap_line(long_name, "pw") + cheap_line("user name \xc3\xa9", "pw") +
                             cheap_line("not#a-comment", "pw");
    const auto db = user_db::parse(text, "users.txt");
    CHECK(db.size() == 3);
    CHECK(db.find(long_name) != nullptr);
    CHECK(db.find("user name \xc3\xa9") != nullptr);
    CHECK(db.find("not#a-comment") != nullptr);
}

TEST_CASE("malformed lines name file and line, never their content", "[user_db]") {
    const auto hash = cheap_hash("pw");
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
        const auto text =
            "# users\n" + cheap_line("alice", "pw") + c.line + "\n" + cheap_line("carol", "pw");
        const auto message = parse_error(text);
        CHECK(message == "users.txt:3: " + c.message);
        CHECK(message.find(c.secret) == std::string::npos);
    }
}

TEST_CASE("line numbers count comments, blank lines and CRLF lines", "[user_db]") {
    const auto text = "\r\n# c\r\n" + cheap_line("alice", "pw") + "   \r\nSECRET\r\n";
    CHECK(parse_error(text) == "users.txt:5: " + expected_hash_msg);
    CHECK(parse_error("SECRET") == "users.txt:1: " + expected_hash_msg);
}

TEST_CASE("a duplicate user is an error naming both lines", "[user_db]") {
    const auto text =
        cheap_line("alice", "pw") + cheap_line("bob", "pw") + "\n" + cheap_line("alice", "other");
    CHECK(parse_error(text) == "users.txt:4: duplicate user (first defined on line 1)");
}

TEST_CASE("a users file without users is an error", "[user_db]") {
    CHECK(parse_error("") == "users.txt: no users");
    CHECK(parse_error("\n\n") == "users.txt: no users");
    CHECK(parse_error("# only a comment\r\n   \r\n\t# another\n") == "users.txt: no users");
}

TEST_CASE("load reads a file and names it in errors", "[user_db]") {
    const temp_file good(cheap_line("alice", "pw") + cheap_line("bob", "pw"));
    const auto db = user_db::load(good.path);
    CHECK(db.size() == 2);
    CHECK(db.find("bob") != nullptr);

    const temp_file bad(cheap_line("alice", "pw") + "SECRET\n");
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
