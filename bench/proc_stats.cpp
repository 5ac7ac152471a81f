#include "bench/proc_stats.hpp"

#include <charconv>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <sys/resource.h>
#include <unistd.h>
#include <vector>

namespace weir::bench {
namespace {

namespace fs = std::filesystem;

struct stat_fields {
    int ppid = 0;
    std::uint64_t ticks = 0; ///< utime + stime + cutime + cstime (reaped children)
};

/// Fields of /proc/PID/stat after the command name, which may hold spaces.
bool read_stat(const fs::path& dir, stat_fields& out) {
    std::ifstream in(dir / "stat");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto close = text.rfind(')');
    if (close == std::string::npos) return false;
    std::istringstream rest(text.substr(close + 2));
    std::vector<std::string> f(std::istream_iterator<std::string>{rest}, {});
    if (f.size() < 15) return false; // f[0] is field 3 (state)
    out.ppid = std::stoi(f[1]);
    out.ticks = std::stoull(f[11]) + std::stoull(f[12]) + std::stoull(f[13]) + std::stoull(f[14]);
    return true;
}

std::uint64_t read_rss(const fs::path& dir) {
    std::ifstream in(dir / "statm");
    std::uint64_t size = 0;
    std::uint64_t resident = 0;
    in >> size >> resident;
    return resident * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
}

std::uint64_t count_fds(const fs::path& dir) {
    std::error_code ec;
    std::uint64_t n = 0;
    for (fs::directory_iterator it(dir / "fd", ec), end; !ec && it != end; it.increment(ec))
        ++n;
    return n;
}

/// pid and every process below it.
std::vector<int> process_tree(int pid) {
    std::vector<std::pair<int, int>> parent; // (pid, ppid)
    std::error_code ec;
    for (fs::directory_iterator it("/proc", ec), end; !ec && it != end; it.increment(ec)) {
        const auto name = it->path().filename().string();
        int p = 0;
        if (std::from_chars(name.data(), name.data() + name.size(), p).ec != std::errc{}) continue;
        stat_fields s;
        if (read_stat(it->path(), s)) parent.emplace_back(p, s.ppid);
    }
    std::vector<int> tree{pid};
    for (std::size_t i = 0; i < tree.size(); ++i)
        for (const auto& [p, pp] : parent)
            if (pp == tree[i]) tree.push_back(p);
    return tree;
}

} // namespace

process_usage process_tree_usage(int pid) {
    process_usage u;
    if (pid <= 0) return u;
    const double hz = static_cast<double>(::sysconf(_SC_CLK_TCK));
    for (const int p : process_tree(pid)) {
        const fs::path dir = "/proc/" + std::to_string(p);
        stat_fields s;
        if (!read_stat(dir, s)) continue;
        u.cpu_seconds += static_cast<double>(s.ticks) / hz;
        u.rss_bytes += read_rss(dir);
        u.fds += count_fds(dir);
    }
    return u;
}

double self_cpu_seconds() {
    rusage ru{};
    ::getrusage(RUSAGE_SELF, &ru);
    const auto secs = [](const timeval& tv) {
        return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) * 1e-6;
    };
    return secs(ru.ru_utime) + secs(ru.ru_stime);
}

machine_usage machine_cpu() {
    // cpu  user nice system idle iowait irq softirq steal ...
    std::ifstream in("/proc/stat");
    std::string label;
    std::uint64_t user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0;
    machine_usage u;
    if (!(in >> label >> user >> nice >> system >> idle >> iowait >> irq >> softirq) ||
        label != "cpu")
        return u;
    const double hz = static_cast<double>(::sysconf(_SC_CLK_TCK));
    u.idle_seconds = static_cast<double>(idle + iowait) / hz;
    u.softirq_seconds = static_cast<double>(softirq) / hz;
    u.busy_seconds = static_cast<double>(user + nice + system + irq + softirq) / hz;
    return u;
}

} // namespace weir::bench
