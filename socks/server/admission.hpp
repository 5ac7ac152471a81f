#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace weir::server {

/// Why a connection was turned away at the door.
enum class refusal { none, sessions, client_sessions, handshakes };

/// Connection limits: sessions in total, sessions per client, and sessions
/// still in their handshake. A connection over any limit is closed at once
/// by the caller; sessions already running are untouched. Thread-safe.
class admission {
public:
    struct limits {
        std::size_t sessions = 0;   ///< 0: unlimited
        std::size_t per_client = 0; ///< 0: unlimited
        std::size_t handshakes = 0; ///< 0: unlimited
    };

    /// Held by a session for its whole life; releases its place when destroyed.
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

    private:
        friend class admission;
        ticket(admission* owner, std::string client);
        admission* owner_ = nullptr;
        std::string client_;
        bool in_handshake_ = false;
    };

    explicit admission(limits l);

    /// A place for a new session from `client`, or the limit it would break.
    refusal admit(std::string_view client, ticket& out);

    std::size_t sessions() const noexcept { return sessions_.load(); }
    std::size_t handshakes() const noexcept { return handshakes_.load(); }

private:
    void leave(const std::string& client, bool in_handshake);

    limits limits_;
    std::atomic<std::size_t> sessions_{0};
    std::atomic<std::size_t> handshakes_{0};
    std::mutex mutex_;
    /// Sessions per client, kept only under a per-client limit.
    std::unordered_map<std::string, std::size_t> per_client_;
};

} // namespace weir::server
