"""Hostile and broken clients: garbage, truncated and oversize messages, a
client that trickles one byte a second, 2,000 concurrent connections, resets
mid-transfer. Afterwards a fresh CONNECT still works and weir's open file
count is back where it started."""

import os
import resource
import selectors
import socket
import struct
import threading
import time
import unittest

import harness
from harness import connect, recv_exact, s4_request, s5_greeting, s5_request

CONCURRENT = 2000


class SelectEcho:
    """An echo server for thousands of connections in one thread (selectors)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4096)
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.sock, selectors.EVENT_READ)
        self.stopping = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stopping:
            for key, _ in self.sel.select(0.1):
                if key.fileobj is self.sock:
                    try:
                        conn, _ = self.sock.accept()
                    except BlockingIOError:
                        continue
                    conn.setblocking(False)
                    self.sel.register(conn, selectors.EVENT_READ)
                    continue
                conn = key.fileobj
                try:
                    data = conn.recv(65536)
                except (BlockingIOError, ConnectionResetError):
                    data = b"" if not isinstance(data, bytes) else data
                    continue
                if data:
                    try:
                        conn.sendall(data)  # small echoes: the buffer takes them
                    except OSError:
                        pass
                else:
                    self.sel.unregister(conn)
                    conn.close()

    def stop(self):
        self.stopping = True
        self.thread.join(5)
        for key in list(self.sel.get_map().values()):
            key.fileobj.close()


def setUpModule():
    global ECHO, WEIR
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    ECHO = SelectEcho()
    WEIR = harness.Weir(["socks://127.0.0.1:0"], extra=["--handshake-timeout", "3",
                                                     "--max-sessions-per-client", "4096"])


def tearDownModule():
    WEIR.stop()
    ECHO.stop()


# The splice relay keeps a few spare pipes per I/O thread (a bounded pool, at
# most 16 pipes a thread): pipes may stay open, nothing else may.
PIPE_FD_BOUND = 2 * 16 * (os.cpu_count() or 1)


def fd_table():
    pid = WEIR.proc.pid
    table = {}
    for f in os.listdir(f"/proc/{pid}/fd"):
        try:
            table[f] = os.readlink(f"/proc/{pid}/fd/{f}")
        except FileNotFoundError:  # closed between the listing and the look
            pass
    return table


def open_fds():
    """Descriptors that must come back to the baseline: everything but pooled pipes."""
    return sum(1 for link in fd_table().values() if not link.startswith("pipe:"))


def fresh_connect_works(test):
    s = connect(WEIR.port("socks"))
    s.sendall(s5_greeting(0) + s5_request("127.0.0.1", ECHO.port) + b"still-alive")
    test.assertEqual(recv_exact(s, 2), bytes.fromhex("05 00"))
    test.assertEqual(recv_exact(s, 10)[:2], bytes.fromhex("05 00"))
    test.assertEqual(recv_exact(s, 11), b"still-alive")
    s.close()


def rst_close(s):
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


class Robustness(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        fresh_connect_works(cls())  # warm up: pools, threads
        cls.baseline = None

    def setUp(self):
        self.baseline = self.wait_fds_settle()

    def tearDown(self):
        fresh_connect_works(self)
        after = self.wait_fds_settle(target=self.baseline)
        fds = fd_table()
        self.assertLessEqual(after, self.baseline,
                             f"weir holds descriptors it should have closed: {fds}")
        pipes = sum(1 for link in fds.values() if link.startswith("pipe:"))
        self.assertLessEqual(pipes, PIPE_FD_BOUND + 1, f"pipes beyond the pool's bound: {fds}")

    def wait_fds_settle(self, target=None, timeout=10):
        """Open fd count once sessions have wound down (bounded wait)."""
        deadline = time.monotonic() + timeout
        count = open_fds()
        while time.monotonic() < deadline:
            if target is not None and count <= target:
                return count
            time.sleep(0.1)
            now = open_fds()
            if target is None and now == count:
                return count
            count = now
        return count

    def test_garbage(self):
        """Random bytes, any first byte: weir closes the connection and lives on."""
        for i in range(50):
            s = connect(WEIR.port("socks"))
            s.sendall(bytes([i % 7 + 1]) + os.urandom(300))
            try:
                s.recv(1024)
            except ConnectionResetError:
                pass
            s.close()

    def test_truncated_messages(self):
        """Greetings, credentials and requests cut short, then closed."""
        wire = s5_greeting(0) + s5_request("example.invalid", 80)
        for cut in range(1, len(wire)):
            s = connect(WEIR.port("socks"))
            s.sendall(wire[:cut])
            s.close()
        for cut in range(1, 9):
            s = connect(WEIR.port("socks"))
            s.sendall(s4_request("127.0.0.1", 80)[:cut])
            s.close()

    def test_oversize_socks4_userid(self):
        """A SOCKS4 USERID with no end is cut off at the cap: 00 5B, then EOF."""
        s = connect(WEIR.port("socks"))
        s.sendall(bytes.fromhex("04 01 0050 7f000001") + b"A" * 10000)
        self.assertEqual(recv_exact(s, 8)[:2], bytes.fromhex("00 5b"))
        harness.assert_eof(self, s)
        s.close()

    def test_one_byte_per_second(self):
        """A client trickling its greeting is cut off by the handshake timeout (3 s),
        however often it sends."""
        s = connect(WEIR.port("socks"))
        start = time.monotonic()
        wire = s5_greeting(0) + s5_request("127.0.0.1", ECHO.port)
        closed = False
        for b in wire:
            try:
                s.sendall(bytes([b]))
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            time.sleep(1)
            if time.monotonic() - start > 8:
                break
        if not closed:
            s.settimeout(10)
            harness.assert_eof(self, s)
        self.assertLess(time.monotonic() - start, 10)
        s.close()
        WEIR.sessions(result="handshake-timeout")

    def test_2000_concurrent_connections(self):
        """2,000 clients at once, each CONNECTs and echoes a byte; then all leave."""
        socks = []
        for i in range(CONCURRENT):
            s = socket.create_connection(("127.0.0.1", WEIR.port("socks")), timeout=30)
            s.sendall(s5_greeting(0) + s5_request("127.0.0.1", ECHO.port) + bytes([i % 256]))
            socks.append(s)
        for i, s in enumerate(socks):
            self.assertEqual(recv_exact(s, 2), bytes.fromhex("05 00"))
            self.assertEqual(recv_exact(s, 10)[:2], bytes.fromhex("05 00"), f"client {i}")
            self.assertEqual(recv_exact(s, 1), bytes([i % 256]))
        for s in socks:
            s.close()

    def test_resets_mid_transfer(self):
        """Clients that reset (RST) while data flows both ways."""
        for _ in range(50):
            s = connect(WEIR.port("socks"))
            s.sendall(s5_greeting(0) + s5_request("127.0.0.1", ECHO.port) + os.urandom(20000))
            recv_exact(s, 12)
            recv_exact(s, 1000)
            rst_close(s)


if __name__ == "__main__":
    unittest.main(verbosity=2)
