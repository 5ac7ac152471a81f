"""Hostile and broken clients: garbage, truncated and oversize messages, a
client that trickles one byte a second, 2,000 concurrent connections, resets
mid-transfer. Afterwards a fresh CONNECT still works and weir's open file
count is back where it started."""

import collections
import os
import random
import resource
import selectors
import socket
import struct
import threading
import time
import unittest

import harness
from harness import connect, recv_exact, s4_request, s5_credentials, s5_greeting, s5_request

CONCURRENT = 2000
USER, PASSWORD = "alice", "robustness-password"

# weir's refusals, byte for byte (BND = 0.0.0.0:0)
SOCKS4_REJECTED = bytes.fromhex("00 5b 0000 00000000")
SOCKS5_NO_ACCEPTABLE_METHOD = bytes.fromhex("05 ff")
SOCKS5_GENERAL_FAILURE = bytes.fromhex("05 01 00 01 00000000 0000")


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
    # socks:// asks for no password; socks5:// (for cut-short credentials) does.
    WEIR = harness.Weir(["socks://127.0.0.1:0", "socks5://127.0.0.1:0"],
                        users={USER: PASSWORD},
                        extra=["--handshake-timeout", "3", "--max-sessions-per-client", "4096"])


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


def client_of(s):
    """How weir's session lines name the client of this socket."""
    return "%s:%d" % s.getsockname()[:2]


def sessions_of(clients, since):
    """The session lines logged after line `since` for these clients (from
    client_of, one per connection), in the order given; other sessions (a
    previous test's, still being logged) are left out."""
    by_client = {client: WEIR.sessions(since=since, client=client, count=n)
                 for client, n in collections.Counter(clients).items()}
    return [by_client[client].pop(0) for client in clients]


def random_byte_except(*excluded):
    return random.choice([b for b in range(256) if b not in excluded])


def garbage(first, offer_no_auth):
    """`first`, then 300 random bytes, but for the few that decide where weir's
    parse stops; returns (message, weir's reply). Left random, a 04 could be
    followed by a real CONNECT to a random address.

    04: the command is neither 01 (CONNECT) nor 02 (BIND): the SOCKS4 rejection.
    05: unless `offer_no_auth`, none of the methods offered (NMETHODS may be 0)
    is 00 (no authentication): 05 FF. With it, one of them is 00, which weir
    picks (05 00), and the request that follows the greeting has a version
    other than 05: general failure.
    Any other first byte: no reply at all."""
    rest = bytearray(os.urandom(300))
    if first == 4:
        rest[0] = random_byte_except(1, 2)
        return bytes([first]) + rest, SOCKS4_REJECTED
    if first == 5:
        if offer_no_auth:
            rest[0] = max(rest[0], 1)
        methods = range(1, 1 + rest[0])
        for i in methods:
            rest[i] = random_byte_except(0)
        if not offer_no_auth:
            return bytes([first]) + rest, SOCKS5_NO_ACCEPTABLE_METHOD
        rest[random.choice(methods)] = 0
        rest[methods.stop] = random_byte_except(5)  # the request's VER
        return bytes([first]) + rest, bytes.fromhex("05 00") + SOCKS5_GENERAL_FAILURE
    return bytes([first]) + rest, b""


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
        """Random bytes, any first byte: weir closes the connection and lives on.
        Before closing it replies what the first bytes call for (see garbage()):
        nothing unless they begin SOCKS4 or SOCKS5, else exactly its refusal."""
        for i in range(50):
            data, reply = garbage(i % 7 + 1, offer_no_auth=i % 2 == 0)
            with self.subTest(data=data.hex()):
                s = connect(WEIR.port("socks"))
                s.sendall(data)
                self.assertEqual(recv_exact(s, len(reply)), reply)
                harness.assert_eof(self, s)
                s.close()

    def test_truncated_messages(self):
        """Greetings, credentials and requests cut short, then closed: weir
        answers each message that arrived whole (05 00, or 05 02 and 01 00 with
        a password), nothing else, and closes too; the session ends client-closed.

        The client closes only its sending side (shutdown), to read all of it."""
        no_auth = s5_greeting(0)
        password = s5_greeting(2)
        credentials = s5_credentials(USER, PASSWORD)
        request = s5_request("example.invalid", 80)
        s4 = s4_request("127.0.0.1", 80)

        def replies_so_far(messages, replies, cut):
            """The replies to the messages complete within the first `cut` bytes."""
            out, end = b"", 0
            for message, reply in zip(messages, replies):
                end += len(message)
                if end <= cut:
                    out += reply
            return out

        cases = []  # (scheme, bytes sent, weir's reply)
        for messages, replies, scheme in (
                ((no_auth, request), (bytes.fromhex("05 00"), None), "socks"),
                ((password, credentials, request),
                 (bytes.fromhex("05 02"), bytes.fromhex("01 00"), None), "socks5"),
                ((s4,), (None,), "socks")):
            wire = b"".join(messages)
            for cut in range(1, len(wire)):
                cases.append((scheme, wire[:cut], replies_so_far(messages, replies, cut)))

        mark = WEIR.mark()
        clients = []
        for scheme, sent, reply in cases:
            with self.subTest(scheme=scheme, sent=sent.hex(" ")):
                s = connect(WEIR.port(scheme))
                clients.append(client_of(s))
                s.sendall(sent)
                s.shutdown(socket.SHUT_WR)
                self.assertEqual(recv_exact(s, len(reply)), reply)
                harness.assert_eof(self, s)
                s.close()
        ends = [f["result"] for f in sessions_of(clients, mark)]
        self.assertEqual(ends, ["client-closed"] * len(cases))

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
        """Clients that reset (RST) while data flows both ways: each is connected
        (05 00, then a success reply), gets the first 1,000 bytes of its 20,000
        echoed, and resets; weir ends every session on the reset
        (end=error:connection-reset-by-peer)."""
        mark = WEIR.mark()
        clients = []
        for _ in range(50):
            s = connect(WEIR.port("socks"))
            clients.append(client_of(s))
            payload = os.urandom(20000)
            s.sendall(s5_greeting(0) + s5_request("127.0.0.1", ECHO.port) + payload)
            self.assertEqual(recv_exact(s, 2), bytes.fromhex("05 00"))
            reply = recv_exact(s, 10)
            self.assertEqual(reply[:8], bytes.fromhex("05 00 00 01 7f000001"), reply.hex(" "))
            self.assertEqual(recv_exact(s, 1000), payload[:1000])
            rst_close(s)
        ends = [(f["result"], f.get("end")) for f in sessions_of(clients, mark)]
        self.assertEqual(ends, [("succeeded", "error:connection-reset-by-peer")] * 50)


if __name__ == "__main__":
    unittest.main(verbosity=2)
