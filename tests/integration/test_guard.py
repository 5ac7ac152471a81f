"""Private destinations behind a proxy that other hosts use (a security review's
findings): the recipes the README gives for a LAN proxy must not let a client
on another host reach weir's own loopback services, the cloud metadata address
or the host's own addresses, whatever form the destination takes (IPv6 forms
embedding 127.0.0.1, names resolving to loopback, addresses added after start),
and names are looked up as given (no resolv.conf search-domain expansion).

The file re-executes itself under `unshare -n -m` (root) and builds, inside:

  namespace W (this process: weir and the targets)
    lo                 127.0.0.1, ::1: LOOP (echo, same port on both), OTHER (echo)
    veth-w             10.77.0.1/24 (weir's listeners; HOSTSVC, an echo on 0.0.0.0)
    meta0 (dummy/ifb)  169.254.169.254/32: META (a fake metadata service)
    127.0.0.1:53/udp   a fake DNS server (A 127.0.0.1 for internal.corp, db.corp)
    /etc/hosts, /etc/resolv.conf bind-mounted from temp files (`search corp`)
  namespace C (the client host: one child process, `unshare -n python3 ...`)
    veth-c             10.77.0.2/24: CSVC (an echo), and the SOCKS clients,
                       driven over a pipe (connect / send / recv / close)

Every W target counts the connections it accepts, so a test can show that a
refused request reached nothing.
"""

import json
import os
import select
import socket
import subprocess
import sys
import threading
import time
import unittest

import harness
from harness import recv_exact, s4_request, s5_credentials, s5_greeting, s5_request, sh

W_ADDR = "10.77.0.1"  # weir's host, as the client host sees it
C_ADDR = "10.77.0.2"  # the client host
META_ADDR = "169.254.169.254"
LATE_ADDR = "10.77.9.9"  # added to meta0 after weir started (test 7)
NET = "10.77.0.0/24"
PASSWORDS = {"bob": "b-pw"}

REFUSED5 = bytes.fromhex("05 02 00 01 00000000 0000")  # not allowed by ruleset
UNREACHABLE5 = bytes.fromhex("05 04 00 01 00000000 0000")  # host unreachable
REFUSED4 = bytes.fromhex("00 5b")

HOSTS = """\
127.0.0.1 localhost
::1 localhost
127.0.0.1 loop.example
10.77.0.2 ok.example
"""
RESOLV_CONF = """\
search corp
nameserver 127.0.0.1
options timeout:1 attempts:1
"""
DNS_NAMES = {"internal.corp": "127.0.0.1", "db.corp": "127.0.0.1"}


# --------------------------------------------------------------------------
# targets in W that count their connections


def _echo(conn):
    while True:
        data = conn.recv(65536)
        if not data:
            return
        conn.sendall(data)


def _metadata(conn):
    """Answers whatever arrives like a cloud metadata service would."""
    if conn.recv(65536):
        body = b"secret-instance-credentials\n"
        conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)


class CountingTarget:
    """A TCP service on one or more addresses (all on the same port) that counts
    the connections it accepts; `connections()` is exact (see there)."""

    def __init__(self, name, hosts, handle=_echo):
        self.name = name
        self._handle = handle
        self._cond = threading.Condition()
        self._peers = []  # every accepted peer address, markers included
        self._markers = set()
        for _ in range(20):  # the same free port on every address
            self.socks = []
            try:
                port = 0
                for host in hosts:
                    family = socket.AF_INET6 if ":" in host else socket.AF_INET
                    s = socket.socket(family, socket.SOCK_STREAM)
                    self.socks.append(s)
                    if family == socket.AF_INET6:
                        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                    s.bind((host, port))
                    s.listen(64)
                    port = s.getsockname()[1]
                break
            except OSError:
                for s in self.socks:
                    s.close()
        else:
            raise AssertionError(f"{name}: no port free on all of {hosts}")
        self.port = port
        # Where a marker connection reaches each listening socket.
        self._marker_hosts = ["127.0.0.1" if h == "0.0.0.0" else h for h in hosts]
        for s in self.socks:
            threading.Thread(target=self._accept_loop, args=(s,), daemon=True).start()

    def _accept_loop(self, sock):
        while True:
            try:
                conn, peer = sock.accept()
            except OSError:
                return
            with self._cond:
                self._peers.append(peer[:2])
                self._cond.notify_all()
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        conn.settimeout(harness.TIMEOUT)
        with conn:
            try:
                self._handle(conn)
            except OSError:
                pass

    def connections(self):
        """How many connections (other than our own markers) were accepted so far.

        A marker connection to each listening socket is made and waited for:
        accept() is in order, so every connection made before it is counted.
        """
        for host in self._marker_hosts:
            with socket.create_connection((host, self.port), timeout=harness.TIMEOUT) as m:
                me = m.getsockname()[:2]
                with self._cond:
                    self._markers.add(me)
                    if not self._cond.wait_for(lambda: me in self._peers, harness.TIMEOUT):
                        raise AssertionError(f"{self.name}: marker connection not accepted")
        with self._cond:
            return sum(1 for p in self._peers if p not in self._markers)

    def stop(self):
        for s in self.socks:
            s.close()


# --------------------------------------------------------------------------
# the client host C: a child process in its own network namespace, driven
# over a pipe with one JSON line per operation


CLIENT_SCRIPT = r"""
import json, socket, sys, threading
TIMEOUT = float(sys.argv[1])

def echo(conn):
    with conn:
        try:
            while True:
                data = conn.recv(65536)
                if not data:
                    return
                conn.sendall(data)
        except OSError:
            pass

def serve(srv):
    while True:
        try:
            conn, _ = srv.accept()
        except OSError:
            return
        conn.settimeout(TIMEOUT)
        threading.Thread(target=echo, args=(conn,), daemon=True).start()

socks, next_id = {}, 0
print(json.dumps({"ready": True}), flush=True)
while True:
    line = sys.stdin.readline()
    if not line:
        break
    op = json.loads(line)
    try:
        kind = op["op"]
        if kind == "listen_echo":
            srv = socket.socket()
            srv.bind((op["host"], 0))
            srv.listen(64)
            threading.Thread(target=serve, args=(srv,), daemon=True).start()
            out = {"port": srv.getsockname()[1]}
        elif kind == "connect":
            s = socket.create_connection((op["host"], op["port"]), timeout=TIMEOUT)
            next_id += 1
            socks[next_id] = s
            out = {"id": next_id}
        elif kind == "send":
            socks[op["id"]].sendall(bytes.fromhex(op["data"]))
            out = {}
        elif kind == "recv":
            out = {"data": socks[op["id"]].recv(op["n"]).hex()}
        elif kind == "close":
            socks.pop(op["id"]).close()
            out = {}
        else:
            out = {"error": "ValueError", "text": "unknown op " + kind}
    except Exception as e:
        out = {"error": type(e).__name__, "text": str(e)}
    print(json.dumps(out), flush=True)
"""

ERRORS = {"ConnectionResetError": ConnectionResetError, "TimeoutError": TimeoutError,
          "ConnectionRefusedError": ConnectionRefusedError,
          "BrokenPipeError": BrokenPipeError}


class ClientHost:
    """The process that holds namespace C (its PID names the namespace)."""

    def __init__(self):
        self.proc = subprocess.Popen(
            ["unshare", "-n", sys.executable, "-B", "-c", CLIENT_SCRIPT, str(harness.TIMEOUT)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
        self.pid = self.proc.pid
        self._buf = b""
        self._read_line()  # {"ready": true}: the namespace exists

    def _read_line(self):
        deadline = time.monotonic() + 2 * harness.TIMEOUT  # each op is bounded by TIMEOUT
        while b"\n" not in self._buf:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self.proc.stdout], [], [], remaining)[0]:
                raise AssertionError("the client host did not answer in time")
            chunk = os.read(self.proc.stdout.fileno(), 65536)
            if not chunk:
                raise AssertionError("the client host exited")
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        return json.loads(line)

    def call(self, **op):
        self.proc.stdin.write((json.dumps(op) + "\n").encode())
        out = self._read_line()
        if "error" in out:
            raise ERRORS.get(out["error"], OSError)(f"in the client host: {out['text']}")
        return out

    def ns(self, *args):
        """Run a command in namespace C."""
        sh("nsenter", "-t", str(self.pid), "-n", *args)

    def connect(self, host, port):
        return RemoteSocket(self, self.call(op="connect", host=host, port=port)["id"])

    def listen_echo(self, host):
        return self.call(op="listen_echo", host=host)["port"]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(harness.TIMEOUT)
        self.proc.stdin.close()
        self.proc.stdout.close()


class RemoteSocket:
    """A TCP connection made in namespace C, with the socket methods the
    harness helpers use (sendall, recv, close)."""

    def __init__(self, host, sid):
        self._host, self._id, self._open = host, sid, True

    def sendall(self, data):
        self._host.call(op="send", id=self._id, data=data.hex())

    def recv(self, n):
        return bytes.fromhex(self._host.call(op="recv", id=self._id, n=n)["data"])

    def close(self):
        if self._open:
            self._open = False
            self._host.call(op="close", id=self._id)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# --------------------------------------------------------------------------
# module setup


def setUpModule():
    global TMP, USERS_FILE, DNS, CLIENT, LOOP, OTHER, META, HOSTSVC, CSVC
    TMP = harness.private_loopback_and_etc(HOSTS, RESOLV_CONF)
    USERS_FILE = harness.make_users_file(TMP.path, PASSWORDS)

    DNS = harness.FakeDns(DNS_NAMES)
    unittest.addModuleCleanup(DNS.stop)

    CLIENT = ClientHost()
    unittest.addModuleCleanup(CLIENT.stop)
    sh("ip", "link", "add", "veth-w", "type", "veth", "peer", "name", "veth-c")
    sh("ip", "link", "set", "veth-c", "netns", str(CLIENT.pid))
    sh("ip", "addr", "add", f"{W_ADDR}/24", "dev", "veth-w")
    sh("ip", "link", "set", "veth-w", "up")
    CLIENT.ns("ip", "link", "set", "lo", "up")
    CLIENT.ns("ip", "addr", "add", f"{C_ADDR}/24", "dev", "veth-c")
    CLIENT.ns("ip", "link", "set", "veth-c", "up")

    # A dummy interface for the metadata address (ifb where the kernel has no dummy).
    r = subprocess.run(["ip", "link", "add", "meta0", "type", "dummy"], capture_output=True,
                       timeout=harness.TIMEOUT, stdin=subprocess.DEVNULL)
    if r.returncode != 0:
        sh("ip", "link", "add", "meta0", "type", "ifb")
    sh("ip", "link", "set", "meta0", "up")
    sh("ip", "addr", "add", f"{META_ADDR}/32", "dev", "meta0")

    LOOP = CountingTarget("LOOP", ["127.0.0.1", "::1"])
    OTHER = CountingTarget("OTHER", ["127.0.0.1"])
    META = CountingTarget("META", [META_ADDR], handle=_metadata)
    HOSTSVC = CountingTarget("HOSTSVC", ["0.0.0.0"])
    for t in (LOOP, OTHER, META, HOSTSVC):
        unittest.addModuleCleanup(t.stop)
    CSVC = CLIENT.listen_echo(C_ADDR)

    # Both directions work before any test starts (the veth link may take a moment).
    deadline = time.monotonic() + harness.TIMEOUT
    while True:
        try:
            with socket.create_connection((C_ADDR, CSVC), timeout=harness.TIMEOUT):
                break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    with CLIENT.connect(W_ADDR, HOSTSVC.port) as s:
        s.sendall(b"up")
        assert recv_exact(s, 2) == b"up"


def private_destinations():
    """(label, host, port, target, SOCKS4 can say it) of every destination a
    client on another host must not reach through weir."""
    return [
        ("127.0.0.1", "127.0.0.1", LOOP.port, LOOP, True),
        ("[::1]", "::1", LOOP.port, LOOP, False),
        ("localhost (name)", "localhost", LOOP.port, LOOP, True),  # SOCKS4a for SOCKS4
        ("metadata 169.254.169.254", META_ADDR, META.port, META, True),
        ("host's own address", W_ADDR, HOSTSVC.port, HOSTSVC, True),
        ("::ffff:127.0.0.1 (v4-mapped)", "::ffff:127.0.0.1", LOOP.port, LOOP, False),
        ("::127.0.0.1 (v4-compatible)", "::127.0.0.1", LOOP.port, LOOP, False),
        ("64:ff9b::7f00:1 (NAT64)", "64:ff9b::7f00:1", LOOP.port, LOOP, False),
        ("2002:7f00:1:: (6to4)", "2002:7f00:1::", LOOP.port, LOOP, False),
        ("::ffff:0:7f00:1 (SIIT)", "::ffff:0:7f00:1", LOOP.port, LOOP, False),
    ]


# --------------------------------------------------------------------------
# SOCKS exchanges


def from_c(weir):
    """A connection from the client host to weir's (only) listener on 10.77.0.1."""
    return CLIENT.connect(W_ADDR, weir.listeners[0][2])


def from_w(weir):
    """A connection over loopback to weir's (only) listener on 127.0.0.1."""
    return harness.connect(weir.listeners[0][2])


def read_reply5(sock):
    """A whole SOCKS5 reply, as the bytes that arrived."""
    head = recv_exact(sock, 4)
    if head[0] != 5 or head[3] not in (1, 3, 4):
        return head
    if head[3] == 3:
        size = recv_exact(sock, 1)
        return head + size + recv_exact(sock, size[0] + 2)
    return head + recv_exact(sock, (4 if head[3] == 1 else 16) + 2)


def socks5(sock, host, port, user=None):
    """Greeting (+ RFC 1929 login) and CONNECT, pipelined; returns the reply."""
    if user is None:
        sock.sendall(s5_greeting(0) + s5_request(host, port))
        assert recv_exact(sock, 2) == bytes.fromhex("05 00")
    else:
        sock.sendall(s5_greeting(2) + s5_credentials(user, PASSWORDS[user])
                     + s5_request(host, port))
        assert recv_exact(sock, 4) == bytes.fromhex("05 02 01 00")
    return read_reply5(sock)


def socks4(sock, host, port):
    """SOCKS4 (SOCKS4a for a name) CONNECT; returns the 8-byte reply."""
    sock.sendall(s4_request(host, port, userid=b"guard"))
    return recv_exact(sock, 8)


class GuardTest(unittest.TestCase):
    def start(self, listen, *rules, extra=(), users=False):
        args = [a for r in rules for a in ("--rule", r)]
        weir = harness.Weir([listen], users_file=USERS_FILE if users else None,
                            extra=[*args, *extra])
        self.addCleanup(weir.stop)
        return weir

    def assert_refused(self, weir, host, port, target=None, version=5, user=None,
                       client=from_c):
        """05 02 00 01 0.. (SOCKS5) or 00 5B (SOCKS4), then EOF; the target saw nothing."""
        before = target.connections() if target else None
        with client(weir) as s:
            if version == 5:
                reply = socks5(s, host, port, user)
                self.assertEqual(reply.hex(" "), REFUSED5.hex(" "), "not refused")
            else:
                reply = socks4(s, host, port)
                self.assertEqual(reply[:2].hex(" "), REFUSED4.hex(" "),
                                 f"not refused: {reply.hex(' ')}")
            harness.assert_eof(self, s)
        if target:
            self.assertEqual(target.connections(), before, f"{target.name} saw a connection")

    def assert_allowed(self, weir, host, port, user=None, client=from_c):
        """05 00 and the echo works."""
        with client(weir) as s:
            reply = socks5(s, host, port, user)
            self.assertEqual(reply[:2].hex(" "), "05 00", f"not allowed: {reply.hex(' ')}")
            s.sendall(b"guard-ping")
            self.assertEqual(recv_exact(s, 10), b"guard-ping")

    def assert_private_refused(self, weir, user=None, socks4_too=False):
        """Every private destination refused, each in its own subTest."""
        for label, host, port, target, v4 in private_destinations():
            with self.subTest(socks=5, to=label):
                self.assert_refused(weir, host, port, target, user=user)
            if socks4_too and v4:
                with self.subTest(socks=4, to=label):
                    self.assert_refused(weir, host, port, target, version=4)


# --------------------------------------------------------------------------
# the cases


class AllowFromRecipe(GuardTest):
    """1. The LAN recipe without a password, `--rule 'allow from NET'`: the rule
    says who may use the proxy, not that they may reach private destinations."""

    def test_private_destinations_refused(self):
        """SOCKS5 and SOCKS4/4a: loopback (v4, v6, by name, IPv6 forms embedding
        127.0.0.1), metadata and the host's own address are all refused."""
        weir = self.start(f"socks://{W_ADDR}:0", f"allow from {NET}")
        self.assert_private_refused(weir, socks4_too=True)

    def test_client_network_allowed(self):
        """The client host's own service (10.77.0.2) is still reachable."""
        weir = self.start(f"socks://{W_ADDR}:0", f"allow from {NET}")
        self.assert_allowed(weir, C_ADDR, CSVC)


class LockDownRecipe(GuardTest):
    """2. The lock-down recipe: password listener, `allow from NET`, then `deny`."""

    def test_private_destinations_refused(self):
        """As bob (RFC 1929): every private destination refused; 10.77.0.2 allowed."""
        weir = self.start(f"socks5://{W_ADDR}:0", f"allow from {NET}", "deny", users=True)
        self.assert_private_refused(weir, user="bob")
        with self.subTest(to="client host"):
            self.assert_allowed(weir, C_ADDR, CSVC, user="bob")


class AllowUser(GuardTest):
    """3. `allow user bob`: naming a user does not open private destinations."""

    def test_private_destinations_refused(self):
        """As bob: every private destination refused; 10.77.0.2 allowed."""
        weir = self.start(f"socks5://{W_ADDR}:0", "allow user bob", users=True)
        self.assert_private_refused(weir, user="bob")
        with self.subTest(to="client host"):
            self.assert_allowed(weir, C_ADDR, CSVC, user="bob")


class PresetFlags(GuardTest):
    """4. The explicit flags on top of `allow from NET` really apply."""

    def test_deny_private_destinations_and_ranges(self):
        """--deny-private-destinations --deny-private-ranges: all of case 1 refused,
        and 10.77.0.2 (in 10.0.0.0/8) too."""
        weir = self.start(f"socks://{W_ADDR}:0", f"allow from {NET}",
                          extra=["--deny-private-destinations", "--deny-private-ranges"])
        self.assert_private_refused(weir, socks4_too=True)
        with self.subTest(to="client host (10.0.0.0/8)"):
            self.assert_refused(weir, C_ADDR, CSVC)
        with self.subTest(socks=4, to="client host (10.0.0.0/8)"):
            self.assert_refused(weir, C_ADDR, CSVC, version=4)

    def test_deny_private_destinations_alone(self):
        """--deny-private-destinations without the ranges: loopback and metadata
        refused, 10.77.0.2 allowed."""
        weir = self.start(f"socks://{W_ADDR}:0", f"allow from {NET}",
                          extra=["--deny-private-destinations"])
        with self.subTest(to="127.0.0.1"):
            self.assert_refused(weir, "127.0.0.1", LOOP.port, LOOP)
        with self.subTest(to="metadata"):
            self.assert_refused(weir, META_ADDR, META.port, META)
        with self.subTest(to="client host"):
            self.assert_allowed(weir, C_ADDR, CSVC)


class NameRules(GuardTest):
    """5. A rule allowing a name suffix checks what the name resolves to."""

    def test_name_resolving_to_loopback_refused(self):
        """`allow to .example port LOOP`: loop.example (127.0.0.1 in /etc/hosts) refused."""
        weir = self.start(f"socks5://{W_ADDR}:0", f"allow to .example port {LOOP.port}",
                          users=True)
        self.assert_refused(weir, "loop.example", LOOP.port, LOOP, user="bob")

    def test_name_resolving_to_a_client_host_allowed(self):
        """`allow to .example`: ok.example (10.77.0.2) allowed, loop.example still refused."""
        weir = self.start(f"socks5://{W_ADDR}:0", "allow to .example", users=True)
        with self.subTest(to="ok.example"):
            self.assert_allowed(weir, "ok.example", CSVC, user="bob")
        with self.subTest(to="loop.example"):
            self.assert_refused(weir, "loop.example", LOOP.port, LOOP, user="bob")


class ExplicitHole(GuardTest):
    """6. `allow to 127.0.0.1 port LOOP` opens that one loopback service, in
    either order with `allow from NET`; nothing else private opens."""

    def check(self, *rules):
        weir = self.start(f"socks://{W_ADDR}:0", *rules)
        with self.subTest(rules=rules, to="127.0.0.1:LOOP (the hole)"):
            self.assert_allowed(weir, "127.0.0.1", LOOP.port)
        with self.subTest(rules=rules, to="127.0.0.1:OTHER"):
            self.assert_refused(weir, "127.0.0.1", OTHER.port, OTHER)
        with self.subTest(rules=rules, to="metadata"):
            self.assert_refused(weir, META_ADDR, META.port, META)

    def test_hole_after_allow_from(self):
        """`allow from NET`, then the hole."""
        self.check(f"allow from {NET}", f"allow to 127.0.0.1 port {LOOP.port}")

    def test_hole_before_allow_from(self):
        """The hole, then `allow from NET`."""
        self.check(f"allow to 127.0.0.1 port {LOOP.port}", f"allow from {NET}")


class HostAddresses(GuardTest):
    """7. The host's own addresses are kept current: one added after start is
    refused too (within a bounded time: weir learns of it through netlink)."""

    def test_address_added_after_start(self):
        """10.77.9.9 added to meta0 once weir has served a request: a CONNECT to
        it (the 0.0.0.0 service) is refused within TIMEOUT; a new connection per
        try, and only 05 02 counts as the answer."""
        weir = self.start(f"socks://{W_ADDR}:0", f"allow from {NET}")
        self.assert_allowed(weir, C_ADDR, CSVC)  # weir has served a request already
        sh("ip", "addr", "add", f"{LATE_ADDR}/32", "dev", "meta0")
        self.addCleanup(sh, "ip", "addr", "del", f"{LATE_ADDR}/32", "dev", "meta0")
        # The new address reaches the 0.0.0.0 service from weir's namespace.
        with socket.create_connection((LATE_ADDR, HOSTSVC.port), timeout=harness.TIMEOUT):
            pass
        deadline = time.monotonic() + harness.TIMEOUT
        replies = []
        while True:
            with from_c(weir) as s:
                reply = socks5(s, LATE_ADDR, HOSTSVC.port)
            replies.append(reply.hex(" "))
            if reply == REFUSED5 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        self.assertEqual(reply.hex(" "), REFUSED5.hex(" "),
                         f"{LATE_ADDR} never refused in {harness.TIMEOUT} s "
                         f"({len(replies)} tries, last replies {replies[-3:]})")


class SearchDomains(GuardTest):
    """8. Names are looked up as given: resolv.conf's `search corp` must not turn
    `internal` into `internal.corp` behind a `deny to .corp` rule, and resolver
    escapes (`\\112` = 'p') are not host names."""

    def test_names_are_not_expanded(self):
        """Under `deny to .corp`: `internal` and `db` are looked up as given
        (NXDOMAIN: 05 04, internal.corp / db.corp never asked); `internal.cor\\112`
        is not a host name and `internal.corp` is denied by the rule (05 02);
        `localhost` (from /etc/hosts) still connects."""
        weir = self.start("socks://127.0.0.1:0", "deny to .corp")
        for name in ("internal", "db"):
            with self.subTest(to=name):
                DNS.clear()
                before = LOOP.connections()
                with from_w(weir) as s:
                    reply = socks5(s, name, LOOP.port)
                self.assertEqual(reply.hex(" "), UNREACHABLE5.hex(" "),
                                 f"{name!r} not answered 'host unreachable'")
                self.assertEqual(LOOP.connections(), before, "LOOP saw a connection")
                self.assertNotIn(f"{name}.corp", DNS.names(), "the search domain was used")
        with self.subTest(to="internal.cor\\112"):
            self.assert_refused(weir, "internal.cor\\112", LOOP.port, LOOP, client=from_w)
        with self.subTest(to="internal.corp"):
            self.assert_refused(weir, "internal.corp", LOOP.port, LOOP, client=from_w)
        with self.subTest(to="localhost"):
            self.assert_allowed(weir, "localhost", LOOP.port, client=from_w)


class LoopbackListener(GuardTest):
    """9. A loopback listener serves the local user: no preset by default;
    --deny-private-ranges alone adds the ranges but keeps loopback open."""

    def test_loopback_allowed_by_default(self):
        """No flags: 127.0.0.1:LOOP allowed."""
        weir = self.start("socks://127.0.0.1:0")
        self.assert_allowed(weir, "127.0.0.1", LOOP.port, client=from_w)

    def test_deny_private_ranges_alone(self):
        """--deny-private-ranges: 10.77.0.2 refused, 127.0.0.1:LOOP still allowed."""
        weir = self.start("socks://127.0.0.1:0", extra=["--deny-private-ranges"])
        with self.subTest(to="client host (10.0.0.0/8)"):
            self.assert_refused(weir, C_ADDR, CSVC, client=from_w)
        with self.subTest(to="127.0.0.1"):
            self.assert_allowed(weir, "127.0.0.1", LOOP.port, client=from_w)


if __name__ == "__main__":
    harness.main_in_private_namespaces()
