#include "cli/generated_credential.hpp"

#include <cstdlib>
#include <optional>
#include <string>

#include <catch2/catch.hpp>

namespace {

// Sets (or with nullptr unsets) one variable for the scope, then puts it back.
class scoped_variable {
public:
    scoped_variable(const char* name, const char* value)
        : name_(name) {
        if (const char* old = std::getenv(name)) old_ = old;
        if (value != nullptr)
            ::setenv(name, value, 1);
        else
            ::unsetenv(name);
    }
    ~scoped_variable() {
        if (old_)
            ::setenv(name_, old_->c_str(), 1);
        else
            ::unsetenv(name_);
    }
    scoped_variable(const scoped_variable&) = delete;
    scoped_variable& operator=(const scoped_variable&) = delete;

private:
    const char* name_;
    std::optional<std::string> old_;
};

} // namespace

TEST_CASE("the state directory: systemd's, root's, then the user's", "[cli][state]") {
    using weir::cli::state_directory;
    const uid_t root = 0;
    const uid_t user = 1000;
    {
        scoped_variable state("STATE_DIRECTORY", "/var/lib/weir-a:/var/lib/weir-b");
        CHECK(state_directory(root) == "/var/lib/weir-a");
        CHECK(state_directory(user) == "/var/lib/weir-a");
    }
    scoped_variable no_state("STATE_DIRECTORY", nullptr);
    CHECK(state_directory(root) == "/var/lib/weir");
    {
        scoped_variable xdg("XDG_STATE_HOME", "/home/ann/.state");
        CHECK(state_directory(user) == "/home/ann/.state/weir");
    }
    scoped_variable home("HOME", "/home/ann");
    {
        scoped_variable xdg("XDG_STATE_HOME", "relative/is/ignored");
        CHECK(state_directory(user) == "/home/ann/.local/state/weir");
    }
    scoped_variable no_xdg("XDG_STATE_HOME", nullptr);
    CHECK(state_directory(user) == "/home/ann/.local/state/weir");
    {
        scoped_variable relative("STATE_DIRECTORY", "weir");
        CHECK(state_directory(user) == "/home/ann/.local/state/weir");
    }
    scoped_variable no_home("HOME", nullptr);
    CHECK_FALSE(state_directory(user).has_value());
    CHECK(state_directory(root) == "/var/lib/weir");
}
