"""Scale-out behind HAProxy: examples/haproxy.cfg in front of two weir
instances with ?proxy_protocol=true (send-proxy-v2, roundrobin). curl fetches
through HAProxy from 127.0.0.3 (HAProxy's own source is 127.0.0.1): every
fetch is whole, both instances relay, each logs the client as 127.0.0.3, and
each one's rule (allow from 127.0.0.3, deny the rest) decides by it.

The pieces are helpers (start or signal one instance, a paced transfer that
takes as long as the test wants) so that a test can act on one instance while
transfers run through both.
"""

import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import unittest

import harness

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLE_CFG = os.path.join(HERE, "..", "..", "examples", "haproxy.cfg")
CLIENT = "127.0.0.3"  # curl's source: not HAProxy's 127.0.0.1
RULES = ["--rule", f"allow from {CLIENT}", "--rule", "deny"]
FETCHES = 6


def free_port():
    return harness.closed_port()


def listening(port):
    """Whether something listens on 127.0.0.1:port (read from /proc: no connection
    is made, so no session is started through HAProxy)."""
    want = f"0100007F:{port:04X}"
    with open("/proc/net/tcp") as f:
        return any(line.split()[1] == want and line.split()[3] == "0A"
                   for line in f.readlines()[1:])


class Haproxy:
    """haproxy -db (foreground) with the example's config copied to a temp dir,
    its addresses from the environment; stopped by PID."""

    def __init__(self, backend_ports):
        self.tmp = harness.TempDir()
        self.cfg = os.path.join(self.tmp.path, "haproxy.cfg")
        shutil.copyfile(EXAMPLE_CFG, self.cfg)
        self.port = free_port()
        env = dict(os.environ, LB_ADDR="127.0.0.1", LB_PORT=str(self.port),
                   WEIR1=f"127.0.0.1:{backend_ports[0]}", WEIR2=f"127.0.0.1:{backend_ports[1]}")
        self.log_path = os.path.join(self.tmp.path, "haproxy.log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen([harness.require_tool("haproxy"), "-db", "-f", self.cfg],
                                     env=env, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + harness.TIMEOUT
        while not listening(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"haproxy did not listen on {self.port}:\n{self.output()}")
            time.sleep(0.05)

    def output(self):
        with open(self.log_path) as f:
            return f.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            self.proc.wait(harness.TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(harness.TIMEOUT)
        self.log.close()
        self.tmp.cleanup()


def start_weir(port=0):
    """One instance: SOCKS5 without a password on loopback, PROXY protocol, the rules."""
    return harness.Weir([f"socks5://127.0.0.1:{port}?proxy_protocol=true&auth=none"],
                        extra=[*RULES, "--drain-timeout", "30s"])


def signal_weir(weir, signum):
    """Sends `signum` to one instance, by its PID (SIGTERM: it drains and exits)."""
    os.kill(weir.proc.pid, signum)


def curl_args(path, source=CLIENT):
    args = [harness.require_tool("curl"), "-sS", "--fail", "--max-time", "60",
            "-x", f"socks5h://127.0.0.1:{HAPROXY.port}", "-o", "-"]
    if source is not None:
        args += ["--interface", source]
    return args + [HTTP.url(path)]


def fetch(path="/file", source=CLIENT):
    return harness.run_tool(curl_args(path, source))


class SlowTransfer:
    """Echo traffic through HAProxy from 127.0.0.3, paced by the test itself
    (`chunks` of `size` bytes, `interval` seconds apart), running while the
    caller acts; finish() waits and says whether every byte came back."""

    def __init__(self, chunks=20, size=16 * 1024, interval=0.1):
        self.sent = hashlib.sha256()
        self.received = hashlib.sha256()
        self.count = 0
        self.error = None
        self.sock = socket.create_connection(("127.0.0.1", HAPROXY.port), timeout=harness.TIMEOUT,
                                             source_address=(CLIENT, 0))
        self.sock.sendall(harness.s5_greeting(0) + harness.s5_request("127.0.0.1", ECHO.port))
        if harness.recv_exact(self.sock, 2) != bytes.fromhex("05 00"):
            raise AssertionError("no method chosen")
        rep, *_ = harness.read_s5_reply(self.sock)
        if rep != 0:
            raise AssertionError(f"CONNECT refused with {rep:#04x}")
        self.chunks, self.size, self.interval = chunks, size, interval
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._writer = threading.Thread(target=self._write, daemon=True)
        self._reader.start()
        self._writer.start()

    def _write(self):
        try:
            for _ in range(self.chunks):
                data = os.urandom(self.size)
                self.sent.update(data)
                self.sock.sendall(data)
                time.sleep(self.interval)
            self.sock.shutdown(socket.SHUT_WR)
        except OSError as e:
            self.error = e

    def _read(self):
        try:
            while chunk := self.sock.recv(65536):
                self.received.update(chunk)
                self.count += len(chunk)
        except OSError as e:
            self.error = e

    def finish(self):
        """True when every byte sent came back, in order, then EOF."""
        deadline = harness.TIMEOUT + self.chunks * self.interval
        self._writer.join(deadline)
        self._reader.join(deadline)
        self.sock.close()
        return (self.error is None and self.count == self.chunks * self.size and
                self.sent.digest() == self.received.digest())


def setUpModule():
    global HTTP, ECHO, WEIRS, HAPROXY
    HTTP = harness.HttpTarget()
    ECHO = harness.EchoTarget()
    WEIRS = [start_weir(), start_weir()]
    HAPROXY = Haproxy([w.port("socks5") for w in WEIRS])


def tearDownModule():
    HAPROXY.stop()
    for w in WEIRS:
        w.stop()
    ECHO.stop()
    HTTP.stop()


class Balanced(unittest.TestCase):
    def setUp(self):
        self.marks = [w.mark() for w in WEIRS]

    def sessions_of(self, i, **match):
        """The session lines instance i logged in this test (no wait)."""
        w = WEIRS[i]
        with w._cond:
            lines = [l for l in w.lines[self.marks[i]:] if l is not None]
        found = []
        for line in lines:
            m = harness.SESSION_RE.search(line)
            if not m:
                continue
            fields = dict(kv.split("=", 1) for kv in m.group(1).split() if "=" in kv)
            if all(fields.get(k) == v for k, v in match.items()):
                found.append(fields)
        return found

    def wait_for_sessions(self, count, **match):
        deadline = time.monotonic() + harness.TIMEOUT
        while sum(len(self.sessions_of(i, **match)) for i in range(2)) < count:
            if time.monotonic() > deadline:
                self.fail(f"fewer than {count} sessions with {match}:\n" +
                          "\n---\n".join(w.text() for w in WEIRS))
            time.sleep(0.05)

    def test_fetches_spread_over_both_with_the_client_address(self):
        for n in range(FETCHES):
            r = fetch()
            self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace"))
            self.assertEqual(harness.sha256(r.stdout), HTTP.sha256, f"fetch {n}")
        self.wait_for_sessions(FETCHES, result="succeeded")
        for i in range(2):
            done = self.sessions_of(i, result="succeeded")
            self.assertGreaterEqual(len(done), 1, f"instance {i} relayed nothing")
            for s in done:
                self.assertRegex(s["client"], rf"^{re.escape(CLIENT)}:\d+$")
                self.assertEqual(s["listener"], f"socks5://127.0.0.1:{WEIRS[i].port('socks5')}")
                self.assertEqual(s["target"], f"127.0.0.1:{HTTP.port}")
                self.assertGreater(int(s["down"]), len(HTTP.body))

    def test_rule_on_each_instance_denies_other_clients(self):
        """From 127.0.0.1 (HAProxy's own address): refused by each instance's
        `deny`, whichever HAProxy picks."""
        refused = re.compile(rf"refused client=127\.0\.0\.1:\d+ target=127\.0\.0\.1:{HTTP.port} "
                             r"by rule 2 'deny'")

        def refusals(i):
            with WEIRS[i]._cond:
                return [l for l in WEIRS[i].lines[self.marks[i]:] if l and refused.search(l)]

        for _ in range(8):  # roundrobin: two fetches should do, more in case
            r = fetch("/small", source="127.0.0.1")
            self.assertNotEqual(r.returncode, 0)
            self.assertEqual(r.stdout, b"")
            if all(refusals(i) for i in range(2)):
                break
        for i, w in enumerate(WEIRS):
            w.wait_for_lines(refused, start=self.marks[i])
        self.assertEqual([self.sessions_of(i, result="succeeded") for i in range(2)], [[], []])

    def test_slow_transfers_run_while_others_fetch(self):
        """Two paced transfers (one per instance, roundrobin) and fetches
        beside them: all whole; the transfers' sessions name 127.0.0.3."""
        slow = [SlowTransfer(), SlowTransfer()]
        for _ in range(2):
            r = fetch("/small")
            self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace"))
            self.assertEqual(r.stdout, harness.HttpTarget.SMALL)
        for t in slow:
            self.assertTrue(t.finish(), f"a slow transfer lost bytes: {t.error}")
        self.wait_for_sessions(2, result="succeeded", target=f"127.0.0.1:{ECHO.port}",
                               up=str(20 * 16 * 1024))
        for i in range(2):
            for s in self.sessions_of(i, target=f"127.0.0.1:{ECHO.port}"):
                self.assertRegex(s["client"], rf"^{re.escape(CLIENT)}:\d+$")


class Drained(unittest.TestCase):
    """Last (it stops one instance): a drain behind the balancer."""

    def test_drained_instance_finishes_while_the_other_takes_new_clients(self):
        """SIGTERM to one instance mid-transfer: its transfer completes whole,
        HAProxy sends every new client to the other instance, and the drained
        one exits 0 once its session ended."""
        slow = [SlowTransfer(chunks=30), SlowTransfer(chunks=30)]  # one on each (roundrobin)
        drained, other = WEIRS
        mark = drained.mark()
        other_mark = other.mark()
        signal_weir(drained, signal.SIGTERM)
        drained.wait_for_lines(re.compile(r"drain: stopped accepting; 1 session"), start=mark)
        for _ in range(4):
            r = fetch("/small")
            self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace"))
            self.assertEqual(r.stdout, harness.HttpTarget.SMALL)
        for t in slow:
            self.assertTrue(t.finish(), f"a transfer lost bytes in the drain: {t.error}")
        self.assertEqual(drained.proc.wait(harness.TIMEOUT), 0, drained.text())
        ended = drained.sessions(since=mark)
        self.assertEqual((ended[0]["end"], ended[0]["up"]), ("eof", str(30 * 16 * 1024)))
        drained.wait_for_lines(re.compile("drain: every session ended"), start=mark)
        fetched = other.sessions(since=other_mark, count=4, target=f"127.0.0.1:{HTTP.port}")
        self.assertEqual(len(fetched), 4)


if __name__ == "__main__":
    unittest.main(verbosity=2)
