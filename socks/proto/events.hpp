#pragma once

#include "socks/proto/address.hpp"

#include <cstdint>
#include <string>
#include <system_error>
#include <variant>
#include <vector>

// What the codec yields to whoever drives it (server_handshake, and the
// SOCKS4 and SOCKS5 decoders beneath it), without the state machine itself.
namespace weir::proto {

enum class version : std::uint8_t { socks4 = 4, socks5 = 5 };
enum class command : std::uint8_t { connect = 1, bind = 2, udp_associate = 3 };

/// More bytes are needed before anything else can happen.
struct need_data {};

/// RFC 1929 credentials. The session verifies them and calls auth_result().
struct credentials_event {
    std::string username;
    std::string password;
};

/// A complete request (SOCKS4, SOCKS4a or SOCKS5). The session connects and calls reply().
struct request_event {
    version ver = version::socks5;
    command cmd = command::connect;
    address destination;
    std::string socks4_userid; ///< SOCKS4/4a USERID field (not a credential), may be empty
};

/// The handshake failed. Send `reply` (may be empty) and close the connection.
struct error_event {
    std::error_code error;
    std::vector<std::uint8_t> reply;
};

using event = std::variant<need_data, credentials_event, request_event, error_event>;

} // namespace weir::proto
