#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <asio/ip/address.hpp>

namespace weir::server {

/// The key that limits and throttling count by: the IPv4 address, or the /64
/// of an IPv6 address (one host usually owns a whole /64).
std::string client_key(const asio::ip::address& a);

/// Why a connection was turned away at the door.
enum class refusal { none, sessions, client_sessions, handshakes, client_handshakes };

/// Connection limits: sessions in total and per client, sessions still in
/// their handshake in total and per client. A connection over a limit is
/// closed at once by the caller; sessions already running are untouched.
/// When the handshake places are full, the oldest handshake of the client
/// holding the most is shed (its socket shut down) to make room for a client
/// holding fewer. Thread-safe.
class admission {
public:
    struct limits {
        std::size_t sessions = 0;              ///< 0: unlimited
        std::size_t per_client = 0;            ///< 0: unlimited
        std::size_t handshakes = 0;            ///< 0: unlimited
        std::size_t per_client_handshakes = 0; ///< 0: unlimited
    };

    /// Held by a session for its whole life; releases its place when destroyed.
    /// The session must call handshake_done() or release() (or destroy the
    /// ticket) before it closes the socket it was admitted with.
    class ticket {
    public:
        ticket() = default;
        ticket(ticket&& other) noexcept;
        ticket& operator=(ticket&& other) noexcept;
        ~ticket();
        /// The handshake is over: free the handshake place, keep the session place.
        void handshake_done();
        /// The client key the place is counted under (empty for a default ticket).
        const std::string& client() const noexcept { return client_; }
        /// Frees the place now rather than at destruction.
        void release() noexcept;
        /// Counts the place (and the handshake, if still in it) under `client`
        /// instead, if that client is within its limits; else the ticket is
        /// unchanged and the limit is returned. For a connection whose real
        /// client is known only after accept (a PROXY protocol header).
        refusal move_to(std::string_view client);

    private:
        friend class admission;
        ticket(admission* owner, std::string client, std::uint64_t id);
        admission* owner_ = nullptr;
        std::string client_;
        std::uint64_t id_ = 0; ///< its registered handshake; 0: none registered
        bool in_handshake_ = false;
    };

    explicit admission(limits l);

    /// A place for a new session from `client` on socket `fd`, or the limit it
    /// would break. Any place `out` held is released first. To make room it may
    /// shut down (never close) the socket of another client's handshake; then
    /// `shed_from`, when given, receives that client's key. With `uncapped`
    /// the client's sessions are counted but not held to `per_client` (its
    /// handshakes still are).
    refusal admit(std::string_view client, int fd, ticket& out, std::string* shed_from = nullptr,
                  bool uncapped = false);

    std::size_t sessions() const noexcept { return sessions_.load(); }
    std::size_t handshakes() const noexcept { return handshakes_.load(); }
    /// Handshakes shed since start to make room for other clients.
    std::uint64_t shed() const noexcept { return shed_.load(); }

private:
    struct pending {
        std::uint64_t id;
        int fd;
    };
    struct client_state {
        const std::string* key = nullptr;
        std::size_t sessions = 0;
        std::vector<pending> handshakes; ///< oldest first (ids ascending)
        client_state* prev = nullptr;    ///< among the clients holding as many handshakes
        client_state* next = nullptr;
    };

    refusal move(ticket& t, std::string_view client);
    refusal admit_counted(std::string_view client, int fd, ticket& out, std::string* shed_from,
                          bool uncapped);
    bool shed_for(std::size_t held, std::string* shed_from);
    void forget_handshake(client_state& c, std::uint64_t id) noexcept;
    void finish_handshake(const std::string& client, std::uint64_t id);
    void leave(const std::string& client, std::uint64_t id, bool in_handshake) noexcept;
    void regroup(client_state& c, std::size_t held_before) noexcept;

    const limits limits_;
    /// Whether anything is counted per client (under mutex_); otherwise no lock is taken.
    const bool per_client_;
    /// Whether handshakes are registered one by one (id and socket).
    const bool register_handshakes_;
    std::atomic<std::size_t> sessions_{0};
    std::atomic<std::size_t> handshakes_{0};
    std::atomic<std::uint64_t> shed_{0};

    std::mutex mutex_;
    std::uint64_t next_id_ = 1;
    std::unordered_map<std::string, client_state> clients_;
    /// holders_[n]: a list of the clients holding n handshakes (n > 0), kept
    /// under a global handshake limit, so that the biggest holder is found in
    /// O(1) however many clients there are; most_ is the highest non-empty n.
    std::vector<client_state*> holders_;
    std::size_t most_ = 0;
};

} // namespace weir::server
