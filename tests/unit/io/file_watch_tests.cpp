#include "io/file_watch.hpp"

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <sys/resource.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <catch2/catch.hpp>

using weir::io::file_watch;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

/// A fresh directory, removed with everything in it at the end of the test.
struct temp_dir {
    fs::path path;
    temp_dir() {
        std::string name = (fs::temp_directory_path() / "weir-watch-XXXXXX").string();
        REQUIRE(::mkdtemp(name.data()) != nullptr);
        path = name;
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    ~temp_dir() {
        std::error_code ignored;
        fs::remove_all(path, ignored);
    }
    fs::path operator/(const std::string& name) const { return path / name; }
};

void write_file(const fs::path& p, std::string_view text) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << text;
    REQUIRE(out.good());
}

void append_file(const fs::path& p, std::string_view text) {
    std::ofstream out(p, std::ios::binary | std::ios::app);
    out << text;
    REQUIRE(out.good());
}

/// As editors, `install` and Ansible do: a temporary file renamed over the name.
void rename_over(const fs::path& p, std::string_view text) {
    const auto tmp = p.parent_path() / (p.filename().string() + ".tmp");
    write_file(tmp, text);
    fs::rename(tmp, p);
}

/// A watch on its own io_context, recording each call of its handler.
struct watcher {
    asio::io_context io;
    std::vector<std::vector<fs::path>> calls;
    std::optional<file_watch> watch;

    explicit watcher(std::vector<fs::path> files) {
        watch.emplace(io, std::move(files),
                      [this](const std::vector<fs::path>& changed) { calls.push_back(changed); });
        REQUIRE_FALSE(watch->error());
    }

    /// Runs the context until there were `n` calls (false after a generous 10 s).
    bool wait_for_calls(std::size_t n) {
        const auto deadline = std::chrono::steady_clock::now() + 10s;
        while (calls.size() < n && std::chrono::steady_clock::now() < deadline) {
            io.restart();
            io.run_for(20ms);
        }
        return calls.size() >= n;
    }

    /// Runs the context for `d`, whatever happens.
    void run_for(std::chrono::milliseconds d) {
        io.restart();
        io.run_for(d);
    }
};

} // namespace

TEST_CASE("a file written in place is reported: truncated and written, then appended to",
          "[file_watch]") {
    temp_dir dir;
    const auto users = dir / "users";
    write_file(users, "alice:1\n");
    watcher w({users});
    write_file(users, "alice:2\n");
    REQUIRE(w.wait_for_calls(1));
    CHECK(w.calls[0] == std::vector<fs::path>{users});
    append_file(users, "bob:3\n");
    REQUIRE(w.wait_for_calls(2));
    CHECK(w.calls[1] == std::vector<fs::path>{users});
    w.run_for(1s);
    CHECK(w.calls.size() == 2);
}

TEST_CASE("a file renamed over the watched name is reported, each time", "[file_watch]") {
    temp_dir dir;
    const auto users = dir / "users";
    write_file(users, "alice:1\n");
    watcher w({users});
    rename_over(users, "alice:2\n");
    REQUIRE(w.wait_for_calls(1));
    rename_over(users, "alice:3\n");
    REQUIRE(w.wait_for_calls(2));
    CHECK(w.calls[1] == std::vector<fs::path>{users});
}

// The kubelet's atomic writer for Secret and ConfigMap volumes: the name is a
// symlink into `..data`, itself a symlink to a timestamped directory that an
// update replaces (new directory, `..data_tmp` renamed over `..data`, old
// directory removed).
TEST_CASE("the Kubernetes ..data symlink swap is reported, and the next one too",
          "[file_watch][kubernetes]") {
    temp_dir dir;
    const auto publish = [&](const std::string& stamp, std::string_view text) {
        fs::create_directory(dir / stamp);
        write_file(dir / stamp / "users", text);
        fs::create_directory_symlink(stamp, dir / "..data_tmp");
        fs::rename(dir / "..data_tmp", dir / "..data");
    };
    publish("..2026_12_05_11_40_00.000000001", "alice:1\n");
    fs::create_symlink("..data/users", dir / "users");
    watcher w({dir / "users"});

    publish("..2026_12_05_11_41_00.000000002", "alice:2\n");
    fs::remove_all(dir / "..2026_12_05_11_40_00.000000001");
    REQUIRE(w.wait_for_calls(1));
    CHECK(w.calls[0] == std::vector<fs::path>{dir / "users"});
    w.run_for(1s); // the old directory's removal changes nothing watched
    CHECK(w.calls.size() == 1);

    // The same size and content: only the inode and the path differ.
    publish("..2026_12_05_11_42_00.000000003", "alice:2\n");
    fs::remove_all(dir / "..2026_12_05_11_41_00.000000002");
    REQUIRE(w.wait_for_calls(2));
    w.run_for(1s);
    CHECK(w.calls.size() == 2);
}

TEST_CASE("a file deleted is reported once, and again when it is created again", "[file_watch]") {
    temp_dir dir;
    const auto users = dir / "users";
    write_file(users, "alice:1\n");
    watcher w({users});
    fs::remove(users);
    REQUIRE(w.wait_for_calls(1));
    write_file(dir / "other", "x\n"); // the file is still missing: no new call
    w.run_for(1s);
    CHECK(w.calls.size() == 1);
    write_file(users, "alice:2\n");
    REQUIRE(w.wait_for_calls(2));
    CHECK(w.calls[1] == std::vector<fs::path>{users});
    append_file(users, "bob:3\n"); // still watched after coming back
    REQUIRE(w.wait_for_calls(3));
}

TEST_CASE("changes to other files in the same directory are not reported", "[file_watch]") {
    temp_dir dir;
    const auto users = dir / "users";
    const auto rules = dir / "rules";
    write_file(users, "alice:1\n");
    write_file(rules, "allow\n");
    watcher w({users, rules});
    write_file(dir / "other", "1\n");
    append_file(dir / "other", "2\n");
    rename_over(dir / "other", "3\n");
    fs::remove(dir / "other");
    fs::create_directory(dir / "sub");
    w.run_for(1s);
    CHECK(w.calls.empty());
    append_file(rules, "deny\n"); // the watch was live: this one is reported, alone
    REQUIRE(w.wait_for_calls(1));
    CHECK(w.calls[0] == std::vector<fs::path>{rules});
}

TEST_CASE("a burst of 20 writes is reported once or twice, not 20 times", "[file_watch]") {
    temp_dir dir;
    const auto users = dir / "users";
    write_file(users, "alice:0\n");
    watcher w({users});
    std::thread writer([&] {
        for (int i = 1; i <= 20; ++i)
            append_file(users, "alice:" + std::to_string(i) + "\n");
    });
    REQUIRE(w.wait_for_calls(1));
    writer.join();
    w.run_for(1s);
    CHECK(w.calls.size() >= 1);
    CHECK(w.calls.size() <= 2);
}

TEST_CASE("a chain of symlinks through other directories is followed, and re-followed",
          "[file_watch][symlink]") {
    temp_dir dir;
    for (const auto* d : {"a", "b", "c"})
        fs::create_directory(dir / d);
    write_file(dir / "c" / "users", "alice:1\n");
    write_file(dir / "c" / "users2", "alice:2\n");
    fs::create_symlink(dir / "c" / "users", dir / "b" / "link"); // absolute
    fs::create_symlink("../b/link", dir / "a" / "users");        // relative
    watcher w({dir / "a" / "users"});

    append_file(dir / "c" / "users", "bob:1\n"); // the file at the end
    REQUIRE(w.wait_for_calls(1));

    fs::create_symlink(dir / "c" / "users2", dir / "b" / "link.tmp"); // the middle link moves
    fs::rename(dir / "b" / "link.tmp", dir / "b" / "link");
    REQUIRE(w.wait_for_calls(2));

    append_file(dir / "c" / "users", "bob:2\n"); // no longer where the chain leads
    w.run_for(1s);
    CHECK(w.calls.size() == 2);
    append_file(dir / "c" / "users2", "bob:2\n");
    REQUIRE(w.wait_for_calls(3));
    CHECK(w.calls[2] == std::vector<fs::path>{dir / "a" / "users"});
}

TEST_CASE("after stop() nothing is reported", "[file_watch]") {
    temp_dir dir;
    const auto users = dir / "users";
    write_file(users, "alice:1\n");
    watcher w({users});
    append_file(users, "bob:1\n");
    w.run_for(50ms); // the event is read and the settle delay starts
    w.watch->stop();
    append_file(users, "carol:1\n");
    w.run_for(1s);
    CHECK(w.calls.empty());
}

TEST_CASE("without inotify (no descriptor left) error() says so and nothing is reported",
          "[file_watch]") {
    temp_dir dir;
    const auto users = dir / "users";
    write_file(users, "alice:1\n");
    asio::io_context io;
    const asio::steady_timer warm(io); // Asio's reactor gets its descriptors now
    int calls = 0;
    // The lowest free descriptor becomes the limit: the next one cannot be had.
    const int lowest_free = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    REQUIRE(lowest_free >= 0);
    ::close(lowest_free);
    rlimit saved{};
    REQUIRE(::getrlimit(RLIMIT_NOFILE, &saved) == 0);
    rlimit low = saved;
    low.rlim_cur = static_cast<rlim_t>(lowest_free);
    REQUIRE(::setrlimit(RLIMIT_NOFILE, &low) == 0);
    std::optional<file_watch> watch;
    watch.emplace(io, std::vector<fs::path>{users}, [&](const auto&) { ++calls; });
    REQUIRE(::setrlimit(RLIMIT_NOFILE, &saved) == 0);
    CHECK(watch->error() == std::error_code(EMFILE, std::system_category()));
    append_file(users, "bob:1\n");
    io.run_for(1s);
    CHECK(calls == 0);
}
