"""BIND (SOCKS5 and SOCKS4) with hand-made bytes: both replies byte by byte, data
both ways, a connection from the wrong peer refused, the wait's timeout, the
client leaving while it waits."""

import re
import socket
import unittest

import harness
from harness import connect, recv_exact, s4_request, s5_greeting, s5_request

BIND = 2


def setUpModule():
    global WEIR
    WEIR = harness.Weir(("socks://127.0.0.1:0",), extra=["--bind-timeout", "3"])


def tearDownModule():
    WEIR.stop()


def peer_from(source, port):
    """A connection to weir's BIND port from `source` (a loopback address)."""
    s = socket.socket()
    try:
        s.settimeout(harness.TIMEOUT)
        s.bind((source, 0))
        s.connect(("127.0.0.1", port))
    except OSError:
        s.close()
        raise
    return s


class Bind(unittest.TestCase):
    def setUp(self):
        self.log_mark = WEIR.mark()

    def open(self):
        s = connect(WEIR.port("socks"))
        self.addCleanup(s.close)
        return s

    def socks5_bind(self, peer="127.0.0.1"):
        """Greeting and BIND; returns (client socket, the port weir listens on)."""
        s = self.open()
        s.sendall(s5_greeting(0) + s5_request(peer, 0, cmd=BIND))
        self.assertEqual(recv_exact(s, 2), bytes.fromhex("05 00"))
        first = recv_exact(s, 10)
        self.assertEqual(first[:8], bytes.fromhex("05 00 00 01 7f 00 00 01"), first.hex(" "))
        port = int.from_bytes(first[8:], "big")
        self.assertNotEqual(port, 0)
        return s, port

    def assert_relays(self, client, peer):
        peer.sendall(b"from the peer")
        self.assertEqual(recv_exact(client, 13), b"from the peer")
        client.sendall(b"from the client")
        self.assertEqual(recv_exact(peer, 15), b"from the client")
        client.shutdown(socket.SHUT_WR)
        harness.assert_eof(self, peer)
        peer.close()
        harness.assert_eof(self, client)

    def test_socks5_bind(self):
        """05 00 00 01 127.0.0.1 PORT, then 05 00 00 01 + the peer's address and port."""
        s, port = self.socks5_bind()
        peer = peer_from("127.0.0.1", port)
        self.addCleanup(peer.close)
        second = recv_exact(s, 10)
        self.assertEqual(second, bytes.fromhex("05 00 00 01 7f 00 00 01")
                         + peer.getsockname()[1].to_bytes(2, "big"))
        self.assert_relays(s, peer)
        WEIR.sessions(since=self.log_mark, proto="socks5", target="127.0.0.1:0",
                      result="succeeded", up="15", down="13")

    def test_socks4_bind(self):
        """00 5A PORT 127.0.0.1, then 00 5A + the peer's port and address."""
        s = self.open()
        s.sendall(s4_request("127.0.0.1", 0, cmd=BIND))
        first = recv_exact(s, 8)
        self.assertEqual(first[:2], bytes.fromhex("00 5a"), first.hex(" "))
        self.assertEqual(first[4:], bytes([127, 0, 0, 1]))
        peer = peer_from("127.0.0.1", int.from_bytes(first[2:4], "big"))
        self.addCleanup(peer.close)
        second = recv_exact(s, 8)
        self.assertEqual(second, bytes.fromhex("00 5a") + peer.getsockname()[1].to_bytes(2, "big")
                         + bytes([127, 0, 0, 1]))
        self.assert_relays(s, peer)
        WEIR.sessions(since=self.log_mark, proto="socks4", result="succeeded")

    def test_wrong_peer_refused(self):
        """A connection from another address is closed and logged; the expected peer
        still gets through afterwards."""
        s, port = self.socks5_bind("127.0.0.1")
        intruder = peer_from("127.0.0.2", port)
        self.addCleanup(intruder.close)
        try:
            self.assertEqual(intruder.recv(1), b"")
        except ConnectionResetError:
            pass
        WEIR.wait_for_lines(re.compile(
            r"refused client=127\.0\.0\.1:\d+ target=127\.0\.0\.1:0: BIND connection from "
            r"127\.0\.0\.2:\d+, not the expected peer"))
        peer = peer_from("127.0.0.1", port)
        self.addCleanup(peer.close)
        self.assertEqual(recv_exact(s, 10)[:8], bytes.fromhex("05 00 00 01 7f 00 00 01"))
        self.assert_relays(s, peer)

    def test_wait_times_out(self):
        """No peer within --bind-timeout: a second reply 05 04, then the close."""
        s, port = self.socks5_bind()
        self.assertEqual(recv_exact(s, 10), bytes.fromhex("05 04 00 01 00 00 00 00 00 00"))
        harness.assert_eof(self, s)
        WEIR.sessions(since=self.log_mark, result="bind-failed:connection-timed-out")
        with self.assertRaises(ConnectionRefusedError):
            peer_from("127.0.0.1", port)

    def test_client_leaving_ends_the_wait(self):
        """The client closing its connection during the wait closes the listening port."""
        s, port = self.socks5_bind()
        s.close()
        WEIR.sessions(since=self.log_mark, result="client-closed")
        with self.assertRaises(ConnectionRefusedError):
            peer_from("127.0.0.1", port)


if __name__ == "__main__":
    unittest.main()
