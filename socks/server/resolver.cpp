#include "socks/server/resolver.hpp"

#include "io/task.hpp"
#include "socks/server/metrics.hpp"

#include <algorithm>
#include <cstring>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <asio/bind_cancellation_slot.hpp>

namespace weir::server {
namespace {

// The rules check the name the client sent, so that is the name looked up:
// glibc's DNS would otherwise append resolv.conf's search domains (`search
// corp` makes "db" into "db.corp", walking around `deny to .corp`). The
// resolver state is per thread; glibc stops re-reading resolv.conf for a
// thread whose options were changed, so this thread reads it again when the
// file changes.
void look_up_names_as_given() {
    thread_local struct stat seen {};
    struct stat now {};
    const bool readable = ::stat(_PATH_RESCONF, &now) == 0;
    const bool changed =
        readable && (now.st_ino != seen.st_ino || now.st_dev != seen.st_dev ||
                     now.st_mtim.tv_sec != seen.st_mtim.tv_sec ||
                     now.st_mtim.tv_nsec != seen.st_mtim.tv_nsec || now.st_size != seen.st_size);
    if (changed || (_res.options & RES_INIT) == 0) {
        ::res_init();
        if (readable) seen = now;
    }
    _res.options &= ~static_cast<decltype(_res.options)>(RES_DNSRCH | RES_DEFNAMES);
}

} // namespace

resolve_result resolve_blocking(const std::string& host, std::uint16_t port) {
    look_up_names_as_given();
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    addrinfo* list = nullptr;
    const auto start = std::chrono::steady_clock::now();
    const int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &list);
    metrics::resolved(std::chrono::steady_clock::now() - start, rc == 0 && list != nullptr);
    resolve_result result;
    if (rc != 0 || list == nullptr) {
        result.error = proto::errc::host_not_found;
        return result;
    }
    for (const addrinfo* ai = list; ai != nullptr; ai = ai->ai_next) {
        asio::ip::tcp::endpoint ep;
        if (ai->ai_family == AF_INET || ai->ai_family == AF_INET6) {
            std::memcpy(ep.data(), ai->ai_addr, ai->ai_addrlen);
            ep.port(port);
            if (std::find(result.endpoints.begin(), result.endpoints.end(), ep) ==
                result.endpoints.end())
                result.endpoints.push_back(ep);
        }
    }
    ::freeaddrinfo(list);
    if (result.endpoints.empty()) result.error = proto::errc::host_not_found;
    return result;
}

io::task<resolve_result> resolve(offload_pool& pool, std::string key, std::string host,
                                 std::uint16_t port, asio::cancellation_slot cancel) {
    // A named job, not a temporary in the co_await expression: GCC 12 mis-copies
    // lambda temporaries with init-captures there.
    auto job = [h = std::move(host), port] { return resolve_blocking(h, port); };
    auto [ec, result] = co_await pool.async_run<resolve_result>(
        key, job_class::normal, std::move(job),
        asio::bind_cancellation_slot(cancel, io::use_tuple));
    if (ec) result.error = ec;
    co_return result;
}

} // namespace weir::server
