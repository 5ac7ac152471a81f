#include "auth/rule.hpp"

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

using namespace weir::auth;

namespace {

std::string parse_error(std::string_view text) {
    try {
        parse_rule(text);
    } catch (const rule_error& e) {
        return e.what();
    }
    return "(parsed)";
}

} // namespace

TEST_CASE("rules parse into a canonical text that parses back the same", "[rule]") {
    const std::vector<std::pair<std::string, std::string>> table = {
        {"allow", "allow"},
        {"DENY", "deny"},
        {"allow from 10.0.0.0/8 to any port 443", "allow from 10.0.0.0/8 to any port 443"},
        {"allow port 443 to any from 10.0.0.0/8", "allow from 10.0.0.0/8 to any port 443"},
        {"\tallow  FROM any\t", "allow from any"},
        {"deny to 169.254.0.0/16", "deny to 169.254.0.0/16"},
        {"allow user alice to .corp.example", "allow user alice to .corp.example"},
        {"allow to Host.Example.", "allow to host.example"},
        {"allow to .Corp.Example.", "allow to .corp.example"},
        {"allow to localhost", "allow to localhost"},
        {"allow to .any", "allow to .any"},
        {"allow to ANY.", "allow to any."},
        // Found by fuzz_rule: a host named like a keyword printed back as the keyword.
        {"deny to  to.", "deny to to."},
        {"deny to Port.", "deny to port."},
        {"allow to any.example", "allow to any.example"},
        {"allow to _srv.xn--bcher-kva.example", "allow to _srv.xn--bcher-kva.example"},
        {"deny to ::FFFF:127.0.0.1", "deny to 127.0.0.1"},
        {"deny to ::ffff:127.0.0.0/104", "deny to 127.0.0.0/8"},
        {"deny to 1.2.3.4/32", "deny to 1.2.3.4"},
        {"deny to 2001:DB8::/32", "deny to 2001:db8::/32"},
        {"allow port 1-65535", "allow port 1-65535"},
        {"allow port 80-80", "allow port 80"},
        {"allow command udp,connect", "allow command connect,udp"},
        {"allow command UDP,bind,connect,bind", "allow command connect,bind,udp"},
        {"allow listener SOCKS5://0.0.0.0:1088", "allow listener socks5://0.0.0.0:1088"},
        {"allow listener socks://[::1]:1080", "allow listener socks://[::1]:1080"},
        {"allow user Alice", "allow user Alice"},
        {"allow command bind user bob listener socks5://[::]:1088 port 1024-2048 to any from ::/0",
         "allow from ::/0 listener socks5://[::]:1088 user bob to any port 1024-2048 command bind"},
    };
    for (const auto& [text, canonical] : table) {
        CAPTURE(text);
        const auto r = parse_rule(text);
        CHECK(r.text() == canonical);
        CHECK(parse_rule(canonical) == r);
        CHECK(parse_rule(canonical).text() == canonical);
    }
}

TEST_CASE("malformed rules name the problem and the word", "[rule]") {
    const std::string expect_dest =
        "(expected any, an IP address, a CIDR, a host name or a .suffix)";
    const std::string expect_port = "(expected 1-65535 or a range N-M)";
    const std::vector<std::pair<std::string, std::string>> table = {
        {"", "rule '': empty rule (expected allow or deny)"},
        {" \t ", "rule ' \\x09 ': empty rule (expected allow or deny)"},
        {"permit from any",
         "rule 'permit from any': unknown word 'permit' at word 1 (expected allow or deny)"},
        {"allow form 10.0.0.0/8",
         "rule 'allow form 10.0.0.0/8': unknown word 'form' at word 2 (expected from, listener, "
         "user, to, port, command)"},
        {"deny to any extra", "rule 'deny to any extra': unknown word 'extra' at word 4 (expected "
                              "from, listener, user, to, port, command)"},
        {"allow from", "rule 'allow from': missing value after 'from' at word 3 (expected an IP "
                       "address, a CIDR or any)"},
        {"allow user to any",
         "rule 'allow user to any': missing value after 'user' at word 3 (expected a user name)"},
        {"allow to any to 10.0.0.0/8", "rule 'allow to any to 10.0.0.0/8': repeated clause 'to' "
                                       "at word 4 (already given at word 2)"},
        {"allow from 10.0.0.1/8", "rule 'allow from 10.0.0.1/8': host bits set in '10.0.0.1/8' "
                                  "at word 3 (the network is 10.0.0.0/8)"},
        {"deny to ::ffff:10.0.0.1/104", "rule 'deny to ::ffff:10.0.0.1/104': host bits set in "
                                        "'::ffff:10.0.0.1/104' at word 3 (the network is "
                                        "10.0.0.0/8)"},
        {"allow from 10.0.0.0/33", "rule 'allow from 10.0.0.0/33': bad prefix length in "
                                   "'10.0.0.0/33' at word 3 (expected 0-32)"},
        {"allow to ::/129",
         "rule 'allow to ::/129': bad prefix length in '::/129' at word 3 (expected 0-128)"},
        {"allow from example.com", "rule 'allow from example.com': bad address 'example.com' at "
                                   "word 3 (expected an IP address, a CIDR or any)"},
        {"allow to 10.0.0",
         "rule 'allow to 10.0.0': bad destination '10.0.0' at word 3 " + expect_dest},
        {"allow to 127.1.",
         "rule 'allow to 127.1.': bad destination '127.1.' at word 3 " + expect_dest},
        {"allow to *.example",
         "rule 'allow to *.example': bad destination '*.example' at word 3 " + expect_dest},
        {"allow to .", "rule 'allow to .': bad destination '.' at word 3 " + expect_dest},
        {"allow to a..b", "rule 'allow to a..b': bad destination 'a..b' at word 3 " + expect_dest},
        {"allow to 1.2.3.4:80",
         "rule 'allow to 1.2.3.4:80': bad address '1.2.3.4:80' at word 3 " + expect_dest},
        {"allow port 0", "rule 'allow port 0': bad port '0' at word 3 " + expect_port},
        {"allow port 65536", "rule 'allow port 65536': bad port '65536' at word 3 " + expect_port},
        {"allow port 080", "rule 'allow port 080': bad port '080' at word 3 " + expect_port},
        {"allow port 80-", "rule 'allow port 80-': bad port '80-' at word 3 " + expect_port},
        {"allow port 1-2-3", "rule 'allow port 1-2-3': bad port '1-2-3' at word 3 " + expect_port},
        {"allow port 443-80", "rule 'allow port 443-80': bad port range '443-80' at word 3 (the "
                              "first port is above the last)"},
        {"allow command connect,foo",
         "rule 'allow command connect,foo': unknown command 'foo' in 'connect,foo' at word 3 "
         "(expected connect, bind, udp, comma-separated)"},
        {"allow command connect,", "rule 'allow command connect,': unknown command '' in "
                                   "'connect,' at word 3 (expected connect, bind, udp, "
                                   "comma-separated)"},
        {"allow listener 0.0.0.0:1088",
         "rule 'allow listener 0.0.0.0:1088': bad listener '0.0.0.0:1088' at word 3 (expected a "
         "URL such as socks5://0.0.0.0:1088)"},
        {"allow\rfrom any", "rule 'allow\\x0dfrom any': control character at byte 6"},
    };
    for (const auto& [text, message] : table) {
        CAPTURE(text);
        CHECK(parse_error(text) == message);
    }
    const std::string long_user(256, 'u');
    CHECK(parse_error("allow user " + long_user) == "rule 'allow user " + long_user +
                                                        "': bad user name '" + long_user +
                                                        "' at word 3 (at most 255 bytes)");
    CHECK(parse_rule("allow user " + long_user.substr(1)).user == long_user.substr(1));
}

TEST_CASE("rule messages escape control bytes only", "[rule]") {
    const std::string expect_dest =
        "(expected any, an IP address, a CIDR, a host name or a .suffix)";
    const std::vector<std::pair<std::string, std::string>> table = {
        {"allow\x7f", "rule 'allow\\x7f': control character at byte 6"},
        {"allow\x1f", "rule 'allow\\x1f': control character at byte 6"},
        {std::string("deny\0", 5), "rule 'deny\\x00': control character at byte 5"},
        {"allow to a\\b", "rule 'allow to a\\b': bad destination 'a\\b' at word 3 " + expect_dest},
        {"allow to caf\xc3\xa9", "rule 'allow to caf\xc3\xa9': bad destination 'caf\xc3\xa9' "
                                 "at word 3 " +
                                     expect_dest},
        {"allow to it's", "rule 'allow to it's': bad destination 'it's' at word 3 " + expect_dest},
        {"allow command CONNECT,B\xff"
         "D",
         "rule 'allow command CONNECT,B\xff"
         "D': unknown command 'b\xff"
         "d' in 'CONNECT,B\xff"
         "D' at word 3 (expected connect, bind, udp, comma-separated)"},
    };
    for (const auto& [text, message] : table) {
        CAPTURE(text);
        CHECK(parse_error(text) == message);
    }
}
