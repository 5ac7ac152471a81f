#include "socks/server/access.hpp"
#include "socks/server/connector.hpp"
#include "socks/server/listen_url.hpp"
#include "socks/server/log.hpp"
#include "socks/server/offload_pool.hpp"
#include "socks/server/resolver.hpp"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <catch2/catch.hpp>

using namespace weir;
using namespace weir::server;
using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;

namespace {

// Runs a coroutine to completion on a fresh io_context and returns its result.
template <typename T>
T run(asio::io_context& io, task<T> aw) {
    std::optional<T> out;
    asio::co_spawn(io, std::move(aw), [&](std::exception_ptr e, T v) {
        if (e) std::rethrow_exception(e);
        out = std::move(v);
    });
    io.run();
    REQUIRE(out.has_value());
    return std::move(*out);
}

} // namespace

TEST_CASE("listen URLs parse with the documented defaults", "[listen_url]") {
    CHECK(parse_listen_url("socks5://127.0.0.1:1088") ==
          listen_spec{scheme::socks5, "127.0.0.1", 1088, auth_mode::password});
    CHECK(parse_listen_url("socks://127.0.0.1:1080") ==
          listen_spec{scheme::socks, "127.0.0.1", 1080, auth_mode::none});
    CHECK(parse_listen_url("socks4://0.0.0.0:0") ==
          listen_spec{scheme::socks4, "0.0.0.0", 0, auth_mode::none});
    CHECK(parse_listen_url("socks5://[::1]:9?auth=none") ==
          listen_spec{scheme::socks5, "::1", 9, auth_mode::none});
    CHECK(parse_listen_url("socks5://[::]:65535?auth=password") ==
          listen_spec{scheme::socks5, "::", 65535, auth_mode::password});
    CHECK(parse_listen_url("socks://localhost:1080").host == "127.0.0.1");
}

TEST_CASE("listen URLs that are wrong say why", "[listen_url]") {
    const std::pair<std::string, std::string> cases[] = {
        {"127.0.0.1:1080", "expected SCHEME://HOST:PORT"},
        {"http://127.0.0.1:1080", "unknown scheme 'http'"},
        {"socks5://127.0.0.1", "expected HOST:PORT"},
        {"socks5://127.0.0.1:65536", "bad port '65536'"},
        {"socks5://127.0.0.1:", "bad port ''"},
        {"socks5://127.0.0.1:8x", "bad port '8x'"},
        {"socks5://example.com:1080", "bad host 'example.com'"},
        {"socks5://::1:1080", "bad host"},
        {"socks5://[::1:1080", "expected [IPv6]:PORT"},
        {"socks5://[127.0.0.1]:1080", "bad IPv6 address"},
        {"socks5://127.0.0.1:1080?auth=maybe", "unknown query 'auth=maybe'"},
        {"socks4://127.0.0.1:1080?auth=password", "auth=password needs scheme socks5"},
        {"socks://127.0.0.1:1080?auth=password", "auth=password needs scheme socks5"},
    };
    for (const auto& [url, message] : cases) {
        CAPTURE(url);
        try {
            parse_listen_url(url);
            FAIL("accepted");
        } catch (const listen_url_error& e) {
            CHECK_THAT(e.what(), Catch::Contains(message) && Catch::Contains(url));
        }
    }
}

TEST_CASE("listen URLs print back with brackets for IPv6", "[listen_url]") {
    CHECK(to_url(parse_listen_url("socks5://[::1]:1088")) == "socks5://[::1]:1088");
    CHECK(to_url(parse_listen_url("socks://127.0.0.1:1080")) == "socks://127.0.0.1:1080");
    const auto defaults = default_listeners();
    REQUIRE(defaults.size() == 3);
    CHECK(to_url(defaults[0]) == "socks://127.0.0.1:1080");
    CHECK(defaults[0].auth == auth_mode::none);
    CHECK(to_url(defaults[1]) == "socks5://0.0.0.0:1088");
    CHECK(to_url(defaults[2]) == "socks5://[::]:1088");
    CHECK(defaults[2].auth == auth_mode::password);
}

TEST_CASE("a listener without a password on a public address needs client rules", "[access]") {
    const std::vector<auth::rule> none;
    CHECK_NOTHROW(check_not_open_proxy(parse_listen_url("socks://127.0.0.2:1080"), none));
    CHECK_NOTHROW(check_not_open_proxy(parse_listen_url("socks5://[::1]:1080?auth=none"), none));
    CHECK_NOTHROW(check_not_open_proxy(parse_listen_url("socks5://0.0.0.0:1080"), none));
    CHECK_THROWS_WITH(check_not_open_proxy(parse_listen_url("socks://0.0.0.0:1080"), none),
                      Catch::Contains("open proxy") &&
                          Catch::Contains("--rule 'allow from 192.168.1.0/24'") &&
                          Catch::Contains("socks5://0.0.0.0:1080"));
    CHECK_THROWS_WITH(check_not_open_proxy(parse_listen_url("socks5://[::]:1080?auth=none"), none),
                      Catch::Contains("socks5://[::]:1080"));
    const auto open = parse_listen_url("socks://0.0.0.0:1080");
    // Rules that do not restrict clients do not count.
    CHECK_THROWS(check_not_open_proxy(open, {auth::parse_rule("allow from any")}));
    CHECK_THROWS(check_not_open_proxy(open, {auth::parse_rule("deny from 10.0.0.0/8")}));
    CHECK_THROWS(check_not_open_proxy(
        open, {auth::parse_rule("allow from 10.0.0.0/8 listener socks://0.0.0.0:9")}));
    CHECK_NOTHROW(check_not_open_proxy(open, {auth::parse_rule("allow from 10.0.0.0/8")}));
    CHECK_NOTHROW(check_not_open_proxy(
        open, {auth::parse_rule("allow from 10.0.0.0/8 listener socks://0.0.0.0:1080")}));
}

TEST_CASE("listener policies: presets off the loopback, default deny when open", "[access]") {
    access_config cfg;
    const auto rules = std::vector{auth::parse_rule("allow from 10.0.0.0/8")};
    auto facts = [](const char* client, const char* dest) {
        auth::request_facts f;
        f.client = *auth::ip_address::parse(client);
        f.destination_address = auth::ip_address::parse(dest);
        f.port = 80;
        return f;
    };
    const auto local = parse_listen_url("socks://127.0.0.1:1080");
    const auto local_policy = policy_for(local, to_url(local), {}, cfg);
    CHECK(local_policy.check(facts("127.0.0.1", "127.0.0.1")).result == auth::verdict::allow);

    const auto open = parse_listen_url("socks://0.0.0.0:1080");
    const auto open_policy = policy_for(open, to_url(open), rules, cfg);
    CHECK(open_policy.check(facts("10.1.1.1", "192.0.2.1")).result == auth::verdict::allow);
    CHECK(open_policy.check(facts("192.0.2.9", "192.0.2.1")).result == auth::verdict::deny);

    const auto pw = parse_listen_url("socks5://0.0.0.0:1088");
    const auto pw_policy = policy_for(pw, to_url(pw), {}, cfg);
    CHECK(pw_policy.check(facts("192.0.2.9", "192.0.2.1")).result == auth::verdict::allow);
    CHECK(pw_policy.check(facts("192.0.2.9", "127.0.0.1")).result == auth::verdict::deny);
    CHECK(pw_policy.check(facts("192.0.2.9", "169.254.169.254")).result == auth::verdict::deny);
    CHECK(pw_policy.check(facts("192.0.2.9", "10.0.0.1")).result == auth::verdict::allow);

    cfg.deny_private_everywhere = true;
    cfg.deny_private_ranges = true;
    const auto strict = policy_for(local, to_url(local), {}, cfg);
    CHECK(strict.check(facts("127.0.0.1", "127.0.0.1")).result == auth::verdict::deny);
    CHECK(strict.check(facts("127.0.0.1", "10.0.0.1")).result == auth::verdict::deny);
}

TEST_CASE("log text from the network stays on one line", "[log]") {
    CHECK(log::printable("example.com") == "example.com");
    CHECK(log::printable("a b\nc\\") == "a\\x20b\\x0ac\\x5c");
    CHECK(log::printable(std::string("\x00\xff", 2)) == "\\x00\\xff");
}

TEST_CASE("a tally logs its first event at once, then one line per interval with the count",
          "[log]") {
    using namespace std::chrono_literals;
    log::tally t(60s);
    const std::chrono::steady_clock::time_point start{1000s};
    const auto first = t.count(start);
    REQUIRE(first);
    CHECK((first->since_last == 1 && first->total == 1));
    CHECK_FALSE(t.count(start + 1s));
    CHECK_FALSE(t.count(start + 59s));
    const auto later = t.count(start + 60s); // the two above, and this one
    REQUIRE(later);
    CHECK((later->since_last == 3 && later->total == 4));
    CHECK_FALSE(t.count(start + 61s));
    const auto next = t.count(start + 125s);
    REQUIRE(next);
    CHECK((next->since_last == 2 && next->total == 6));
}

TEST_CASE("offload_pool runs jobs off the I/O thread and returns on it", "[offload]") {
    asio::io_context io;
    offload_pool pool("test", 2, 8);
    const auto io_thread = std::this_thread::get_id();
    auto result = run(io, [&]() -> task<std::pair<bool, bool>> {
        auto [ec, worker] = co_await pool.async_run<std::thread::id>(
            [] { return std::this_thread::get_id(); }, use_tuple);
        co_return std::pair{!ec && worker != io_thread, std::this_thread::get_id() == io_thread};
    }());
    CHECK(result.first);
    CHECK(result.second);
}

TEST_CASE("offload_pool: a timeout stops the wait without waiting for the job", "[offload]") {
    asio::io_context io;
    offload_pool pool("test", 1, 8);
    std::mutex m;
    std::condition_variable cv;
    bool release = false;
    auto outcome = run(io, [&]() -> task<int> {
        asio::steady_timer t(io, std::chrono::milliseconds(10));
        // The job blocks until the test releases it, after the wait has ended.
        auto r = co_await (pool.async_run<int>(
                               [&] {
                                   std::unique_lock lock(m);
                                   cv.wait(lock, [&] { return release; });
                                   return 7;
                               },
                               use_tuple) ||
                           t.async_wait(use_tuple));
        co_return static_cast<int>(r.index());
    }());
    CHECK(outcome == 1);
    {
        std::lock_guard lock(m);
        release = true;
    }
    cv.notify_all();
    pool.stop();
}

TEST_CASE("offload_pool: a full queue answers resolver_busy at once", "[offload]") {
    asio::io_context io;
    offload_pool pool("test", 0, 0); // no workers, no queue: every job is refused
    auto ec = run(io, [&]() -> task<std::error_code> {
        auto [e, v] = co_await pool.async_run<int>([] { return 1; }, use_tuple);
        co_return e;
    }());
    CHECK(ec == proto::errc::resolver_busy);
}

TEST_CASE("resolver: numeric and localhost names resolve, with the port", "[resolver]") {
    auto r = resolve_blocking("127.0.0.1", 8080);
    REQUIRE_FALSE(r.error);
    REQUIRE(r.endpoints.size() == 1);
    CHECK(r.endpoints[0] == tcp::endpoint(asio::ip::make_address("127.0.0.1"), 8080));
    auto local = resolve_blocking("localhost", 443);
    REQUIRE_FALSE(local.error);
    REQUIRE_FALSE(local.endpoints.empty());
    for (const auto& ep : local.endpoints) {
        CHECK(ep.address().is_loopback());
        CHECK(ep.port() == 443);
    }
    CHECK(resolve_blocking("bad name with spaces", 80).error == proto::errc::host_not_found);
}

TEST_CASE("connector: refused, connected, or every address filtered out", "[connector]") {
    asio::io_context io;
    offload_pool pool("test", 1, 8);
    tcp::acceptor open(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    std::uint16_t closed_port = 0;
    {
        tcp::acceptor closed(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
        closed_port = closed.local_endpoint().port();
    }
    const address_filter any = [](const asio::ip::address&) { return true; };
    std::vector<asio::ip::address> asked;
    const address_filter none = [&](const asio::ip::address& a) {
        asked.push_back(a);
        return false;
    };
    using results = std::array<std::error_code, 3>;
    auto [refused, ok, filtered] = run(io, [&]() -> task<results> {
        weir::relay::tcp_socket s(io);
        deadline dl(io.get_executor());
        dl.expires_after(std::chrono::seconds(30));
        const auto port = open.local_endpoint().port();
        proto::address a{proto::ipv4_bytes{127, 0, 0, 1}, closed_port};
        auto e1 = co_await connect_target(s, a, pool, "client", dl, any);
        proto::address b{std::string("localhost"), port};
        auto e2 = co_await connect_target(s, b, pool, "client", dl, any);
        auto e3 = co_await connect_target(s, b, pool, "client", dl, none);
        co_return results{e1, e2, e3};
    }());
    CHECK(refused == std::errc::connection_refused);
    CHECK(proto::to_reply_code(refused) == proto::reply_code::connection_refused);
    CHECK_FALSE(ok);
    CHECK(filtered == proto::errc::not_allowed);
    CHECK(proto::to_reply_code(filtered) == proto::reply_code::not_allowed);
    REQUIRE_FALSE(asked.empty()); // every resolved address was put to the filter
    for (const auto& a : asked)
        CHECK(a.is_loopback());
}

TEST_CASE("connector: a deadline already passed stops before connecting", "[connector]") {
    asio::io_context io;
    offload_pool pool("test", 1, 8);
    tcp::acceptor open(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    const address_filter any = [](const asio::ip::address&) { return true; };
    const auto port = open.local_endpoint().port();
    auto [ec, is_open] = run(io, [&]() -> task<std::pair<std::error_code, bool>> {
        weir::relay::tcp_socket s(io);
        deadline dl(io.get_executor());
        dl.expires_after(std::chrono::milliseconds(1));
        asio::steady_timer later(io, std::chrono::milliseconds(50));
        co_await later.async_wait(use_task); // the deadline passes meanwhile
        CHECK(dl.expired());
        proto::address a{proto::ipv4_bytes{127, 0, 0, 1}, port};
        auto e = co_await connect_target(s, a, pool, "client", dl, any);
        co_return std::pair{e, s.is_open()};
    }());
    CHECK(ec == std::errc::operation_canceled);
    CHECK_FALSE(is_open);
}
