#include "socks/server/login.hpp"

#include <asio/steady_timer.hpp>

namespace weir::server {
namespace {

io::task<std::optional<bool>> verify(server_context& ctx, io::deadline& dl,
                                     const std::string& client_key,
                                     const proto::credentials_event& cred) {
    if (ctx.verifier == nullptr) co_return false;
    const bool suspect = ctx.throttle != nullptr && ctx.throttle->has_failures(client_key);
    const auto cls = suspect ? job_class::normal : job_class::first;
    // A named job: GCC 12 mis-copies lambda temporaries inside co_await expressions.
    auto job = [v = ctx.verifier, user = cred.username, password = cred.password] {
        return v->verify(user, password);
    };
    auto [ec, ok] = co_await ctx.auth_pool.async_run<bool>(client_key, cls, std::move(job),
                                                           dl.bind(io::use_tuple));
    if (ec) co_return std::nullopt;
    co_return ok;
}

} // namespace

std::optional<login_verdict> login_at_once(server_context& ctx, const std::string& client_key,
                                           const proto::credentials_event& cred) {
    if (ctx.throttle != nullptr && ctx.throttle->blocked(client_key)) return login_verdict::blocked;
    if (ctx.verifier == nullptr || !ctx.verifier->cached(cred.username, cred.password))
        return std::nullopt;
    if (ctx.throttle != nullptr) ctx.throttle->succeeded(client_key, cred.username);
    return login_verdict::accepted;
}

io::task<login_verdict> check_login(server_context& ctx, io::deadline& dl,
                                    const std::string& client_key,
                                    const proto::credentials_event& cred) {
    const auto ok = co_await verify(ctx, dl, client_key, cred);
    if (!ok || ctx.throttle == nullptr || dl.expired())
        co_return ok.value_or(false) ? login_verdict::accepted : login_verdict::rejected;
    if (*ok) {
        ctx.throttle->succeeded(client_key, cred.username);
        co_return login_verdict::accepted;
    }
    const auto penalty = ctx.throttle->failed(client_key, cred.username);
    if (penalty.blocked) ctx.auth_pool.drop(client_key);
    if (penalty.delay.count() > 0) {
        asio::steady_timer wait(dl.executor(), penalty.delay);
        co_await wait.async_wait(dl.bind(io::use_tuple));
    }
    co_return login_verdict::rejected;
}

} // namespace weir::server
