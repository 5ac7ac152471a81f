#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <system_error>
#include <vector>

#include <asio/io_context.hpp>

namespace weir::io {

/// Watches files by name and says when one changed, however it was replaced:
/// written in place, renamed over, a symlink along its path swapped (the
/// Kubernetes Secret and ConfigMap update), deleted and created again.
///
/// One inotify descriptor watches the directory holding each file and each
/// symlink on the way to it (a name may be a symlink to a symlink elsewhere);
/// an event for one of those names starts a settle delay, each later one
/// restarts it, and when it ends each file is looked at again: its device,
/// inode, size, mtime and ctime (nanoseconds) and the path it resolves to.
/// Only a file whose look differs from the last one is reported, so other
/// files in the same directories cost an event and nothing more; after each
/// settle the symlinks are followed again and the watches moved to where they
/// lead. A write counts when the writer closes the file. Nothing is polled.
///
/// Use it from the context's thread (or before the context runs).
class file_watch {
public:
    /// Called on the context's thread with the files that changed, as given.
    using handler = std::function<void(const std::vector<std::filesystem::path>& changed)>;
    using clock = std::chrono::steady_clock;

    /// Starts watching `files` (relative names are taken from the current
    /// directory now). When inotify cannot be had, error() says why and
    /// nothing is ever reported.
    file_watch(asio::io_context& io, std::vector<std::filesystem::path> files, handler on_change,
               clock::duration settle = std::chrono::milliseconds(200));
    file_watch(const file_watch&) = delete;
    file_watch& operator=(const file_watch&) = delete;
    ~file_watch();

    /// Why nothing is watched (inotify_init1 failed), or no error.
    std::error_code error() const noexcept;

    /// Stops watching and closes the descriptor; the handler is not called again.
    void stop() noexcept;

private:
    struct state;
    std::shared_ptr<state> state_; ///< shared with the pending wait and timer handlers
};

} // namespace weir::io
