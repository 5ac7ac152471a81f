#include "io/file_watch.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>

#include <asio/basic_waitable_timer.hpp>
#include <asio/posix/stream_descriptor.hpp>

namespace weir::io {

namespace {

namespace fs = std::filesystem;

// What can change where a name leads or what it holds. IN_MODIFY is left out:
// a write counts when the writer closes the file, not half-way.
constexpr std::uint32_t watch_mask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE |
                                     IN_DELETE | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF |
                                     IN_ONLYDIR;

constexpr int max_links = 40; // the kernel's MAXSYMLINKS for one lookup

/// A name in a directory that decides where a watched file leads.
struct dir_name {
    std::string dir;
    std::string name;
    bool operator==(const dir_name&) const = default;
};

/// Where a file's name leads: the names to watch (each symlink on the way, and
/// the file itself or the first name missing) and the file reached, if any.
struct route {
    std::vector<dir_name> names;
    std::string resolved; ///< empty when the walk stopped: missing, not a directory, a loop
    bool operator==(const route&) const = default;
};

/// Pushes the components of `p` onto `todo`, the first one last (popped first).
void push_components(std::vector<std::string>& todo, const fs::path& p) {
    std::vector<std::string> parts;
    for (const auto& part : p.relative_path())
        if (!part.empty()) parts.push_back(part.string());
    todo.insert(todo.end(), parts.rbegin(), parts.rend());
}

// Walks an absolute name component by component as the kernel does, noting
// every symlink met (a symlink's target may be relative to its directory,
// absolute, or another symlink in another directory).
route follow(const fs::path& file) {
    route r;
    std::vector<std::string> todo;
    push_components(todo, file);
    fs::path dir = "/"; // walked so far: real directories only, so ".." is lexical
    int links = 0;
    while (!todo.empty()) {
        const auto name = std::move(todo.back());
        todo.pop_back();
        if (name == ".") continue;
        if (name == "..") {
            dir = dir.parent_path();
            continue;
        }
        const auto next = dir / name;
        struct stat st {};
        const bool found = ::lstat(next.c_str(), &st) == 0;
        if (!found || todo.empty() || S_ISLNK(st.st_mode)) r.names.push_back({dir.string(), name});
        if (!found) return r;
        if (S_ISLNK(st.st_mode)) {
            std::error_code ec;
            const auto target = fs::read_symlink(next, ec);
            if (ec || ++links > max_links) return r;
            if (target.is_absolute()) dir = "/";
            push_components(todo, target);
        } else if (todo.empty()) {
            r.resolved = next.string();
        } else {
            dir = next;
        }
    }
    return r;
}

/// What a file looks like: a change to any field is a change of the file.
struct look {
    std::string resolved;
    bool exists = false;
    std::uint64_t dev = 0;
    std::uint64_t ino = 0;
    std::int64_t size = 0;
    std::int64_t mtime_s = 0;
    std::int64_t mtime_ns = 0;
    std::int64_t ctime_s = 0;
    std::int64_t ctime_ns = 0;
    bool operator==(const look&) const = default;
};

look look_at(const fs::path& file, std::string resolved) {
    look l;
    l.resolved = std::move(resolved);
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0) return l;
    l.exists = true;
    l.dev = st.st_dev;
    l.ino = st.st_ino;
    l.size = st.st_size;
    l.mtime_s = st.st_mtim.tv_sec;
    l.mtime_ns = st.st_mtim.tv_nsec;
    l.ctime_s = st.st_ctim.tv_sec;
    l.ctime_ns = st.st_ctim.tv_nsec;
    return l;
}

} // namespace

struct file_watch::state : std::enable_shared_from_this<state> {
    using descriptor = asio::posix::basic_stream_descriptor<asio::io_context::executor_type>;
    using timer = asio::basic_waitable_timer<clock, asio::wait_traits<clock>,
                                             asio::io_context::executor_type>;

    struct watched {
        fs::path given; ///< as the caller named it: what the handler is told
        fs::path file;  ///< absolute
        route way;
        look last;
    };

    state(asio::io_context& io, handler h, clock::duration d)
        : inotify(io.get_executor())
        , settle_timer(io.get_executor())
        , on_change(std::move(h))
        , settle(d) {}

    void wait();
    void drain();
    bool relevant(const inotify_event& e, std::string_view name) const;
    void touched();
    void wait_settled();
    void settled();
    bool rewatch();

    descriptor inotify;
    timer settle_timer;
    handler on_change;
    clock::duration settle;
    std::vector<watched> files;
    std::map<int, std::set<std::string, std::less<>>> names_by_wd; ///< the names that matter
    std::error_code error;
    bool stopped = false;
    bool settling = false;     ///< a wait of settle_timer is pending
    clock::time_point first{}; ///< the first event since the last settle
    clock::time_point due{};   ///< when the files are looked at
};

void file_watch::state::wait() {
    inotify.async_wait(descriptor::wait_read, [self = shared_from_this()](std::error_code ec) {
        if (self->stopped || ec) return;
        self->drain();
        self->wait();
    });
}

// Reads every queued event; a relevant one starts (or restarts) the settle delay.
void file_watch::state::drain() {
    alignas(inotify_event) std::array<char, 16 * 1024> buf{};
    bool any = false;
    for (;;) {
        const auto n = ::read(inotify.native_handle(), buf.data(), buf.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break; // EAGAIN: all read
        const auto size = static_cast<std::size_t>(n);
        for (std::size_t at = 0; at + sizeof(inotify_event) <= size;) {
            inotify_event e{};
            std::memcpy(&e, buf.data() + at, sizeof e);
            const char* name = buf.data() + at + sizeof e;
            any |= relevant(e, std::string_view(name, ::strnlen(name, e.len)));
            if ((e.mask & IN_IGNORED) != 0) names_by_wd.erase(e.wd); // its directory is gone
            at += sizeof e + e.len;
        }
    }
    if (any) touched();
}

bool file_watch::state::relevant(const inotify_event& e, std::string_view name) const {
    if ((e.mask & IN_Q_OVERFLOW) != 0) return true; // events were lost: look at everything
    const auto it = names_by_wd.find(e.wd);
    if (it == names_by_wd.end()) return false;
    return name.empty() || it->second.contains(name); // nameless: the directory itself
}

// The settle delay ends `settle` after the last event, or 10 delays after the
// first, so that a file written without pause is still looked at.
void file_watch::state::touched() {
    const auto now = clock::now();
    if (!settling) first = now;
    due = std::min(now + settle, first + 10 * settle);
    if (settling) return; // the pending wait sees the new `due`
    settling = true;
    wait_settled();
}

void file_watch::state::wait_settled() {
    settle_timer.expires_at(due);
    settle_timer.async_wait([self = shared_from_this()](std::error_code ec) {
        if (self->stopped || ec) return;
        if (clock::now() < self->due) return self->wait_settled();
        self->settling = false;
        self->settled();
    });
}

// Moves the watches to where the names lead now, then reports the files that
// look different. The handler comes last: it may stop the watch.
void file_watch::state::settled() {
    if (!rewatch()) touched(); // a link moved while the watches were placed: look again
    std::vector<fs::path> changed;
    for (auto& f : files) {
        auto now = look_at(f.file, f.way.resolved);
        if (now == f.last) continue;
        f.last = std::move(now);
        changed.push_back(f.given);
    }
    if (!changed.empty()) on_change(changed);
}

// Watches the directory of every name each file's route passes, and drops
// the watches no route needs any more. False when a route changed meanwhile.
bool file_watch::state::rewatch() {
    decltype(names_by_wd) now;
    for (auto& f : files) {
        f.way = follow(f.file);
        for (const auto& [dir, name] : f.way.names) {
            const int wd = ::inotify_add_watch(inotify.native_handle(), dir.c_str(), watch_mask);
            if (wd >= 0) now[wd].insert(name); // else: gone already, or not a directory
        }
    }
    for (const auto& [wd, names] : names_by_wd)
        if (!now.contains(wd)) ::inotify_rm_watch(inotify.native_handle(), wd);
    names_by_wd = std::move(now);
    return std::all_of(files.begin(), files.end(),
                       [](const watched& f) { return follow(f.file) == f.way; });
}

file_watch::file_watch(asio::io_context& io, std::vector<std::filesystem::path> files,
                       handler on_change, clock::duration settle)
    : state_(std::make_shared<state>(io, std::move(on_change), settle)) {
    auto& s = *state_;
    const int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd < 0) {
        s.error = std::error_code(errno, std::system_category());
        s.stopped = true;
        return;
    }
    s.inotify.assign(fd);
    for (auto& f : files) {
        std::error_code ec;
        auto absolute = fs::absolute(f, ec);
        s.files.push_back({f, ec ? f : std::move(absolute), {}, {}});
    }
    const bool steady = s.rewatch();
    for (auto& f : s.files)
        f.last = look_at(f.file, f.way.resolved);
    if (!steady) s.touched();
    s.wait();
}

file_watch::~file_watch() {
    stop();
}

std::error_code file_watch::error() const noexcept {
    return state_->error;
}

void file_watch::stop() noexcept {
    auto& s = *state_;
    if (s.stopped && !s.inotify.is_open()) return;
    s.stopped = true;
    try {
        s.settle_timer.cancel();
    } catch (const std::system_error&) { // not with epoll; the pending wait then finds `stopped`
    }
    std::error_code ignored;
    s.inotify.close(ignored);
    s.names_by_wd.clear();
}

} // namespace weir::io
