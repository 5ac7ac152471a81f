"""The relay seen from raw sockets: half-close both ways, concurrent transfer, byte counts."""

import os
import queue
import socket
import threading
import unittest

import harness
from harness import (connect, recv_all, recv_exact, s5_credentials, s5_greeting,
                     s5_request)

USERS = {"alice": "relay-password"}
MB = 1024 * 1024


class ExchangeTarget(harness.TcpTarget):
    """Sends `blob` then shuts down its write side, while reading the client to EOF.

    What each connection received is put on `received`.
    """

    def __init__(self, blob):
        self.blob = blob
        self.received = queue.Queue()
        super().__init__(self._exchange)

    def _exchange(self, conn):
        def send():
            conn.sendall(self.blob)
            conn.shutdown(socket.SHUT_WR)

        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        self.received.put(recv_all(conn))
        sender.join(harness.TIMEOUT)

    def take_received(self):
        return self.received.get(timeout=harness.TIMEOUT)


def setUpModule():
    global ECHO, WEIR
    ECHO = harness.EchoTarget()
    WEIR = harness.Weir(["socks://127.0.0.1:0", "socks5://127.0.0.1:0"], users=USERS)


def tearDownModule():
    WEIR.stop()
    ECHO.stop()


class RelayTest(unittest.TestCase):
    def setUp(self):
        self.log_mark = WEIR.mark()  # this test's sessions are logged after it

    def open(self, port, user=None):
        """A SOCKS5 tunnel to 127.0.0.1:port through weir, handshake checked."""
        scheme = "socks" if user is None else "socks5"
        s = connect(WEIR.port(scheme))
        self.addCleanup(s.close)
        if user is None:
            s.sendall(s5_greeting(0))
            self.assertEqual(recv_exact(s, 2), bytes.fromhex("05 00"))
        else:
            s.sendall(s5_greeting(2) + s5_credentials(user, USERS[user]))
            self.assertEqual(recv_exact(s, 4), bytes.fromhex("05 02 01 00"))
        s.sendall(s5_request("127.0.0.1", port))
        self.assertEqual(recv_exact(s, 10)[:4], bytes.fromhex("05 00 00 01"))
        return s

    def session(self, s, **fields):
        return WEIR.sessions(since=self.log_mark, client="127.0.0.1:%d" % s.getsockname()[1],
                             **fields)[0]

    def send_in_background(self, s, data, shut_wr=True):
        def send():
            s.sendall(data)
            if shut_wr:
                s.shutdown(socket.SHUT_WR)

        t = threading.Thread(target=send, daemon=True)
        t.start()
        self.addCleanup(t.join, harness.TIMEOUT)
        return t

    def test_client_half_closes_first(self):
        """Client sends then shuts down its write side: the full echo arrives, then EOF."""
        data = os.urandom(256 * 1024)
        s = self.open(ECHO.port)
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        echoed = recv_all(s)
        self.assertEqual(len(echoed), len(data))
        self.assertEqual(harness.sha256(echoed), harness.sha256(data))

    def test_target_half_closes_first(self):
        """Target sends and closes its write side first; the client's later bytes still arrive."""
        greeting = b"target says hello and stops talking\n"
        target = ExchangeTarget(greeting)
        self.addCleanup(target.stop)
        s = self.open(target.port)
        self.assertEqual(recv_all(s), greeting)  # EOF from the target reached us
        late = os.urandom(256 * 1024)
        s.sendall(late)  # ...yet our direction stays open
        s.shutdown(socket.SHUT_WR)
        self.assertEqual(harness.sha256(target.take_received()), harness.sha256(late))
        fields = self.session(s)
        self.assertEqual((fields["up"], fields["down"]), (str(len(late)), str(len(greeting))))

    def test_concurrent_echo_1mb(self):
        """1 MB sent while the echo is read at the same time comes back intact."""
        data = os.urandom(MB)
        s = self.open(ECHO.port)
        self.send_in_background(s, data)
        echoed = recv_all(s)
        self.assertEqual(harness.sha256(echoed), harness.sha256(data))

    def test_bidirectional_1mb(self):
        """1 MB each way at the same time, independent streams, sha256 checked on both ends."""
        down = os.urandom(MB)
        up = os.urandom(MB)
        target = ExchangeTarget(down)
        self.addCleanup(target.stop)
        s = self.open(target.port)
        self.send_in_background(s, up)
        self.assertEqual(harness.sha256(recv_all(s)), harness.sha256(down))
        self.assertEqual(harness.sha256(target.take_received()), harness.sha256(up))

    def test_session_log_line(self):
        """The session line names user, target, proto, result, the relay that ran, and exact
        up/down counts."""
        down = os.urandom(4321)
        up = os.urandom(1234)
        target = ExchangeTarget(down)
        self.addCleanup(target.stop)
        s = self.open(target.port, user="alice")
        s.sendall(up)
        s.shutdown(socket.SHUT_WR)
        self.assertEqual(recv_all(s), down)
        self.assertEqual(target.take_received(), up)
        fields = self.session(s)
        expected = {"proto": "socks5", "user": "alice", "result": "succeeded",
                    "target": f"127.0.0.1:{target.port}", "up": "1234", "down": "4321",
                    "end": "eof", "relay": harness.relay_mode()}
        self.assertEqual({k: fields.get(k) for k in expected}, expected)
        self.assertIn(f":{WEIR.port('socks5')}", fields.get("listener", ""))
        self.assertIn("duration", fields)

    def test_many_sequential_sessions(self):
        """Twenty short sessions in a row each echo exactly (no state leaks between them)."""
        for i in range(20):
            s = self.open(ECHO.port)
            msg = b"session %d\n" % i
            s.sendall(msg)
            s.shutdown(socket.SHUT_WR)
            self.assertEqual(recv_all(s), msg)
            s.close()

    def test_parallel_sessions(self):
        """Sixteen sessions at once, 256 KB each, echo exactly (sessions do not mix)."""
        clients = [(self.open(ECHO.port), os.urandom(256 * 1024)) for _ in range(16)]
        results = [None] * len(clients)

        def run(i, s, data):
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
            results[i] = recv_all(s)

        threads = [threading.Thread(target=run, args=(i, s, d), daemon=True)
                   for i, (s, d) in enumerate(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(harness.TIMEOUT * 3)
        for (s, data), echoed in zip(clients, results):
            self.assertIsNotNone(echoed, "a session did not finish")
            self.assertEqual(harness.sha256(echoed), harness.sha256(data))


class IdleTimeout(unittest.TestCase):
    def test_idle_session_is_closed(self):
        """With --idle-timeout 1, a relayed session with no traffic is closed by weir."""
        weir = harness.Weir(["socks://127.0.0.1:0"], extra=["--idle-timeout", "1"])
        self.addCleanup(weir.stop)
        s = connect(weir.port("socks"))
        self.addCleanup(s.close)
        s.sendall(s5_greeting(0) + s5_request("127.0.0.1", ECHO.port) + b"x")
        self.assertEqual(recv_exact(s, 12)[:4], bytes.fromhex("05 00 05 00"))
        self.assertEqual(recv_exact(s, 1), b"x")
        harness.assert_eof(self, s)  # socket timeout is 10 s, weir's is 1 s


if __name__ == "__main__":
    unittest.main(verbosity=2)
