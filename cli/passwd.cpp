#include "cli/passwd.hpp"

#include "auth/user_db.hpp"

#include <cstdio>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <termios.h>
#include <unistd.h>

#include <sodium.h>

namespace weir::cli {
namespace {

// Reads one line from stdin, without echo when `hidden` (a terminal).
std::optional<std::string> read_line(bool hidden, const char* prompt) {
    termios saved{};
    if (hidden) {
        std::fputs(prompt, stderr);
        std::fflush(stderr);
        ::tcgetattr(STDIN_FILENO, &saved);
        termios quiet = saved;
        quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
        ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    std::string line;
    const bool ok = static_cast<bool>(std::getline(std::cin, line));
    if (hidden) {
        ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
        std::fputc('\n', stderr);
    }
    if (!ok) return std::nullopt;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return line;
}

void wipe(std::string& s) {
    sodium_memzero(s.data(), s.size());
    s.clear();
}

} // namespace

int run_passwd(const std::string& name) {
    const bool tty = ::isatty(STDIN_FILENO) != 0;
    auto password = read_line(tty, "Password: ");
    if (!password) {
        std::fprintf(stderr, "weir: error: no password on stdin\n");
        return 2;
    }
    if (tty) {
        auto again = read_line(true, "Repeat password: ");
        const bool same = again && *again == *password;
        if (again) wipe(*again);
        if (!same) {
            wipe(*password);
            std::fprintf(stderr, "weir: error: the passwords differ\n");
            return 2;
        }
    }
    try {
        const auto line = auth::make_users_line(name, *password);
        wipe(*password);
        std::printf("%s\n", line.c_str());
        return 0;
    } catch (const std::invalid_argument& e) {
        wipe(*password);
        std::fprintf(stderr, "weir: error: %s\n", e.what());
        return 2;
    }
}

} // namespace weir::cli
