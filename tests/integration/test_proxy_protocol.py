"""PROXY protocol listeners (?proxy_protocol=true): hand-made v1 and v2 headers,
then SOCKS5 or SOCKS4 to the echo target. The header's source is the client for
the log, the rules, the per-client limits and the login throttle; LOCAL and
UNKNOWN mean the real peer; a connection without a valid header is closed
without a byte.

The addresses in headers are documentation addresses (RFC 5737, RFC 3849):
they are only bytes in a header, no traffic goes to them.
"""

import hashlib
import os
import re
import socket
import struct
import time
import unittest

import harness
from harness import connect, recv_exact, s4_request, s5_greeting, s5_request

PAYLOAD = b"through the balancer\n" + os.urandom(100_000)
V2_SIGNATURE = bytes.fromhex("0D 0A 0D 0A 00 0D 0A 51 55 49 54 0A")
HANDSHAKE_TIMEOUT = 2  # seconds: the slow client's wait, generous for the rest


def v1(src, dst, sport, dport, family="TCP4"):
    return f"PROXY {family} {src} {dst} {sport} {dport}\r\n".encode()


def v2(src, dst, sport, dport, tlvs=b"", command=0x21):
    """PROXY (0x21) or LOCAL (0x20) over TCP/IPv4 or TCP/IPv6, with TLVs after."""
    family = socket.AF_INET6 if ":" in src else socket.AF_INET
    addresses = (socket.inet_pton(family, src) + socket.inet_pton(family, dst) +
                 struct.pack("!HH", sport, dport))
    fam = 0x21 if family == socket.AF_INET6 else 0x11
    body = addresses + tlvs
    return V2_SIGNATURE + bytes([command, fam]) + struct.pack("!H", len(body)) + body


V2_LOCAL = V2_SIGNATURE + bytes.fromhex("20 00 00 00")
# A TLV of type 0x01 (ALPN "h2") and a NOOP (0x04) of 3 bytes: skipped.
TLVS = bytes.fromhex("01 00 02 68 32  04 00 03 00 00 00")


def setUpModule():
    global ECHO, WEIR
    ECHO = harness.EchoTarget()
    WEIR = harness.Weir(["socks://127.0.0.1:0?proxy_protocol=true"],
                        extra=["--handshake-timeout", str(HANDSHAKE_TIMEOUT)])


def tearDownModule():
    WEIR.stop()
    ECHO.stop()


class ProxyTest(unittest.TestCase):
    weir = None  # the module's WEIR unless a class sets its own

    def setUp(self):
        self.w = self.weir or WEIR
        self.log_mark = self.w.mark()

    def open(self):
        s = connect(self.w.port("socks"))
        self.addCleanup(s.close)
        return s

    def assert_connected_s5(self, s):
        """05 00 for the method, then a success reply naming weir's address."""
        self.assertEqual(recv_exact(s, 2), bytes.fromhex("05 00"))
        reply = recv_exact(s, 10)
        self.assertEqual(reply[:8], bytes.fromhex("05 00 00 01 7F 00 00 01"), reply.hex(" "))

    def assert_echo(self, s, payload=PAYLOAD):
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        back = harness.recv_all(s)
        self.assertEqual(hashlib.sha256(back).hexdigest(), hashlib.sha256(payload).hexdigest())

    def session(self, client, **fields):
        return self.w.sessions(since=self.log_mark, client=client, **fields)[0]

    def assert_closed_silently(self, s):
        """weir closes without sending a byte."""
        self.assertEqual(harness.recv_all(s), b"")

    def refused_line(self, client_re, why):
        return self.w.wait_for_lines(
            re.compile(rf"refused client={client_re} target=-: {re.escape(why)}$"),
            start=self.log_mark)[0].string


class Headers(ProxyTest):
    def test_v1_tcp4_then_socks5_in_one_send(self):
        """Header, greeting, CONNECT and data in one send: the bytes after the
        header are not lost; the log's client is the header's."""
        s = self.open()
        s.sendall(v1("192.0.2.7", "198.51.100.1", 4242, 1080) + s5_greeting(0) +
                  s5_request("127.0.0.1", ECHO.port) + PAYLOAD[:1000])
        self.assert_connected_s5(s)
        self.assertEqual(recv_exact(s, 1000), PAYLOAD[:1000])
        self.assert_echo(s, PAYLOAD[1000:])
        line = self.session("192.0.2.7:4242", result="succeeded", proto="socks5")
        self.assertEqual(line["target"], f"127.0.0.1:{ECHO.port}")
        self.assertEqual(line["up"], str(len(PAYLOAD)))

    def test_v1_tcp6_then_socks4(self):
        s = self.open()
        s.sendall(v1("2001:db8::7", "2001:db8::1", 50000, 1080, "TCP6"))
        s.sendall(s4_request("127.0.0.1", ECHO.port))
        self.assertEqual(recv_exact(s, 8)[:2], bytes.fromhex("00 5A"))
        self.assert_echo(s)
        self.session("[2001:db8::7]:50000", result="succeeded", proto="socks4")

    def test_v2_ipv4_with_tlvs_then_socks5(self):
        s = self.open()
        s.sendall(v2("192.0.2.8", "198.51.100.1", 4243, 1080, TLVS) + s5_greeting(0))
        self.assertEqual(recv_exact(s, 2), bytes.fromhex("05 00"))
        s.sendall(s5_request("127.0.0.1", ECHO.port))
        reply = recv_exact(s, 10)
        self.assertEqual(reply[:8], bytes.fromhex("05 00 00 01 7F 00 00 01"))
        self.assert_echo(s)
        self.session("192.0.2.8:4243", result="succeeded")

    def test_v2_ipv6_header_split_byte_by_byte(self):
        s = self.open()
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for byte in v2("2001:db8::9", "2001:db8::1", 4244, 1080):
            s.send(bytes([byte]))
        s.sendall(s5_greeting(0) + s5_request("127.0.0.1", ECHO.port))
        self.assert_connected_s5(s)
        self.assert_echo(s)
        self.session("[2001:db8::9]:4244", result="succeeded")

    def test_v2_local_and_v1_unknown_use_the_real_peer(self):
        for header in (V2_LOCAL, b"PROXY UNKNOWN\r\n", b"PROXY UNKNOWN ::1 ::1 1 2\r\n"):
            with self.subTest(header=header):
                s = self.open()
                s.sendall(header + s5_greeting(0) + s5_request("127.0.0.1", ECHO.port))
                self.assert_connected_s5(s)
                self.assert_echo(s, b"local")
                self.session("127.0.0.1:%d" % s.getsockname()[1], result="succeeded")

    def test_udp_associate_is_refused_with_07(self):
        """Behind a balancer the control connection's peer is the balancer:
        UDP ASSOCIATE cannot be held to the client, so it is not offered."""
        s = self.open()
        s.sendall(v1("192.0.2.10", "198.51.100.1", 4245, 1080) + s5_greeting(0) +
                  s5_request("0.0.0.0", 0, cmd=3))
        self.assertEqual(recv_exact(s, 2), bytes.fromhex("05 00"))
        self.assertEqual(recv_exact(s, 10), bytes.fromhex("05 07 00 01 00 00 00 00 00 00"))
        self.assert_closed_silently(s)
        self.session("192.0.2.10:4245", result="udp-associate-failed:command-not-supported")


class Refusals(ProxyTest):
    def test_no_header_is_closed_without_a_byte(self):
        s = self.open()
        s.sendall(s5_greeting(0) + s5_request("127.0.0.1", ECHO.port))
        self.assert_closed_silently(s)
        self.refused_line(r"127\.0\.0\.1:%d" % s.getsockname()[1], "no PROXY protocol header")

    def test_malformed_headers_are_closed_with_the_reason(self):
        cases = [
            (b"PROXY TCP4 192.0.2.7 198.51.100.1 04242 1080\r\n",
             "PROXY v1 port is not a decimal 0 to 65535"),
            (b"PROXY TCP4 2001:db8::7 198.51.100.1 4242 1080\r\n",
             "PROXY v1 address is not of the named family"),
            (b"PROXY TCP4 192.0.2.7  198.51.100.1 4242 1080\r\n",
             "PROXY v1 line does not have 4 single-spaced fields"),
            (b"PROXY TCP4 192.0.2.7 198.51.100.1 4242 1080\n",
             "PROXY v1 line does not end in CRLF"),
            (b"PROXY UNKNOWN " + b"x" * 100, "PROXY v1 line longer than 107 bytes"),
            (V2_SIGNATURE + bytes.fromhex("21 12 00 0C"),
             "PROXY v2 address family is not TCP over IPv4 or IPv6"),
            (V2_SIGNATURE + bytes.fromhex("21 11 04 00"), "PROXY v2 header longer than 1024 bytes"),
            (V2_SIGNATURE + bytes.fromhex("11 11 00 0C"), "PROXY v2 version is not 2"),
        ]
        for wire, why in cases:
            with self.subTest(why=why):
                self.log_mark = self.w.mark()
                s = self.open()
                s.sendall(wire + s5_greeting(0))
                self.assert_closed_silently(s)
                self.refused_line(r"127\.0\.0\.1:%d" % s.getsockname()[1], why)

    def test_closed_before_a_header(self):
        s = self.open()
        port = s.getsockname()[1]
        s.sendall(b"PROX")
        s.shutdown(socket.SHUT_WR)
        self.assert_closed_silently(s)
        self.refused_line(r"127\.0\.0\.1:%d" % port, "no PROXY protocol header (closed)")

    def test_slow_header_is_closed_at_the_handshake_timeout(self):
        s = self.open()
        s.sendall(b"PROXY TCP4 192.0.2.7 ")
        started = time.monotonic()
        self.assert_closed_silently(s)
        self.assertGreaterEqual(time.monotonic() - started, HANDSHAKE_TIMEOUT * 0.9)
        self.refused_line(r"127\.0\.0\.1:%d" % s.getsockname()[1],
                          "no PROXY protocol header (handshake-timeout)")


class Rules(ProxyTest):
    """allow from the header's address, deny the rest: the balancer's own
    address (127.0.0.1) is not the client."""

    @classmethod
    def setUpClass(cls):
        cls.weir = harness.Weir(["socks://127.0.0.1:0?proxy_protocol=true"],
                                extra=["--rule", "allow from 192.0.2.7", "--rule", "deny"])

    @classmethod
    def tearDownClass(cls):
        cls.weir.stop()

    def test_allowed_by_the_header_address(self):
        s = self.open()
        s.sendall(v1("192.0.2.7", "198.51.100.1", 4242, 1080) + s5_greeting(0) +
                  s5_request("127.0.0.1", ECHO.port))
        self.assert_connected_s5(s)
        self.assert_echo(s)
        self.session("192.0.2.7:4242", result="succeeded")

    def test_denied_for_another_header_address(self):
        s = self.open()
        s.sendall(v2("192.0.2.99", "198.51.100.1", 4242, 1080) + s5_greeting(0) +
                  s5_request("127.0.0.1", ECHO.port))
        self.assertEqual(recv_exact(s, 2), bytes.fromhex("05 00"))
        self.assertEqual(recv_exact(s, 10), bytes.fromhex("05 02 00 01 00 00 00 00 00 00"))
        self.w.wait_for_lines(re.compile(r"refused client=192\.0\.2\.99:4242 target=127\.0\.0\.1:"
                                         r"\d+ by rule 2 'deny'"), start=self.log_mark)

    def test_local_is_the_balancer_and_denied(self):
        s = self.open()
        s.sendall(V2_LOCAL + s4_request("127.0.0.1", ECHO.port))
        self.assertEqual(recv_exact(s, 8)[:2], bytes.fromhex("00 5B"))
        self.session("127.0.0.1:%d" % s.getsockname()[1], result="connect-failed:not-allowed-by-policy")


class Limits(ProxyTest):
    """--max-sessions-per-client 1 counts the header's client, not the balancer."""

    @classmethod
    def setUpClass(cls):
        cls.weir = harness.Weir(["socks://127.0.0.1:0?proxy_protocol=true"],
                                extra=["--max-sessions-per-client", "1"])

    @classmethod
    def tearDownClass(cls):
        cls.weir.stop()

    def start_session(self, client, port):
        s = self.open()
        s.sendall(v1(client, "198.51.100.1", port, 1080) + s5_greeting(0) +
                  s5_request("127.0.0.1", ECHO.port))
        self.assert_connected_s5(s)
        return s

    def test_per_client_limit_counts_the_header_client(self):
        a = self.start_session("192.0.2.20", 1001)
        b = self.start_session("192.0.2.21", 1002)  # the same balancer, another client
        extra = self.open()
        extra.sendall(v1("192.0.2.20", "198.51.100.1", 1003, 1080) + s5_greeting(0) +
                      s5_request("127.0.0.1", ECHO.port))
        self.assert_closed_silently(extra)
        self.refused_line(r"192\.0\.2\.20:1003", "--max-sessions-per-client reached")
        for s in (a, b):
            self.assert_echo(s, b"still here")
        self.session("192.0.2.20:1001", result="succeeded")
        self.session("192.0.2.21:1002", result="succeeded")
        # 192.0.2.20's place is free again.
        self.assert_echo(self.start_session("192.0.2.20", 1004), b"again")
        self.session("192.0.2.20:1004", result="succeeded")


class Throttle(ProxyTest):
    """Failed logins count against the header's client, and its block refuses
    it at the header; another client behind the same balancer logs in."""

    @classmethod
    def setUpClass(cls):
        cls.weir = harness.Weir(["socks5://127.0.0.1:0?proxy_protocol=true"],
                                users={"alice": "right"},
                                extra=["--login-free-failures", "2", "--login-block-after", "2"])

    @classmethod
    def tearDownClass(cls):
        cls.weir.stop()

    def login(self, client, port, password):
        """The RFC 1929 status (0 or 1), or None if weir closed first."""
        s = connect(self.w.port("socks5"))
        self.addCleanup(s.close)
        s.sendall(v1(client, "198.51.100.1", port, 1080) + s5_greeting(2))
        greeting = s.recv(2)
        if greeting == b"":
            return None
        self.assertEqual(greeting, bytes.fromhex("05 02"))
        s.sendall(harness.s5_credentials("alice", password))
        status = s.recv(2)
        return None if status == b"" else status[1]

    def test_blocked_by_the_header_client(self):
        self.assertEqual(self.login("192.0.2.30", 2001, "wrong-1"), 1)
        self.assertIn(self.login("192.0.2.30", 2002, "wrong-2"), (1, None))
        self.assertIsNone(self.login("192.0.2.30", 2003, "right"))
        self.refused_line(r"192\.0\.2\.30:2003", "client blocked after repeated failed logins")
        self.assertEqual(self.login("192.0.2.31", 2004, "right"), 0)


class Listening(unittest.TestCase):
    def test_listening_line_shows_the_option(self):
        self.assertTrue(any(re.search(r"listening on socks://127\.0\.0\.1:\d+ "
                                      r"\(auth=none, proxy_protocol=true\)$", l)
                            for l in WEIR.lines if l))


if __name__ == "__main__":
    unittest.main(verbosity=2)
