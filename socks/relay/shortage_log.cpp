#include "socks/relay/shortage_log.hpp"

#include "log/log.hpp"

#include <cerrno>
#include <chrono>
#include <string>
#include <system_error>

#include <fmt/core.h>

namespace weir::relay {
namespace {

// The reason a burst was copied, for the log.
std::string shortage_reason(const pipe_shortage& s) {
    using cause = pipe_shortage::cause;
    // The errno's text, formatted only for the causes that have one.
    const auto error = [&] { return std::generic_category().message(s.error); };
    switch (s.why) {
    case cause::budget:
        return "all of --pipe-budget is in use";
    case cause::open_failed:
        return "no pipe could be opened: " + error();
    case cause::size_refused:
        if (s.error == EPERM)
            return fmt::format("the kernel refused a {}-byte pipe: {}; an unprivileged user may "
                               "not exceed fs.pipe-max-size per pipe, nor "
                               "fs.pipe-user-pages-soft pages in all: lower --pipe-size or "
                               "--pipe-budget",
                               s.pipe_size, error());
        return fmt::format("the kernel refused a {}-byte pipe: {}", s.pipe_size, error());
    }
    return "unknown";
}

log::tally pipe_shortages{std::chrono::minutes(1)};

} // namespace

void log_pipe_shortage(const pipe_shortage& shortage) noexcept {
    const auto line = pipe_shortages.count();
    if (!line) return;
    try {
        log::warn("splice: no pipe to be had {} time(s), so the bytes were copied (latest: {}); "
                  "{} since start",
                  line->since_last, shortage_reason(shortage), line->total);
    } catch (...) { // out of memory for the line: skipped, the total still counts them
    }
}

} // namespace weir::relay
