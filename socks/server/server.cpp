#include "socks/server/server.hpp"

#include "io/task.hpp"
#include "io/timeout_service.hpp"
#include "log/log.hpp"
#include "socks/relay/relay.hpp"
#include "socks/relay/shortage_log.hpp"
#include "socks/server/metrics.hpp"
#include "socks/server/session.hpp"

#include <chrono>
#include <string>
#include <system_error>
#include <thread>

#include <asio/co_spawn.hpp>
#include <asio/error.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <fmt/core.h>

namespace weir::server {
namespace {

using asio::ip::tcp;

// Jobs queue per client and take turns; one client runs on a quarter of the
// threads at most (one of the two Argon2id threads), so lookups that never
// answer hold only its share. A client may queue as many jobs as it may hold
// handshakes (64 by default) and then some, so a browser's burst of
// connections with one uncached login is queued, not refused.
offload_pool::options pool_options(std::size_t threads, std::size_t queue, proto::errc busy) {
    auto o = offload_pool::default_options(threads, queue);
    o.per_key_queued = 128;
    o.busy = busy;
    return o;
}

// 127.0.0.0/8 and ::1, also as IPv4-mapped IPv6 (a dual-stack listener).
bool is_loopback(const asio::ip::address& a) {
    if (a.is_v6() && a.to_v6().is_v4_mapped())
        return asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6()).is_loopback();
    return a.is_loopback();
}

std::size_t thread_count(std::size_t configured) {
    if (configured > 0) return configured;
    return std::max(1u, std::thread::hardware_concurrency());
}

// Completion of a spawned coroutine: an exception there is a broken invariant, never a
// network error (those are values); log it rather than lose it.
void log_exception(std::exception_ptr e) {
    if (!e) return;
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& x) {
        log::error("coroutine ended by an exception: {}", x.what());
    } catch (...) {
        log::error("coroutine ended by an unknown exception");
    }
}

} // namespace

server::server(config cfg, std::shared_ptr<auth::verifier> verifier)
    : cfg_(std::move(cfg))
    , verifier_(std::move(verifier))
    , resolver_pool_("weir-resolve", pool_options(cfg_.resolver_threads, cfg_.resolver_queue,
                                                  proto::errc::resolver_busy))
    , auth_pool_("weir-auth",
                 pool_options(cfg_.auth_threads, cfg_.auth_queue, proto::errc::verifier_busy))
    , admission_({cfg_.max_sessions, cfg_.max_sessions_per_client, cfg_.max_handshakes,
                  cfg_.max_handshakes_per_client})
    , throttle_(cfg_.throttle)
    , ctx_{cfg_,
           resolver_pool_,
           auth_pool_,
           verifier_.get(),
           cfg_.throttle_logins ? &throttle_ : nullptr,
           access_,
           hosts_,
           closing_} {
    cfg_.relay.on_pipe_shortage = [](const relay::pipe_shortage& s) noexcept {
        metrics::pipe_shortage(s.why);
        relay::log_pipe_shortage(s);
    };
    const auto n = thread_count(cfg_.threads);
    for (std::size_t i = 0; i < n; ++i) {
        contexts_.push_back(std::make_unique<asio::io_context>(1));
        guards_.push_back(asio::make_work_guard(*contexts_.back()));
        // The guard keeps the context running: its timeout timer may stay
        // armed between sessions instead of being set again for each.
        io::timeout_service::of(contexts_.back()->get_executor()).linger(true);
    }
}

server::~server() {
    stop();
    drain_timer_.reset(); // before its context goes
    hosts_.stop();
    // Workers post results to the contexts: join them before the contexts go.
    resolver_pool_.stop();
    auth_pool_.stop();
    // Let every aborted accept finish while all the contexts still exist.
    for (auto& l : listeners_) {
        for (auto& a : l->acceptors) {
            std::error_code ignored;
            a.close(ignored);
        }
    }
    for (auto& c : contexts_) {
        c->restart();
        c->poll();
    }
    listeners_.clear();
    contexts_.clear();
}

void server::bind() {
    for (std::size_t i = 0; i < cfg_.listeners.size(); ++i) {
        const auto& spec = cfg_.listeners[i];
        const tcp::endpoint ep(asio::ip::make_address(spec.host), spec.port);
        std::error_code ec;
        auto group = open_group(contexts_, ep, i % contexts_.size(), cfg_.listen_backlog, ec);
        if (ec && spec.optional && host_lacks_address(ec)) {
            log::warn("skipping the {} listener {}: {}", spec.localhost ? "localhost" : "default",
                      to_url(spec), ec.message());
            continue;
        }
        if (ec)
            throw startup_error(fmt::format("cannot listen on {}: {}", to_url(spec), ec.message()));
        auto bound = spec;
        bound.port = group.front().local_endpoint().port();
        const auto index = listeners_.size(); // the access table's index
        listeners_.push_back(std::make_unique<listener>(
            listener{{bound, index, to_url(bound), handshake_options(bound)}, std::move(group)}));
    }
    for (auto& l : listeners_)
        for (auto& a : l->acceptors)
            asio::co_spawn(a.get_executor(), accept_loop(*l, a), log_exception);
    hosts_.watch(main_context());
    metrics::configure(urls());
}

io::task<void> server::accept_loop(listener& l, listen_socket& a) {
    asio::steady_timer backoff(a.get_executor());
    for (;;) {
        // accept() reports the peer's address itself: no getpeername() per connection.
        tcp::endpoint remote;
        auto [ec, socket] = co_await a.async_accept(remote, io::use_tuple);
        if (ec == asio::error::operation_aborted || !a.is_open()) co_return;
        if (ec) {
            // Out of descriptors or memory: say so, and give sessions a moment to finish.
            log::warn("accept on {} failed: {}", l.info.url, ec.message());
            backoff.expires_after(std::chrono::milliseconds(100));
            co_await backoff.async_wait(io::use_tuple);
            continue;
        }
        auto conn = admit(std::move(socket), remote, l);
        if (!conn) continue;
        asio::co_spawn(a.get_executor(), run_session(std::move(*conn), l.info, ctx_),
                       log_exception);
    }
}

// Applies the block list and the limits; a refused connection is closed at once.
std::optional<accepted> server::admit(io::tcp_socket socket, const tcp::endpoint& remote,
                                      const listener& l) {
    auto key = client_key(remote.address());
    if (ctx_.throttle != nullptr && ctx_.throttle->blocked(key)) {
        metrics::blocked_at_door();
        note_refusal(l, "client blocked after repeated failed logins");
        return std::nullopt;
    }
    admission::ticket ticket;
    std::string shed_from; // the client whose oldest handshake made room, if any
    // Every local process is the same loopback client: only a limit the
    // operator set holds them (the global cap and the throttle always do).
    const bool uncapped = !cfg_.cap_loopback_clients && is_loopback(remote.address());
    const auto verdict =
        admission_.admit(key, socket.native_handle(), ticket, &shed_from, uncapped);
    metrics::refused_at_door(verdict);
    switch (verdict) {
    case refusal::none:
        if (!shed_from.empty()) note_shed(shed_from);
        metrics::accepted(l.info.index);
        return accepted{std::move(socket), remote, std::move(ticket)};
    case refusal::sessions:
        note_refusal(l, "--max-sessions reached");
        break;
    case refusal::client_sessions:
        note_refusal(l, "--max-sessions-per-client reached");
        break;
    case refusal::handshakes:
        note_refusal(l, "--max-handshakes reached");
        break;
    case refusal::client_handshakes:
        note_refusal(l, "--max-handshakes-per-client reached");
        break;
    }
    return std::nullopt;
}

// Counts a refused connection; logs at most one line per 10 seconds.
void server::note_refusal(const listener& l, std::string_view why) {
    if (const auto line = refusals_.count())
        log::warn("refused {} connection(s) on {} (latest: {}); {} refused since start",
                  line->since_last, l.info.url, why, line->total);
}

// Counts a handshake shed to make room for another client's; logs at most one
// line per 10 seconds. `victim` is a client key (an address), nothing secret.
void server::note_shed(std::string_view victim) {
    metrics::shed();
    if (const auto line = sheds_.count())
        log::warn("shed {} handshake(s) of the clients holding the most (latest: {}); {} shed "
                  "since start",
                  line->since_last, victim, line->total);
}

void server::run() {
    // Logged only now, when everything is ready (privileges dropped, signals
    // handled): scripts and tests take these lines as "ready".
    for (const auto& l : listeners_) {
        const std::string_view pp = l->info.spec.proxy_protocol ? ", proxy_protocol=true" : "";
        log::event(log::level::info, "listening",
                   {{"url", l->info.url},
                    {"auth", to_string(l->info.spec.auth)},
                    {"proxy_protocol", l->info.spec.proxy_protocol}},
                   fmt::format("listening on {} (auth={}{})", l->info.url,
                               to_string(l->info.spec.auth), pp));
    }
    std::vector<std::thread> threads;
    for (std::size_t i = 1; i < contexts_.size(); ++i)
        threads.emplace_back([this, i] { contexts_[i]->run(); });
    contexts_.front()->run();
    for (auto& t : threads)
        t.join();
}

void server::stop() {
    if (stopped_.exchange(true)) return;
    for (auto& g : guards_)
        g.reset();
    for (auto& c : contexts_)
        c->stop();
}

void server::drain() {
    if (draining_.exchange(true) || stopped_) return;
    drain_until_ = std::chrono::steady_clock::now() + cfg_.drain_timeout;
    drain_timer_.emplace(main_context());
    // Closed on their own threads (a load balancer's next health check
    // fails); the last to close says so and starts watching the sessions.
    auto open = std::make_shared<std::atomic<std::size_t>>(1);
    auto closed = [this, open] {
        if (open->fetch_sub(1) != 1) return;
        using std::chrono::duration_cast;
        using std::chrono::milliseconds;
        const auto ms = duration_cast<milliseconds>(cfg_.drain_timeout).count();
        const auto in_flight = admission_.sessions();
        log::event(log::level::info, "drain",
                   {{"phase", std::string_view("started")},
                    {"sessions", std::uint64_t{in_flight}},
                    {"timeout", static_cast<double>(ms) / 1000.0}},
                   fmt::format("drain: stopped accepting; {} session(s) in flight, waiting up to "
                               "{}.{:03}s",
                               in_flight, ms / 1000, ms % 1000));
        asio::post(main_context(), [this] { watch_drain(); });
    };
    for (auto& l : listeners_)
        for (auto& a : l->acceptors) {
            open->fetch_add(1);
            asio::post(a.get_executor(), [&a, closed] {
                std::error_code ignored;
                a.close(ignored);
                closed();
            });
        }
    closed();
}

// Looks every 50 ms whether the sessions are gone (the admission count is
// the one place that knows them all), and whether the time is up.
void server::watch_drain() {
    const auto now = std::chrono::steady_clock::now();
    if (admission_.sessions() == 0) {
        const std::string_view how = closing_ ? "closed the rest" : "every session ended";
        log::event(log::level::info, "drain", {{"phase", std::string_view("done")}},
                   fmt::format("drain: {}", how));
        return stop();
    }
    if (now >= drain_until_) {
        if (closing_) {
            log::warn("drain: {} session(s) did not close; stopping", admission_.sessions());
            return stop();
        }
        close_the_rest();
        drain_until_ = now + std::chrono::seconds(5);
    }
    drain_timer_->expires_after(std::chrono::milliseconds(50));
    drain_timer_->async_wait([this](std::error_code ec) {
        if (!ec && !stopped_) watch_drain();
    });
}

// The drain's time is up: every thread ends its relays, UDP associations and
// sessions still negotiating (their deadlines expire now).
void server::close_the_rest() {
    closing_ = true;
    const auto open = admission_.sessions();
    log::event(log::level::info, "drain",
               {{"phase", std::string_view("closing")}, {"sessions", std::uint64_t{open}}},
               fmt::format("drain: closing {} session(s) still open", open));
    for (auto& c : contexts_)
        asio::post(*c, [&io = *c] {
            relay::stop_relays(io);
            end_udp_associations();
            io::timeout_service::of(io.get_executor()).expire_all();
        });
}

metrics::gauges server::gauges() const {
    metrics::gauges g;
    g.sessions = admission_.sessions();
    g.handshakes = admission_.handshakes();
    g.pipe_bytes = relay::local_pool_stats().pipe_bytes; // process-wide
    g.draining = draining();
    return g;
}

void server::set_access(const std::vector<auth::rule>& rules, const access_config& cfg) {
    check_listeners(rules, urls());
    access_table::policies by_listener;
    for (const auto& l : listeners_)
        by_listener.push_back(policy_for(l->info.spec, l->info.url, rules, cfg));
    access_.set(std::move(by_listener));
}

std::vector<std::string> server::urls() const {
    std::vector<std::string> out;
    for (const auto& l : listeners_)
        out.push_back(l->info.url);
    return out;
}

} // namespace weir::server
