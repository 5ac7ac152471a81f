"""Shared pieces of weir's integration tests.

Everything listens on loopback only. A test starts a real weir process with
`Weir(...)`, the local targets it needs (`HttpTarget`, `EchoTarget`), and
talks to them through weir with real clients or raw sockets.

Environment:
  WEIR_BIN         path of the weir executable (required)
  WEIR_TEST_RELAY  splice | copy (default splice), passed as --relay
"""

import hashlib
import http.server
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

TIMEOUT = 10.0  # seconds; every wait in the suite is bounded by this

LISTENING_RE = re.compile(r"listening on (socks4|socks5|socks)://(.+):(\d+)")
SESSION_RE = re.compile(r"\bsession (.*)$")


def weir_bin():
    path = os.environ.get("WEIR_BIN")
    if not path:
        raise unittest.SkipTest("WEIR_BIN is not set")
    return path


def relay_mode():
    return os.environ.get("WEIR_TEST_RELAY", "splice")


def require_tool(name):
    path = shutil.which(name)
    if path is None:
        # `make test` installs every tool: a missing one is a broken setup, not a skip.
        raise AssertionError(f"{name} is not installed (make test-deps installs it)")
    return path


def sha256(data):
    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------
# weir itself


# The listeners most suites run: SOCKS4 only, sniffing, SOCKS5 (with a password).
STANDARD_LISTENS = ("socks4://127.0.0.1:0", "socks://127.0.0.1:0", "socks5://127.0.0.1:0")


class Weir:
    """A running weir process; its stderr is drained into `lines` by a thread."""

    def __init__(self, listens, users_file=None, extra=(), relay=None, prefix=(),
                 expect_listeners=None, users=None, state_dir=None):
        """`users` ({name: password}) writes a users file into a directory of the
        Weir's own, removed by stop(); `prefix` runs weir through another
        command; `expect_listeners` is how many "listening on" lines mean ready
        (default: one per URL in `listens`); `state_dir` is weir's
        STATE_DIRECTORY (default: a directory of the Weir's own, so that each
        gets a new generated credential)."""
        self.tmp = TempDir()
        if users is not None:
            users_file = make_users_file(self.tmp.path, users)
        self.state_dir = state_dir or os.path.join(self.tmp.path, "state")
        self.args = [*prefix, weir_bin()]
        for url in listens:
            self.args += ["--listen", url]
        if users_file is not None:
            self.args += ["--users", str(users_file)]
        self.args += ["--relay", relay or relay_mode(), *extra]
        if "--drain-timeout" not in extra:
            # stop() closes what tests left open at once (test_drain.py tests the wait)
            self.args += ["--drain-timeout", "0"]
        self.lines = []
        self._cond = threading.Condition()
        self.proc = subprocess.Popen(
            self.args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True, errors="replace",
            env={**os.environ, "STATE_DIRECTORY": self.state_dir})
        self._drain = threading.Thread(target=self._read_stderr, daemon=True)
        self._drain.start()
        try:
            expected = len(listens) if expect_listeners is None else expect_listeners
            found = self.wait_for_lines(LISTENING_RE, expected)
        except AssertionError:
            self.stop(check=False)
            raise
        # [(scheme, host, port)] in the order weir logged them
        self.listeners = [(m.group(1), m.group(2), int(m.group(3))) for m in found]

    def _read_stderr(self):
        for line in self.proc.stderr:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self.lines.append(None)  # EOF marker
            self._cond.notify_all()

    def port(self, scheme, index=0):
        """Port of the index-th listener of this scheme (socks4, socks5, socks)."""
        ports = [p for s, _, p in self.listeners if s == scheme]
        return ports[index]

    def text(self):
        """Everything weir wrote to stderr so far."""
        with self._cond:
            return self._text()

    def _text(self):
        return "\n".join(l for l in self.lines if l is not None)

    def wait_for_lines(self, regex, count=1, timeout=TIMEOUT, start=0):
        """Wait until `count` stderr lines (from index `start`) match; return the matches."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [m for m in (regex.search(l) for l in self.lines[start:]
                                     if l is not None) if m]
                if len(found) >= count:
                    return found[:count]
                eof = None in self.lines
                remaining = deadline - time.monotonic()
                if eof or remaining <= 0:
                    raise AssertionError(
                        f"weir did not log {count} line(s) matching {regex.pattern!r} "
                        f"({'exited' if eof else 'timeout'}); args={self.args}\n"
                        f"stderr:\n{self._text()}")
                self._cond.wait(remaining)

    def mark(self):
        """How many lines weir has written so far: sessions(since=mark) skips them.

        A client port is unique only among connections open at once: an earlier
        session, to another listener, may have had the same one.
        """
        with self._cond:
            return len(self.lines)

    def sessions(self, timeout=TIMEOUT, count=1, since=0, **match):
        """Wait for `count` session lines, after the first `since` lines, whose
        key=value fields include `match`.

        Returns a list of dicts, e.g. {'user': 'alice', 'up': '12', ...}.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = []
                for line in self.lines[since:]:
                    m = line and SESSION_RE.search(line)
                    if not m:
                        continue
                    fields = dict(kv.split("=", 1) for kv in m.group(1).split() if "=" in kv)
                    if all(fields.get(k) == v for k, v in match.items()):
                        found.append(fields)
                remaining = deadline - time.monotonic()
                if len(found) >= count or remaining <= 0 or None in self.lines:
                    if len(found) < count:
                        raise AssertionError(
                            f"no session line with {match}; stderr:\n{self._text()}")
                    return found
                self._cond.wait(remaining)

    def stop(self, check=True):
        """SIGTERM (SIGKILL after TIMEOUT); with `check`, exit status must be 0.

        So a weir that crashed or aborted (sanitizers) during a test fails the suite.
        """
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            rc = self.proc.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait(TIMEOUT)
        self._drain.join(TIMEOUT)
        if not self._drain.is_alive():
            self.proc.stderr.close()
        self.tmp.cleanup()
        if check and rc != 0:
            raise AssertionError(f"weir exited with status {rc}; stderr:\n{self.text()}")
        return rc


def run_weir(args, stdin_text=None, timeout=TIMEOUT):
    """Run weir to completion (CLI checks); returns CompletedProcess with text output."""
    return subprocess.run([weir_bin(), *args], input=stdin_text, capture_output=True,
                          text=True, timeout=timeout,
                          stdin=None if stdin_text is not None else subprocess.DEVNULL)


def users_line(name, password):
    """The users-file line `weir passwd NAME` prints for this password."""
    result = run_weir(["passwd", name], stdin_text=password + "\n", timeout=60)
    if result.returncode != 0:
        raise AssertionError(f"weir passwd failed ({result.returncode}): {result.stderr}")
    line = result.stdout.strip()
    if not line.startswith(f"{name}:$argon2id$"):
        raise AssertionError(f"unexpected weir passwd output: {result.stdout!r}")
    return line


def make_users_file(directory, users):
    """Write a users file for {name: password} with `weir passwd`; return its path."""
    path = os.path.join(directory, "users")
    with open(path, "w") as f:
        os.fchmod(f.fileno(), 0o600)  # weir warns about a users file others may read
        for name, password in users.items():
            f.write(users_line(name, password) + "\n")
    return path


class TempDir:
    """A temporary directory removed at interpreter exit or on cleanup()."""

    def __init__(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="weir-it-")
        self.path = self._tmp.name

    def cleanup(self):
        self._tmp.cleanup()


# --------------------------------------------------------------------------
# local targets


class HttpTarget:
    """HTTP on 127.0.0.1: /file (random bytes, known sha256) and /small."""

    SMALL = b"<html><body>weir integration test page</body></html>\n"

    def __init__(self, size=3 * 1024 * 1024, extra_pages=None):
        """`extra_pages`: {path: (body bytes, content type)} served besides /file and /small."""
        self.body = os.urandom(size)
        self.sha256 = sha256(self.body)
        octets = "application/octet-stream"
        pages = {"/file": (self.body, octets), "/small": (self.SMALL, octets),
                 **(extra_pages or {})}

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body, content_type = pages.get(self.path, (None, None))
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, path="/file", host="127.0.0.1"):
        return f"http://{host}:{self.port}{path}"

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class TcpTarget:
    """A TCP server on 127.0.0.1 running `handle(conn)` in a thread per connection."""

    def __init__(self, handle, family=socket.AF_INET, host="127.0.0.1"):
        self._handle = handle
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.bind((host, 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self._stopped = False
        threading.Thread(target=self._accept_loop, daemon=True).start()

    def _accept_loop(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        conn.settimeout(TIMEOUT)
        with conn:
            try:
                self._handle(conn)
            except OSError:
                pass

    def stop(self):
        self.sock.close()


def _echo(conn):
    while True:
        data = conn.recv(65536)
        if not data:
            conn.shutdown(socket.SHUT_WR)  # echo the client's half-close
            return
        conn.sendall(data)


class EchoTarget(TcpTarget):
    """Echoes everything; on the client's EOF it shuts down its own write side."""

    def __init__(self, **kw):
        super().__init__(_echo, **kw)


def closed_port():
    """A loopback port with (almost certainly) nobody listening on it."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# --------------------------------------------------------------------------
# raw socket helpers


def connect(port, host="127.0.0.1"):
    s = socket.create_connection((host, port), timeout=TIMEOUT)
    s.settimeout(TIMEOUT)
    return s


def recv_exact(sock, n):
    """Exactly n bytes, or AssertionError naming what arrived before EOF."""
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise AssertionError(f"EOF after {len(buf)} of {n} bytes: {buf.hex(' ')}")
        buf += chunk
    return buf


def recv_all(sock):
    """Everything until EOF (bounded by the socket timeout)."""
    parts = []
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return b"".join(parts)
        parts.append(chunk)


def assert_eof(test, sock):
    """The peer closes (or resets) without sending anything more."""
    try:
        data = sock.recv(1)
    except ConnectionResetError:
        return
    test.assertEqual(data, b"", "expected EOF")


def run_tool(args, stdin=None, timeout=60):
    """Run an external client; returns CompletedProcess with bytes output."""
    return subprocess.run(args, input=stdin, capture_output=True, timeout=timeout,
                          stdin=None if stdin is not None else subprocess.DEVNULL)


# --------------------------------------------------------------------------
# SOCKS wire messages, built by hand (the tests assert exact bytes)


def s5_greeting(*methods):
    """| VER | NMETHODS | METHODS |"""
    return bytes([5, len(methods), *methods])


def s5_credentials(user, password):
    """RFC 1929: | VER=1 | ULEN | UNAME | PLEN | PASSWD |"""
    u, p = user.encode(), password.encode()
    return bytes([1, len(u)]) + u + bytes([len(p)]) + p


def s5_request(host, port, cmd=1):
    """| VER | CMD | RSV | ATYP | DST.ADDR | DST.PORT | for an IPv4, IPv6 or domain host."""
    try:
        addr = bytes([1]) + socket.inet_pton(socket.AF_INET, host)
    except OSError:
        try:
            addr = bytes([4]) + socket.inet_pton(socket.AF_INET6, host)
        except OSError:
            addr = bytes([3, len(host)]) + host.encode()
    return bytes([5, cmd, 0]) + addr + port.to_bytes(2, "big")


def s4_request(host, port, userid=b"", cmd=1):
    """| VN=4 | CD | DSTPORT | DSTIP | USERID | NUL | (+ SOCKS4a: HOST | NUL)."""
    head = bytes([4, cmd]) + port.to_bytes(2, "big")
    try:
        return head + socket.inet_aton(host) + userid + b"\0"
    except OSError:
        return head + bytes([0, 0, 0, 1]) + userid + b"\0" + host.encode() + b"\0"


def read_s5_reply(sock):
    """A whole SOCKS5 reply: returns (rep, atyp, bnd_addr_bytes, bnd_port)."""
    head = recv_exact(sock, 4)
    if head[0] != 5:
        raise AssertionError(f"not a SOCKS5 reply: {head.hex(' ')}")
    atyp = head[3]
    if atyp == 1:
        addr = recv_exact(sock, 4)
    elif atyp == 4:
        addr = recv_exact(sock, 16)
    elif atyp == 3:
        addr = recv_exact(sock, recv_exact(sock, 1)[0])
    else:
        raise AssertionError(f"bad ATYP in reply: {head.hex(' ')}")
    port = int.from_bytes(recv_exact(sock, 2), "big")
    return head[1], atyp, addr, port


def in_private_netns():
    """True inside the namespace main_in_private_netns() made."""
    return os.environ.get("WEIR_TEST_NETNS") == "1"


def main_in_private_netns():
    """Runs the calling test file's unittest.main() in a new network namespace
    with only loopback up (re-executing it under `unshare -n`; needs root)."""
    if not in_private_netns():
        env = dict(os.environ, WEIR_TEST_NETNS="1")
        script = 'ip link set lo up && exec "$0" "$@"'
        sys.exit(subprocess.call(["unshare", "-n", "sh", "-c", script, sys.executable,
                                  *sys.argv], env=env))
    unittest.main(verbosity=2)


# --------------------------------------------------------------------------
# private network and mount namespaces (for tests that need 127.0.0.1:53 or
# their own /etc/hosts and /etc/resolv.conf)

PRIVATE_NS_ENV = "WEIR_TEST_PRIVATE_NS"  # set in the re-executed child (inside the namespaces)


def sh(*args):
    """Run a setup command (ip, mount, nsenter); its failure is a broken setup."""
    r = subprocess.run(args, capture_output=True, text=True, timeout=TIMEOUT,
                       stdin=subprocess.DEVNULL)
    if r.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({r.returncode}): {r.stderr.strip()}")


def in_private_namespaces():
    """True inside the namespaces main_in_private_namespaces() made."""
    return os.environ.get(PRIVATE_NS_ENV) == "1"


def main_in_private_namespaces():
    """Runs the calling test file's unittest.main() in a new network namespace
    and a private mount namespace (re-executing it under `unshare -n -m
    --propagation private`; needs root). Loopback is left down: see
    private_loopback_and_etc()."""
    if not in_private_namespaces():
        env = dict(os.environ, **{PRIVATE_NS_ENV: "1"})
        flags = ["-B"] if sys.flags.dont_write_bytecode else []
        sys.exit(subprocess.call(["unshare", "-n", "-m", "--propagation", "private",
                                  sys.executable, *flags, *sys.argv], env=env))
    unittest.main(verbosity=2)


def private_loopback_and_etc(hosts, resolv_conf):
    """For setUpModule in a file run by main_in_private_namespaces(): skips the
    module outside those namespaces; brings `lo` up; bind-mounts /etc/hosts and
    /etc/resolv.conf from temp files with these texts (module cleanups unmount
    them). Returns the TempDir holding the files (removed by a module cleanup,
    after the unmounts)."""
    if not in_private_namespaces():
        raise unittest.SkipTest("run this file as a script: it needs its own namespaces")
    sh("ip", "link", "set", "lo", "up")
    tmp = TempDir()
    unittest.addModuleCleanup(tmp.cleanup)
    for path, text in (("/etc/hosts", hosts), ("/etc/resolv.conf", resolv_conf)):
        mine = os.path.join(tmp.path, os.path.basename(path))
        with open(mine, "w") as f:
            f.write(text)
        sh("mount", "--bind", mine, path)  # private mount namespace: ours only
        unittest.addModuleCleanup(sh, "umount", path)
    return tmp


class FakeDns:
    """A DNS server on 127.0.0.1:53/udp (in a private network namespace).

    `answers` {name: IPv4}: an A record for those names (no data for other
    types), NXDOMAIN for any other name. Names ending in one of
    `silent_suffixes` get no answer at all (the queries are kept) until
    release(), which answers every kept query, and every later one, with
    NXDOMAIN: the getaddrinfo calls stuck on them return at once. hold()
    silences them again. names() lists the names queried, lowercase, no final
    dot; clear() forgets them. stop() takes at most TIMEOUT."""

    def __init__(self, answers, silent_suffixes=()):
        self.answers = {name.lower(): ip for name, ip in answers.items()}
        self.silent_suffixes = tuple(silent_suffixes)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 53))
        self.sock.settimeout(0.2)  # so that stop() is noticed: close() does not wake recvfrom
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._released = False
        self._held = []  # [(query, peer)] of the names not answered
        self._asked = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def names(self):
        with self._lock:
            return list(self._asked)

    def clear(self):
        with self._lock:
            self._asked.clear()

    def hold(self):
        """From now on, names under silent_suffixes go unanswered again; names() is cleared."""
        with self._lock:
            self._released = False
            self._asked.clear()

    def release(self):
        with self._lock:
            self._released = True
            held, self._held = self._held, []
        for query, peer in held:
            try:
                self.sock.sendto(self._reply(query, nxdomain=True), peer)
            except (OSError, IndexError, struct.error, ValueError):
                pass

    def _serve(self):
        while not self._stopping.is_set():
            try:
                query, peer = self.sock.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                name = self._parse(query)[2]
                with self._lock:
                    self._asked.append(name)
                    if name.endswith(self.silent_suffixes) and not self._released:
                        self._held.append((query, peer))
                        continue
                answer = self._reply(query)
            except (IndexError, struct.error, ValueError):
                continue  # not a query we understand: no answer
            try:
                self.sock.sendto(answer, peer)
            except OSError:
                return

    @staticmethod
    def _parse(query):
        qid, flags, qdcount = struct.unpack("!HHH", query[:6])
        if qdcount != 1:
            raise ValueError("one question only")
        labels, i = [], 12
        while query[i]:
            labels.append(query[i + 1:i + 1 + query[i]].decode("latin-1"))
            i += 1 + query[i]
        qtype, qclass = struct.unpack("!HH", query[i + 1:i + 5])
        return qid, flags, ".".join(labels).lower(), qtype, qclass, query[12:i + 5]

    def _reply(self, query, nxdomain=False):
        qid, flags, name, qtype, qclass, question = self._parse(query)
        answers, rcode = b"", 3  # NXDOMAIN
        if name in self.answers and not nxdomain:
            rcode = 0
            if qtype == 1 and qclass == 1:
                answers = (struct.pack("!HHHIH", 0xC00C, 1, 1, 5, 4)
                           + socket.inet_aton(self.answers[name]))
        out_flags = 0x8000 | (flags & 0x7900) | 0x0400 | 0x0080 | rcode  # QR AA RD RA
        header = struct.pack("!HHHHHH", qid, out_flags, 1, 1 if answers else 0, 0, 0)
        return header + question + answers

    def stop(self):
        self._stopping.set()
        self._thread.join(TIMEOUT)
        self.sock.close()
