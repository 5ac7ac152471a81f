#include "socks/server/udp_association.hpp"

#include "io/poll_set.hpp"
#include "socks/proto/udp.hpp"
#include "socks/server/resolver.hpp"
#include "socks/server/udp_batch.hpp"
#include "text/host_name.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <memory>
#include <optional>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>

namespace weir::server {
namespace {

using clock = std::chrono::steady_clock;

/// A name the client sent to, as it resolved, for a while.
struct name_entry {
    std::string name;
    std::vector<asio::ip::address> addresses;
    clock::time_point expires;
};

constexpr std::size_t max_targets = 32; // endpoints replies are accepted from
constexpr std::size_t max_names = 8;
constexpr auto name_ttl = std::chrono::seconds(30);

class association;

// The associations running on this thread, for end_udp_associations().
thread_local association* running = nullptr;

class association : public std::enable_shared_from_this<association> {
public:
    association(udp_association_parts p, server_context& ctx,
                std::function<void(const udp_stats&)> done)
        : p_(std::move(p))
        , ctx_(ctx)
        , done_(std::move(done))
        , idle_(p_.control.get_executor())
        , polls_(io::poll_set::of(p_.control.get_executor())) {}

    ~association() { unlist(); }

    void start() {
        next_ = running;
        if (next_ != nullptr) next_->prev_ = this;
        running = this;
        listed_ = true;
        watch_control();
        if (!polls_.join(p_.udp.relay.get(), client_side_)) ++joined_;
        if (joined_ == 1 && !polls_.join(p_.udp.upstream.get(), target_side_)) ++joined_;
        if (joined_ < 2) return end(false); // the kernel's limit of epoll watches
        watch_idle();
    }

    /// Ends the association because the server closes everything.
    void close_for_drain() {
        if (!ended_) stats_.drained = true;
        end(false);
    }

private:
    using handler = void (association::*)();

    // One of the two UDP sockets, as a member of the thread's poll set. The
    // association outlives its membership: end() leaves the set, and nothing
    // that runs from on_readable() ends the association.
    class side final : public io::poll_member {
    public:
        side(association& a, handler on_ready)
            : a_(a)
            , on_ready_(on_ready) {}
        void on_readable() override {
            a_.last_ = clock::now();
            (a_.*on_ready_)();
        }

    private:
        association& a_;
        handler on_ready_;
    };

    void watch_control() {
        p_.control.async_wait(io::tcp_socket::wait_read, [self = shared_from_this()](auto ec) {
            if (self->ended_) return;
            std::array<std::uint8_t, 512> sink;
            const auto n =
                ::recv(self->p_.control.native_handle(), sink.data(), sink.size(), MSG_DONTWAIT);
            if (ec || n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
                return self->end(false); // the control connection closed: so does the association
            self->watch_control();       // bytes on it mean nothing: read and dropped
        });
    }

    void watch_idle() {
        const auto idle = ctx_.cfg.relay.idle_timeout;
        if (idle <= clock::duration::zero()) return;
        idle_.expires_after(std::max<clock::duration>(idle / 4, std::chrono::seconds(1)));
        idle_.async_wait([self = shared_from_this(), idle](auto ec) {
            if (ec || self->ended_) return;
            if (clock::now() - self->last_ >= idle) return self->end(true);
            self->watch_idle();
        });
    }

    void end(bool idle) {
        if (ended_) return;
        ended_ = true;
        unlist();
        stats_.idle_timeout = idle;
        std::error_code ignored;
        p_.control.close(ignored);
        if (joined_ >= 1) polls_.leave(client_side_);
        if (joined_ == 2) polls_.leave(target_side_);
        p_.udp.relay.reset();
        p_.udp.upstream.reset();
        idle_.cancel();
        done_(stats_);
    }

    void unlist() noexcept {
        if (!listed_) return;
        listed_ = false;
        (prev_ != nullptr ? prev_->next_ : running) = next_;
        if (next_ != nullptr) next_->prev_ = prev_;
        prev_ = next_ = nullptr;
    }

    using datagram_handler = void (association::*)(const udp::receive_batch&, std::size_t,
                                                   udp::send_batch&);

    // Receives from `in` a batch at a time, `each` queueing what goes out of
    // `out`, until `in` is drained; after four full batches the others have
    // the thread, and a posted handler comes back for the rest (the poll set
    // is edge-triggered: no new edge would).
    void drain(int in, int out, datagram_handler each, handler again) {
        auto& received = udp::thread_receive_batch();
        auto& sending = udp::thread_send_batch();
        for (int round = 0; round < 4; ++round) {
            const auto n = received.receive(in);
            for (std::size_t i = 0; i < n; ++i)
                (this->*each)(received, i, sending);
            stats_.unsent += sending.flush(out);
            if (n < udp::batch_size) return;
        }
        asio::post(p_.control.get_executor(), [self = shared_from_this(), again] {
            if (!self->ended_) (self.get()->*again)();
        });
    }

    // Datagrams from the client, to their destinations.
    void from_client() {
        drain(p_.udp.relay.get(), p_.udp.upstream.get(), &association::client_datagram,
              &association::from_client);
    }

    // Replies from targets, to the client, each behind a header naming its source.
    void from_targets() {
        drain(p_.udp.upstream.get(), p_.udp.relay.get(), &association::target_datagram,
              &association::from_targets);
    }

    bool from_the_client(const udp::peer& source) {
        if (source.address != p_.client_address) return false;
        if (p_.client_port == 0) p_.client_port = source.port; // pinned by the first datagram
        return source.port == p_.client_port;
    }

    void client_datagram(const udp::receive_batch& in, std::size_t i, udp::send_batch& out) {
        if (!from_the_client(udp::peer_of(in.source(i)))) return void(++stats_.foreign);
        proto::udp_datagram d;
        if (in.truncated(i) || proto::decode_udp_datagram(in.datagram(i), d))
            return void(++stats_.malformed);
        if (d.frag != 0) return void(++stats_.fragmented);
        const auto port = d.destination.port;
        if (const auto* name = std::get_if<std::string_view>(&d.destination.host))
            return to_name(*name, port, d.data, out);
        const auto to =
            std::holds_alternative<proto::ipv4_bytes>(d.destination.host)
                ? asio::ip::address(
                      asio::ip::address_v4(std::get<proto::ipv4_bytes>(d.destination.host)))
                : asio::ip::address(
                      asio::ip::address_v6(std::get<proto::ipv6_bytes>(d.destination.host)));
        to_address({to, port}, d.data, out);
    }

    void to_address(const udp::peer& to, std::span<const std::uint8_t> data, udp::send_batch& out) {
        if (!p_.access.allowed(to.address, to.port)) return void(++stats_.denied);
        sockaddr_storage sa;
        const auto len = udp::to_sockaddr(to, p_.udp.upstream_family, sa);
        if (len == 0) return void(++stats_.unsent); // an IPv6 target on an IPv4-only host
        remember_target(to);
        if (out.full()) stats_.unsent += out.flush(p_.udp.upstream.get());
        out.add({}, data, sa, len);
        ++stats_.datagrams_up;
        stats_.bytes_up += data.size();
    }

    void to_name(std::string_view name, std::uint16_t port, std::span<const std::uint8_t> data,
                 udp::send_batch& out) {
        if (!text::is_host_name(name)) return void(++stats_.malformed);
        if (!p_.access.allowed_name(name, port)) return void(++stats_.denied);
        const auto now = clock::now();
        std::erase_if(names_, [now](const name_entry& e) { return e.expires <= now; });
        const auto it = std::find_if(names_.begin(), names_.end(),
                                     [name](const name_entry& e) { return e.name == name; });
        if (it == names_.end()) return look_up(std::string(name), port, data);
        const auto to = std::find_if(it->addresses.begin(), it->addresses.end(),
                                     [&](const auto& a) { return p_.access.allowed(a, port); });
        if (to == it->addresses.end()) return void(++stats_.denied);
        to_address({*to, port}, data, out);
    }

    // One lookup at a time; its datagram waits for it (copied), others to
    // unknown names meanwhile are dropped.
    void look_up(std::string name, std::uint16_t port, std::span<const std::uint8_t> data) {
        if (looking_up_) return void(++stats_.unresolved);
        looking_up_ = true;
        asio::co_spawn(p_.control.get_executor(),
                       resolved(shared_from_this(), std::move(name), port,
                                std::vector<std::uint8_t>(data.begin(), data.end())),
                       asio::detached);
    }

    static io::task<void> resolved(std::shared_ptr<association> self, std::string name,
                                   std::uint16_t port, std::vector<std::uint8_t> data) {
        auto r = co_await resolve(self->ctx_.resolver, self->p_.client_key, name, port);
        self->looking_up_ = false;
        if (self->ended_) co_return;
        if (r.error || r.endpoints.empty()) co_return void(++self->stats_.unresolved);
        name_entry e{std::move(name), {}, clock::now() + name_ttl};
        for (const auto& ep : r.endpoints)
            e.addresses.push_back(ep.address());
        if (self->names_.size() == max_names) self->names_.erase(self->names_.begin());
        self->names_.push_back(std::move(e));
        auto& out = udp::thread_send_batch();
        self->to_name(self->names_.back().name, port, data, out);
        self->stats_.unsent += out.flush(self->p_.udp.upstream.get());
    }

    void remember_target(const udp::peer& to) {
        if (std::find(targets_.begin(), targets_.end(), to) != targets_.end()) return;
        if (targets_.size() < max_targets)
            targets_.push_back(to);
        else
            targets_[next_target_++ % max_targets] = to;
    }

    void target_datagram(const udp::receive_batch& in, std::size_t i, udp::send_batch& out) {
        const auto source = udp::peer_of(in.source(i));
        if (std::find(targets_.begin(), targets_.end(), source) == targets_.end())
            return void(++stats_.unsolicited);
        const auto data = in.datagram(i);
        const bool v4_client = p_.client_address.is_v4();
        sockaddr_storage sa;
        const auto len = udp::to_sockaddr({p_.client_address, p_.client_port},
                                          v4_client ? AF_INET : AF_INET6, sa);
        // Header and payload must fit one datagram to the client: 65,507 bytes over IPv4.
        const auto room = v4_client ? proto::max_udp_payload : proto::max_udp_payload + 20;
        const auto head =
            source.address.is_v4() ? proto::udp_header_ipv4_size : proto::udp_header_ipv6_size;
        if (in.truncated(i) || head + data.size() > room || len == 0) return void(++stats_.unsent);
        if (out.full()) stats_.unsent += out.flush(p_.udp.relay.get());
        auto& header = out.header();
        const auto size =
            source.address.is_v4()
                ? proto::encode_udp_header(header, source.address.to_v4().to_bytes(), source.port)
                : proto::encode_udp_header(header, source.address.to_v6().to_bytes(), source.port);
        out.add(std::span<const std::uint8_t>(header.data(), size), data, sa, len);
        ++stats_.datagrams_down;
        stats_.bytes_down += data.size();
    }

    udp_association_parts p_;
    server_context& ctx_;
    std::function<void(const udp_stats&)> done_;
    asio::basic_waitable_timer<clock, asio::wait_traits<clock>, io::executor> idle_;
    io::poll_set& polls_;
    side client_side_{*this, &association::from_client};
    side target_side_{*this, &association::from_targets};
    int joined_ = 0; ///< sockets in the poll set: the relay's (1), then the upstream one's (2)
    clock::time_point last_ = clock::now();
    association* prev_ = nullptr; ///< in this thread's `running` list
    association* next_ = nullptr;
    bool listed_ = false;
    std::vector<udp::peer> targets_;
    std::size_t next_target_ = 0;
    std::vector<name_entry> names_;
    udp_stats stats_;
    bool looking_up_ = false;
    bool ended_ = false;
};

} // namespace

void end_udp_associations() {
    while (running != nullptr) {
        const auto keep = running->shared_from_this(); // end() may release the last owner
        keep->close_for_drain();
    }
}

void start_udp_association(udp_association_parts parts, server_context& ctx,
                           std::function<void(const udp_stats&)> done) {
    std::make_shared<association>(std::move(parts), ctx, std::move(done))->start();
}

} // namespace weir::server
