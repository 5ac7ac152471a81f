// weir_loadgen: a load generator for SOCKS proxies, with its own sink/echo
// server on 127.0.0.1 (one thread) and one epoll thread of clients.
#include "bench/net.hpp"
#include "bench/scenario.hpp"
#include "bench/sink_server.hpp"
#include "bench/socks_client.hpp"
#include "bench/udp_echo.hpp"

#include <cstdio>
#include <exception>
#include <map>
#include <string>

#include <CLI/CLI.hpp>

namespace {

using namespace weir::bench;

void add_options(CLI::App& app, run_options& o, std::string& proxy_url) {
    app.add_option("--proxy", proxy_url,
                   "direct, or socks4|socks4a|socks5|socks5h://[USER:PASS@]127.x.y.z:PORT")
        ->capture_default_str();
    app.add_option("--proxy-pid", o.proxy_pid, "Proxy process whose CPU, RSS and fds to report");
    app.add_option("--label", o.label, "Name printed in the result line")->capture_default_str();
    app.add_option("--duration", o.duration, "Seconds measured")->capture_default_str();
    app.add_option("--warmup", o.warmup, "Seconds before measuring")->capture_default_str();
    app.add_option("--timeout", o.timeout, "Seconds per connection step and for draining")
        ->capture_default_str();
    app.add_flag("--steps", o.steps, "Send the handshake one step at a time (default pipelined)");
    app.add_option("--target-name", o.target_name, "Target name for socks4a/socks5h")
        ->capture_default_str();
    app.add_option("--conns", o.conns, "throughput: connections")->capture_default_str();
    app.add_option("--dir", o.dir, "throughput: up, down or both")
        ->check(CLI::IsMember({"up", "down", "both"}))
        ->capture_default_str();
    app.add_flag("--truncate", o.truncate,
                 "throughput: the client and the server read with recv(MSG_TRUNC), which "
                 "discards the bytes instead of copying them");
    app.add_option("--concurrency", o.concurrency, "cycles: clients at once; idle: dials at once")
        ->capture_default_str();
    app.add_option("--count", o.count, "cycles/latency: stop after this many (0: by --duration)");
    app.add_option("--sources", o.sources, "cycles: bind clients to 127.0.1.1..N (0: do not bind)")
        ->check(CLI::Range(0, 250));
    app.add_option("--sessions", o.sessions, "idle: sessions to open")->capture_default_str();
    app.add_option("--associations", o.associations, "udp-*: UDP associations to open")
        ->check(CLI::Range(1, 1 << 20))
        ->capture_default_str();
    app.add_option("--in-flight", o.in_flight, "udp-rr: datagrams in flight per association")
        ->check(CLI::Range(1, 4096))
        ->capture_default_str();
    app.add_option("--size", o.size, "udp-rr, udp-flood: payload bytes per datagram")
        ->check(CLI::Range(std::size_t{8}, udp_echo_server::max_size))
        ->capture_default_str();
    app.add_option("--rate", o.rate,
                   "udp-flood: datagrams/s offered, over all associations (0: as fast as it can)")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
}

} // namespace

int main(int argc, char** argv) {
    CLI::App app{"weir_loadgen: throughput, cycles, latency and idle sessions through a SOCKS "
                 "proxy, and request/response, flood and held associations over its UDP "
                 "ASSOCIATE, against built-in TCP and UDP sink/echo servers on 127.0.0.1"};
    run_options o;
    std::string proxy_url = "direct";
    std::string scenario;
    app.add_option("scenario", scenario,
                   "throughput, cycles, latency, idle, udp-rr (request/response), udp-flood "
                   "(one way) or udp-held (associations held)")
        ->required()
        ->check(CLI::IsMember(
            {"throughput", "cycles", "latency", "idle", "udp-rr", "udp-flood", "udp-held"}));
    add_options(app, o, proxy_url);
    CLI11_PARSE(app, argc, argv);
    try {
        o.proxy = parse_proxy(proxy_url);
        raise_fd_limit();
        sink_server sink;
        const std::map<std::string, int (*)(const run_options&, sink_server&)> runs{
            {"throughput", run_throughput}, {"cycles", run_cycles},
            {"latency", run_latency},       {"idle", run_idle},
            {"udp-rr", run_udp_rr},         {"udp-flood", run_udp_flood},
            {"udp-held", run_udp_held}};
        return runs.at(scenario)(o, sink);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "loadgen: %s\n", e.what());
        return 3;
    }
}
