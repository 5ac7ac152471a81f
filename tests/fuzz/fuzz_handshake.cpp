// libFuzzer target: drives weir::proto::server_handshake the way a session
// does, with the input cut into chunks, and checks the contract on the way.
//
// Input: byte 0 picks the options, byte 1 the chunk sizes, the rest is what
// the client sends.
//   bit 0 socks4, bit 1 socks5, bit 2 require_password, bit 3 accept credentials,
//   bits 4-5 max_socks4_field (255, 1, 16, 1024)

#include "socks/proto/server_handshake.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <variant>
#include <vector>

namespace {

using namespace weir::proto;
using bytes = std::vector<std::uint8_t>;

void require(bool ok, const char* what) {
    if (ok) return;
    std::fprintf(stderr, "fuzz_handshake: broken invariant: %s\n", what);
    std::abort();
}

/// Chunk sizes: all at once for seed 0, else 1..(seed % 64 + 1) from a small PRNG.
class chunker {
public:
    explicit chunker(std::uint8_t seed)
        : max_(seed == 0 ? 0U : seed % 64U + 1U)
        , state_(seed) {}

    std::size_t next(std::size_t left) {
        if (max_ == 0) return left;
        state_ = state_ * 1103515245U + 12345U;
        const std::size_t n = 1 + (state_ >> 16) % max_;
        return n < left ? n : left;
    }

private:
    unsigned max_;
    unsigned state_;
};

/// Length of the request on the wire, from the decoded event (an independent model).
std::size_t request_size(const request_event& r) {
    const auto& host = r.destination.host;
    const auto* domain = std::get_if<std::string>(&host);
    if (r.ver == version::socks4) {
        // VN CD DSTPORT DSTIP USERID NUL [HOSTNAME NUL]
        return 8 + r.socks4_userid.size() + 1 + (domain ? domain->size() + 1 : 0);
    }
    // VER CMD RSV ATYP ADDR PORT
    const std::size_t addr = domain                                     ? 1 + domain->size()
                             : std::holds_alternative<ipv4_bytes>(host) ? 4U
                                                                        : 16U;
    return 4 + addr + 2;
}

struct driver {
    server_handshake hs;
    std::span<const std::uint8_t> wire;
    bool accept;
    std::size_t fed = 0;
    std::size_t consumed = 0; // handshake bytes, by the model
    bool greeted = false;

    void feed(std::size_t n) {
        hs.receive(wire.subspan(fed, n));
        fed += n;
    }

    void on_output(const bytes& out) {
        if (out.empty()) return;
        if (!greeted) {
            require(out.size() >= 2 && out[0] == 0x05, "method choice first");
            require(wire.size() >= 2 && wire[0] == 0x05, "method choice only for SOCKS5");
            consumed += std::size_t{2} + wire[1];
            greeted = true;
        }
    }

    void on_credentials(const credentials_event& c) {
        require(!c.username.empty() && c.username.size() <= 255, "username size");
        require(!c.password.empty() && c.password.size() <= 255, "password size");
        consumed += 3 + c.username.size() + c.password.size();
        hs.auth_result(accept);
        require(hs.take_output() == bytes{0x01, static_cast<std::uint8_t>(accept ? 0 : 1)},
                "RFC 1929 status");
    }

    void on_request(const request_event& r) {
        consumed += request_size(r);
        require(consumed <= fed, "consumed no more than fed");
        const bytes rest = hs.take_remaining();
        require(consumed + rest.size() == fed, "remaining + consumed == fed");
        require(std::equal(rest.begin(), rest.end(),
                           wire.begin() + static_cast<std::ptrdiff_t>(consumed)),
                "remaining is what followed the request");
        const bytes ok = hs.reply(reply_code::succeeded, r.destination);
        const bytes refused = hs.reply(reply_code::connection_refused, address{});
        require(ok.size() >= 8 && refused.size() >= 8, "reply size");
        // After the request every later byte is pipelined data, handed on whole.
        feed(wire.size() - fed);
        require(hs.take_remaining().size() == wire.size() - consumed - rest.size(),
                "later bytes are remaining too");
        require(std::holds_alternative<request_event>(hs.next_event()), "request is sticky");
    }

    void on_error(const error_event& e) {
        require(static_cast<bool>(e.error), "an error has a code");
        require(hs.take_remaining().empty(), "no remaining after an error");
        feed(wire.size() - fed);
        const auto again = hs.next_event();
        const auto* same = std::get_if<error_event>(&again);
        require(same && same->error == e.error && same->reply == e.reply, "error is sticky");
    }

    void run(chunker& chunks) {
        // Each turn feeds a chunk or ends; credentials come at most once.
        for (std::size_t turns = 0; turns < wire.size() + 8; ++turns) {
            const event e = hs.next_event();
            on_output(hs.take_output());
            if (std::holds_alternative<need_data>(e)) {
                if (fed == wire.size()) return;
                feed(chunks.next(wire.size() - fed));
            } else if (const auto* c = std::get_if<credentials_event>(&e)) {
                on_credentials(*c);
            } else if (const auto* r = std::get_if<request_event>(&e)) {
                return on_request(*r);
            } else {
                return on_error(std::get<error_event>(e));
            }
        }
        require(false, "the handshake ends within a bounded number of turns");
    }
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    static constexpr std::size_t caps[] = {255, 1, 16, 1024};
    server_handshake::options opts;
    opts.socks4 = (data[0] & 1) != 0;
    opts.socks5 = (data[0] & 2) != 0;
    opts.require_password = (data[0] & 4) != 0;
    opts.max_socks4_field = caps[(data[0] >> 4) & 3];
    chunker chunks(data[1]);
    driver d{server_handshake(opts), std::span(data + 2, size - 2), (data[0] & 8) != 0};
    d.run(chunks);
    return 0;
}
