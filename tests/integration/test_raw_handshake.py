"""Hand-made SOCKS bytes against weir: pipelining, exact replies, refusals, timeouts."""

import os
import socket
import unittest

import harness
from harness import (connect, read_s5_reply, recv_exact, s4_request, s5_credentials,
                     s5_greeting, s5_request)

USERS = {"alice": "raw-password"}
PAYLOAD = b"pipelined payload sent before any reply\n" + os.urandom(2000)


def setUpModule():
    global ECHO, WEIR
    ECHO = harness.EchoTarget()
    WEIR = harness.Weir(harness.STANDARD_LISTENS, users=USERS)


def tearDownModule():
    WEIR.stop()
    ECHO.stop()


class RawTest(unittest.TestCase):
    def setUp(self):
        self.log_mark = WEIR.mark()  # this test's sessions are logged after it

    def open(self, scheme):
        s = connect(WEIR.port(scheme))
        self.addCleanup(s.close)
        return s

    def assert_echo_then_eof(self, s, payload=PAYLOAD):
        """The pipelined payload comes back exactly; after our EOF, weir's EOF follows."""
        self.assertEqual(recv_exact(s, len(payload)), payload)
        s.shutdown(socket.SHUT_WR)
        harness.assert_eof(self, s)

    def assert_connected_ipv4(self, s):
        """10-byte success reply, BND = weir's outgoing address (127.0.0.1, port != 0)."""
        reply = recv_exact(s, 10)
        self.assertEqual(reply[:4], bytes.fromhex("05 00 00 01"), reply.hex(" "))
        self.assertEqual(reply[4:8], bytes([127, 0, 0, 1]), reply.hex(" "))
        self.assertNotEqual(int.from_bytes(reply[8:], "big"), 0, "BND.PORT is zero")

    def assert_session_counts(self, s, **fields):
        client = "127.0.0.1:%d" % s.getsockname()[1]
        WEIR.sessions(since=self.log_mark, client=client, result="succeeded", **fields)


class Pipelined(RawTest):
    def test_socks5_no_auth(self):
        """Greeting + CONNECT + payload in one send: 05 00, reply, then the echo."""
        s = self.open("socks")
        s.sendall(s5_greeting(0) + s5_request("127.0.0.1", ECHO.port) + PAYLOAD)
        self.assertEqual(recv_exact(s, 2), bytes.fromhex("05 00"))
        self.assert_connected_ipv4(s)
        self.assert_echo_then_eof(s)
        self.assert_session_counts(s, proto="socks5", user="-",
                                   up=str(len(PAYLOAD)), down=str(len(PAYLOAD)))

    def test_socks5_password(self):
        """Greeting + RFC 1929 auth + CONNECT + payload in one send: 05 02, 01 00, reply, echo."""
        s = self.open("socks5")
        s.sendall(s5_greeting(2) + s5_credentials("alice", USERS["alice"])
                  + s5_request("127.0.0.1", ECHO.port) + PAYLOAD)
        self.assertEqual(recv_exact(s, 2), bytes.fromhex("05 02"))
        self.assertEqual(recv_exact(s, 2), bytes.fromhex("01 00"))
        self.assert_connected_ipv4(s)
        self.assert_echo_then_eof(s)
        self.assert_session_counts(s, user="alice", target=f"127.0.0.1:{ECHO.port}",
                                   up=str(len(PAYLOAD)), down=str(len(PAYLOAD)))

    def test_socks5_password_among_methods(self):
        """A client offering no-auth and password gets password (02) on a password listener."""
        s = self.open("socks5")
        s.sendall(s5_greeting(0, 2) + s5_credentials("alice", USERS["alice"])
                  + s5_request("127.0.0.1", ECHO.port) + PAYLOAD)
        self.assertEqual(recv_exact(s, 4), bytes.fromhex("05 02 01 00"))
        self.assert_connected_ipv4(s)
        self.assert_echo_then_eof(s)

    def test_socks5_domain(self):
        """ATYP 03 'localhost' is resolved by weir; the pipelined payload still arrives."""
        s = self.open("socks")
        s.sendall(s5_greeting(0) + s5_request("localhost", ECHO.port) + PAYLOAD)
        self.assertEqual(recv_exact(s, 2), bytes.fromhex("05 00"))
        self.assert_connected_ipv4(s)
        self.assert_echo_then_eof(s)

    def test_socks4(self):
        """SOCKS4 request + payload in one send: 8-byte reply 00 5A, then the echo."""
        s = self.open("socks4")
        s.sendall(s4_request("127.0.0.1", ECHO.port, userid=b"someone") + PAYLOAD)
        reply = recv_exact(s, 8)
        self.assertEqual(reply[:2], bytes.fromhex("00 5a"), reply.hex(" "))
        self.assert_echo_then_eof(s)
        self.assert_session_counts(s, proto="socks4", up=str(len(PAYLOAD)),
                                   down=str(len(PAYLOAD)))

    def test_socks4a(self):
        """SOCKS4a (DSTIP 0.0.0.1 + 'localhost') request + payload in one send."""
        s = self.open("socks")
        s.sendall(s4_request("localhost", ECHO.port) + PAYLOAD)
        reply = recv_exact(s, 8)
        self.assertEqual(reply[:2], bytes.fromhex("00 5a"), reply.hex(" "))
        self.assert_echo_then_eof(s)
        self.assert_session_counts(s, proto="socks4a")


class Refusals(RawTest):
    def test_socks5_refused_target(self):
        """A target port with no listener gives exactly 05 05 00 01 + 6 bytes, then EOF."""
        s = self.open("socks")
        port = harness.closed_port()
        s.sendall(s5_greeting(0) + s5_request("127.0.0.1", port))
        self.assertEqual(recv_exact(s, 2), bytes.fromhex("05 00"))
        reply = recv_exact(s, 10)
        self.assertEqual(reply[:4], bytes.fromhex("05 05 00 01"), reply.hex(" "))
        harness.assert_eof(self, s)
        fields = WEIR.sessions(since=self.log_mark, client="127.0.0.1:%d" % s.getsockname()[1])[0]
        self.assertEqual(fields.get("target"), f"127.0.0.1:{port}")
        self.assertNotEqual(fields.get("result"), "succeeded")

    def test_socks4_refused_target(self):
        """SOCKS4 to a closed port gives 00 5B + 6 bytes, then EOF."""
        s = self.open("socks4")
        s.sendall(s4_request("127.0.0.1", harness.closed_port()))
        reply = recv_exact(s, 8)
        self.assertEqual(reply[:2], bytes.fromhex("00 5b"), reply.hex(" "))
        harness.assert_eof(self, s)

    def test_wrong_password(self):
        """A wrong password gets 05 02, then 01 01, then EOF."""
        s = self.open("socks5")
        s.sendall(s5_greeting(2) + s5_credentials("alice", "not-it"))
        self.assertEqual(recv_exact(s, 4), bytes.fromhex("05 02 01 01"))
        harness.assert_eof(self, s)

    def test_unknown_user(self):
        """An unknown user gets 01 01 like a wrong password."""
        s = self.open("socks5")
        s.sendall(s5_greeting(2) + s5_credentials("mallory", USERS["alice"]))
        self.assertEqual(recv_exact(s, 4), bytes.fromhex("05 02 01 01"))
        harness.assert_eof(self, s)

    def test_no_acceptable_method(self):
        """Offering only no-auth to a password listener gets 05 FF, then EOF."""
        s = self.open("socks5")
        s.sendall(s5_greeting(0))
        self.assertEqual(recv_exact(s, 2), bytes.fromhex("05 ff"))
        harness.assert_eof(self, s)


class HandshakeTimeout(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.weir = harness.Weir(["socks://127.0.0.1:0"], extra=["--handshake-timeout", "1"])

    @classmethod
    def tearDownClass(cls):
        cls.weir.stop()

    def check_closed_by_weir(self, first_bytes):
        s = connect(self.weir.port("socks"))
        self.addCleanup(s.close)
        if first_bytes:
            s.sendall(first_bytes)
        harness.assert_eof(self, s)  # socket timeout is 10 s, weir's is 1 s

    def test_silent_client(self):
        """A client that sends nothing is disconnected after --handshake-timeout."""
        self.check_closed_by_weir(b"")

    def test_partial_greeting(self):
        """A client stuck half-way through the greeting is disconnected too."""
        self.check_closed_by_weir(bytes([5, 2, 0]))


class ConnectTimeout(unittest.TestCase):
    """A target that never answers the SYN: a listener with a full accept queue."""

    @classmethod
    def setUpClass(cls):
        cls.weir = harness.Weir(["socks://127.0.0.1:0"], extra=["--connect-timeout", "1"])
        cls.silent = socket.socket()
        cls.silent.bind(("127.0.0.1", 0))
        cls.silent.listen(0)
        cls.fillers = []
        for _ in range(3):  # fill the accept queue; later SYNs are dropped
            c = socket.socket()
            c.setblocking(False)
            try:
                c.connect(cls.silent.getsockname())
            except BlockingIOError:
                pass
            cls.fillers.append(c)

    @classmethod
    def tearDownClass(cls):
        for c in cls.fillers:
            c.close()
        cls.silent.close()
        cls.weir.stop()

    def test_socks5_connect_timeout(self):
        """--connect-timeout ends the wait: 05 04 (host unreachable), then EOF."""
        log_mark = self.weir.mark()
        s = connect(self.weir.port("socks"))
        self.addCleanup(s.close)
        s.sendall(s5_greeting(0) + s5_request("127.0.0.1", self.silent.getsockname()[1]))
        self.assertEqual(recv_exact(s, 2), bytes.fromhex("05 00"))
        self.assertEqual(recv_exact(s, 10), bytes.fromhex("05 04 00 01 00000000 0000"))
        harness.assert_eof(self, s)
        fields = self.weir.sessions(since=log_mark, client="127.0.0.1:%d" % s.getsockname()[1])[0]
        self.assertEqual(fields.get("result"), "connect-failed:connect-timed-out")

    def test_socks4_connect_timeout(self):
        """SOCKS4 gets 00 5B after --connect-timeout."""
        s = connect(self.weir.port("socks"))
        self.addCleanup(s.close)
        s.sendall(s4_request("127.0.0.1", self.silent.getsockname()[1]))
        self.assertEqual(recv_exact(s, 8)[:2], bytes.fromhex("00 5b"))
        harness.assert_eof(self, s)


class Ipv6(unittest.TestCase):
    def test_ipv6_listener_and_target(self):
        """An [::1] listener logs [::1]:port; ATYP 04 target; BND is the IPv6 local address."""
        echo6 = harness.EchoTarget(family=socket.AF_INET6, host="::1")
        self.addCleanup(echo6.stop)
        weir = harness.Weir(["socks5://[::1]:0?auth=none"])
        self.addCleanup(weir.stop)
        self.assertEqual(weir.listeners[0][:2], ("socks5", "[::1]"))
        s = socket.create_connection(("::1", weir.port("socks5")), timeout=harness.TIMEOUT)
        self.addCleanup(s.close)
        s.sendall(s5_greeting(0) + s5_request("::1", echo6.port) + PAYLOAD)
        self.assertEqual(recv_exact(s, 2), bytes.fromhex("05 00"))
        rep, atyp, addr, port = read_s5_reply(s)
        self.assertEqual((rep, atyp, addr), (0, 4, socket.inet_pton(socket.AF_INET6, "::1")))
        self.assertNotEqual(port, 0)
        self.assertEqual(recv_exact(s, len(PAYLOAD)), PAYLOAD)
        s.shutdown(socket.SHUT_WR)
        harness.assert_eof(self, s)


if __name__ == "__main__":
    unittest.main(verbosity=2)
