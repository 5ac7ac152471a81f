"""UDP ASSOCIATE (RFC 1928 section 7): PySocks and hand-made datagrams through
weir's relay to UDP echo servers on loopback, and a DNS query answered by a
real dnsmasq.

The reply to UDP ASSOCIATE names the relay (BND): the local address the control
connection arrived on, a port != 0. Every datagram to and from the relay
carries | RSV 00 00 | FRAG | ATYP | DST.ADDR | DST.PORT | DATA |; weir sends
DATA to DST and wraps each reply in a header naming its source. A client is
held to the source it named, or (0.0.0.0:0) to the control connection's
address and the port of its first datagram: datagrams from elsewhere,
fragments and malformed datagrams are dropped and the association goes on.
Closing the control connection ends it. The access rules decide each
datagram's destination.
"""

import os
import random
import shutil
import socket
import struct
import subprocess
import threading
import time
import unittest

import socks

import harness
from harness import connect, read_s5_reply, recv_exact, s5_greeting, s5_request, sha256

UDP_ASSOCIATE = 3
SILENCE = 1.0  # seconds with no datagram that count as "dropped"
# IPv4's largest UDP payload (65535 - 20 - 8) less the 10-byte header of the
# client's datagram to weir: the most DATA a client can send over IPv4.
LARGEST_IPV4_DATA = 65507 - 10

# PySocks opens its control connection with the default timeout: a hang guard.
socket.setdefaulttimeout(harness.TIMEOUT)


def have_ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


HAVE_IPV6 = have_ipv6_loopback()


def require_ipv6():
    if not HAVE_IPV6:
        raise unittest.SkipTest("no IPv6 loopback (::1) on this machine")


def family_of(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def udp_socket(host, port=0):
    s = socket.socket(family_of(host), socket.SOCK_DGRAM)
    try:
        s.bind((host, port))
    except OSError:
        s.close()
        raise
    return s


# --------------------------------------------------------------------------
# targets


class UdpEcho:
    """Sends every datagram back to its sender and keeps what it got (received())."""

    def __init__(self, host, port=0):
        self.sock = udp_socket(host, port)
        self.sock.settimeout(0.2)  # so that stop() is noticed
        self.port = self.sock.getsockname()[1]
        self._payloads = []
        self._last_sender = None
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        while not self._stopping.is_set():
            try:
                data, peer = self.sock.recvfrom(65535)
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self._payloads.append(data)
                self._last_sender = peer
            try:
                self.sock.sendto(data, peer)
            except OSError:
                pass

    def send_unasked(self, data):
        """Sends `data` to the last sender, unasked."""
        with self._lock:
            peer = self._last_sender
        self.sock.sendto(data, peer)

    def received(self, since=0):
        """The payloads it got, from the `since`-th on: received(len(received())) is []."""
        with self._lock:
            return self._payloads[since:]

    def stop(self):
        self._stopping.set()
        self._thread.join(harness.TIMEOUT)
        self.sock.close()


def echo_servers():
    """(echo on 127.0.0.1, echo on ::1 or None), on the same port: 'localhost'
    reaches an echo whichever address weir picks."""
    for _ in range(20):
        echo4 = UdpEcho("127.0.0.1")
        if not HAVE_IPV6:
            return echo4, None
        try:
            return echo4, UdpEcho("::1", echo4.port)
        except OSError:  # that port is taken on ::1: try another
            echo4.stop()
    raise AssertionError("no port free on both 127.0.0.1 and ::1")


def free_dns_port():
    """A port free for both UDP and TCP on 127.0.0.1 (dnsmasq binds both)."""
    with udp_socket("127.0.0.1") as u, socket.socket() as t:
        port = u.getsockname()[1]
        t.bind(("127.0.0.1", port))
        return port


class Dnsmasq:
    """Debian's dnsmasq on 127.0.0.1 (a free port) answering A `answers`
    {name: IPv4} and nothing else; stopped by its PID. A port taken between
    choosing it and dnsmasq's bind (tests run in parallel) is chosen again."""

    def __init__(self, answers):
        exe = shutil.which("dnsmasq") or shutil.which("dnsmasq", path="/usr/sbin")
        if exe is None:
            raise unittest.SkipTest("dnsmasq is not installed (make test-deps installs it)")
        self.tmp = harness.TempDir()
        self.log_path = os.path.join(self.tmp.path, "dnsmasq.log")
        for attempt in range(5):
            self._start(exe, answers)
            try:
                self._wait_until_answering()
                return
            except AssertionError as e:
                self._stop_process()
                if attempt == 4 or "Address already in use" not in str(e):
                    self.tmp.cleanup()
                    raise

    def _start(self, exe, answers):
        self.port = None
        while self.port is None:
            try:
                self.port = free_dns_port()
            except OSError:  # the UDP port's TCP twin is taken: another
                continue
        args = [exe, "--keep-in-foreground", "--log-facility=-", f"--port={self.port}",
                "--listen-address=127.0.0.1", "--bind-interfaces", "--no-resolv",
                "--no-hosts", "--conf-file=/dev/null",
                f"--pid-file={os.path.join(self.tmp.path, 'dnsmasq.pid')}",
                *(f"--address=/{name}/{ip}" for name, ip in answers.items())]
        with open(self.log_path, "w") as log:
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=log)

    def _wait_until_answering(self):
        """Asks it directly (not through weir) until it answers."""
        with udp_socket("127.0.0.1") as s:
            s.settimeout(0.2)
            deadline = time.monotonic() + harness.TIMEOUT
            while self.proc.poll() is None and time.monotonic() < deadline:
                s.sendto(dns_query(1, "ready.invalid"), ("127.0.0.1", self.port))
                try:
                    s.recv(512)
                    return
                except OSError:  # timeout, or refused before it binds
                    continue
        with open(self.log_path) as log:
            raise AssertionError(f"dnsmasq did not answer; exit {self.proc.poll()}:\n{log.read()}")

    def _stop_process(self):
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            self.proc.wait(harness.TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(harness.TIMEOUT)

    def stop(self):
        self._stop_process()
        self.tmp.cleanup()


def dns_query(qid, name, qtype=1):
    """| ID | flags: RD | QDCOUNT 1 | 0 | 0 | 0 | QNAME | QTYPE | QCLASS IN |"""
    labels = b"".join(bytes([len(l)]) + l.encode() for l in name.split("."))
    return struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + labels + b"\0" \
        + struct.pack("!HH", qtype, 1)


def skip_dns_name(msg, i):
    """The offset after the (possibly compressed) name at msg[i]."""
    while msg[i]:
        if msg[i] & 0xC0 == 0xC0:
            return i + 2
        i += 1 + msg[i]
    return i + 1


def dns_a_records(msg, qid):
    """The IPv4 addresses in the answer section of a NOERROR response to query `qid`."""
    rid, flags, qdcount, ancount = struct.unpack("!HHHH", msg[:8])
    if (rid, flags & 0x800F, qdcount) != (qid, 0x8000, 1):
        raise AssertionError(f"not a NOERROR answer to query {qid}: {msg.hex(' ')}")
    i = skip_dns_name(msg, 12) + 4
    addresses = []
    for _ in range(ancount):
        i = skip_dns_name(msg, i)
        rtype, rclass, _ttl, rdlength = struct.unpack("!HHIH", msg[i:i + 10])
        i += 10
        if (rtype, rclass, rdlength) == (1, 1, 4):
            addresses.append(socket.inet_ntoa(msg[i:i + 4]))
        i += rdlength
    return addresses


# --------------------------------------------------------------------------
# the client side


def udp_header(host, port, frag=0, rsv=0):
    """| RSV | FRAG | ATYP | DST.ADDR | DST.PORT | for an IPv4, IPv6 or domain host."""
    return rsv.to_bytes(2, "big") + bytes([frag]) + s5_request(host, port)[3:]


class Association:
    """A UDP ASSOCIATE by hand: the control connection, the client's UDP socket
    (`udp`) and weir's relay address (`relay`), checked to be the listener's
    address and a port != 0."""

    def __init__(self, test, weir_port, host="127.0.0.1", name_source=False):
        """`name_source`: the request names `udp`'s address and port, not 0.0.0.0:0."""
        self.test = test
        self.udp = udp_socket(host)
        test.addCleanup(self.udp.close)
        self.control = connect(weir_port, host)
        test.addCleanup(self.control.close)
        source = self.udp.getsockname()[:2] if name_source else ("0.0.0.0", 0)
        self.control.sendall(s5_greeting(0) + s5_request(*source, cmd=UDP_ASSOCIATE))
        test.assertEqual(recv_exact(self.control, 2), bytes.fromhex("05 00"))
        rep, atyp, addr, port = read_s5_reply(self.control)
        family = family_of(host)
        test.assertEqual((rep, atyp, addr),
                         (0, 4 if family == socket.AF_INET6 else 1,
                          socket.inet_pton(family, host)), "UDP ASSOCIATE reply")
        test.assertNotEqual(port, 0, "BND.PORT is zero")
        self.relay = (host, port)

    def send_raw(self, datagram, sock=None):
        (sock or self.udp).sendto(datagram, self.relay)

    def send(self, host, port, data, sock=None, **header):
        self.send_raw(udp_header(host, port, **header) + data, sock)

    def receive(self):
        """The next datagram on `udp`, which must come from the relay."""
        self.udp.settimeout(harness.TIMEOUT)
        try:
            datagram, peer = self.udp.recvfrom(65535)
        except TimeoutError:
            self.test.fail(f"no datagram from weir's relay within {harness.TIMEOUT} s")
        self.test.assertEqual(peer[:2], self.relay, "a datagram not from the relay")
        return datagram

    def assert_echo(self, host, port, data, repliers=None):
        """`data` sent to host:port comes back whole, under a header naming the
        replier: host:port, or one of `repliers` (for a name)."""
        self.send(host, port, data)
        reply = self.receive()
        headers = [udp_header(h, p) for h, p in repliers or [(host, port)]]
        header = next((h for h in headers if reply.startswith(h)), None)
        self.test.assertIsNotNone(header, f"reply header {reply[:30].hex(' ')}, expected one "
                                  f"of {[h.hex(' ') for h in headers]}")
        self.test.assertEqual(sha256(reply[len(header):]), sha256(data), "echoed DATA")

    def assert_silent(self, sock=None):
        """Nothing arrives on `sock` (default `udp`) for SILENCE seconds."""
        sock = sock or self.udp
        sock.settimeout(SILENCE)
        try:
            datagram = sock.recv(65535)
        except (TimeoutError, ConnectionRefusedError):  # refused: the port is closed
            return
        self.test.fail(f"expected no datagram, got {len(datagram)} bytes: "
                       f"{datagram[:30].hex(' ')}")


def pysocks_udp(test, port, rdns=False):
    """A PySocks UDP socket through weir (UDP ASSOCIATE happens in bind)."""
    s = socks.socksocket(socket.AF_INET, socket.SOCK_DGRAM)
    test.addCleanup(s.close)
    s.settimeout(harness.TIMEOUT)
    s.set_proxy(socks.SOCKS5, "127.0.0.1", port, rdns=rdns)
    try:
        s.bind(("127.0.0.1", 0))
    except socks.ProxyError as e:
        test.fail(f"PySocks' UDP ASSOCIATE failed: {e}")
    return s


def localhost_addresses():
    return {ai[4][0] for ai in socket.getaddrinfo("localhost", None, type=socket.SOCK_DGRAM)}


# --------------------------------------------------------------------------


def setUpModule():
    global ECHO4, ECHO6, WEIR
    ECHO4, ECHO6 = echo_servers()
    listens = ["socks://127.0.0.1:0"] + (["socks://[::1]:0"] if HAVE_IPV6 else [])
    WEIR = harness.Weir(listens)


def tearDownModule():
    WEIR.stop()
    for echo in (ECHO4, ECHO6):
        if echo is not None:
            echo.stop()


def listener_port(host):
    return next(p for _, h, p in WEIR.listeners if h == host)


class UdpTest(unittest.TestCase):
    def setUp(self):
        self.log_mark = WEIR.mark()

    def associate(self, **kw):
        return Association(self, listener_port("127.0.0.1"), **kw)

    def assert_dropped(self, a, since):
        """After a datagram weir must drop, sent when ECHO4 had received `since`:
        the next datagram from the client's own socket is echoed (so weir has
        handled the first, and the association goes on), and it is all ECHO4
        got since."""
        marker = os.urandom(64)
        a.assert_echo("127.0.0.1", ECHO4.port, marker)
        self.assertEqual(ECHO4.received(since), [marker], "a dropped datagram reached the target")


class PySocks(UdpTest):
    def test_many_small_datagrams(self):
        """200 datagrams of 1 to 9000 bytes to 127.0.0.1, each echoed intact from there."""
        s = pysocks_udp(self, listener_port("127.0.0.1"))
        rng = random.Random(1928)
        for i in range(200):
            data = os.urandom(rng.choice([1, rng.randrange(1, 1473), rng.randrange(1473, 9001)]))
            s.sendto(data, ("127.0.0.1", ECHO4.port))
            echoed, source = s.recvfrom(65535)
            self.assertEqual((sha256(echoed), source), (sha256(data), ("127.0.0.1", ECHO4.port)),
                             f"datagram {i} ({len(data)} bytes)")

    def test_domain_target(self):
        """'localhost' (rdns: ATYP 03) is resolved by weir; the reply names the address."""
        s = pysocks_udp(self, listener_port("127.0.0.1"), rdns=True)
        data = os.urandom(512)
        s.sendto(data, ("localhost", ECHO4.port))
        echoed, (host, port) = s.recvfrom(65535)
        self.assertEqual(sha256(echoed), sha256(data))
        self.assertIn(host, localhost_addresses())
        self.assertEqual(port, ECHO4.port)

    def test_ipv6_target_through_ipv4_listener(self):
        """An ATYP 04 target (::1) from a client of the IPv4 listener."""
        require_ipv6()
        s = pysocks_udp(self, listener_port("127.0.0.1"))
        data = os.urandom(1000)
        s.sendto(data, ("::1", ECHO6.port))
        echoed, source = s.recvfrom(65535)
        self.assertEqual((sha256(echoed), source), (sha256(data), ("::1", ECHO6.port)))


class Relay(UdpTest):
    def test_reply_header_is_exact(self):
        """A reply from the echo is 00 00 00 01 7f 00 00 01 + its port, then DATA."""
        a = self.associate()
        a.send("127.0.0.1", ECHO4.port, b"ping")
        self.assertEqual(a.receive().hex(" "), (bytes.fromhex("00 00 00 01 7f 00 00 01")
                                                + ECHO4.port.to_bytes(2, "big") + b"ping").hex(" "))

    def test_domain_target(self):
        """ATYP 03 'localhost': the reply's header names the address weir sent to (ATYP 01/04)."""
        a = self.associate()
        repliers = [(host, ECHO4.port) for host in localhost_addresses()]
        a.assert_echo("localhost", ECHO4.port, os.urandom(300), repliers=repliers)

    def test_ipv6_listener(self):
        """A client of [::1]: BND is ::1 (ATYP 04); a ::1 target's reply header is ATYP 04."""
        require_ipv6()
        a = Association(self, listener_port("[::1]"), host="::1")
        a.assert_echo("::1", ECHO6.port, os.urandom(1200))

    def assert_burst(self, a, sizes):
        """Datagrams of `sizes` sent back to back to the echo come back whole, each
        under its header: runs of one size to one address go through weir as one
        segmented (UDP_SEGMENT) send, where the kernel offers it, both ways."""
        sent = [os.urandom(size) for size in sizes]
        for data in sent:
            a.send("127.0.0.1", ECHO4.port, data)
        header = udp_header("127.0.0.1", ECHO4.port)
        got = []
        for _ in sent:
            reply = a.receive()
            self.assertTrue(reply.startswith(header), f"reply header {reply[:10].hex(' ')}")
            got.append((len(reply) - len(header), sha256(reply[len(header):])))
        self.assertEqual(sorted(got), sorted((len(d), sha256(d)) for d in sent))

    def test_burst_of_equal_datagrams(self):
        """32 datagrams of 1,200 bytes, back to back: none lost, merged or cut."""
        self.assert_burst(self.associate(), [1200] * 32)

    def test_burst_of_runs(self):
        """Runs of equal sizes between single datagrams: each run's end is kept."""
        self.assert_burst(self.associate(), [500] * 3 + [900] * 2 + [7] * 4 + [1200] + [64] * 5
                          + [1] + [30000] * 2)

    def test_largest_ipv4_datagram(self):
        """65,497 bytes of DATA (a 65,507-byte datagram to weir) come back whole."""
        a = self.associate()
        a.assert_echo("127.0.0.1", ECHO4.port, os.urandom(LARGEST_IPV4_DATA))


class Pinning(UdpTest):
    def assert_replies_still_pinned(self, a):
        """A datagram the echo sends unasked (to weir's socket for `a`) reaches the
        client's own socket: a dropped datagram did not move the replies."""
        ECHO4.send_unasked(b"unasked")
        self.assertEqual(a.receive(), udp_header("127.0.0.1", ECHO4.port) + b"unasked")

    def assert_foreign_source_dropped(self, source, payload):
        """After a first datagram pins the client, one from `source` (another
        port or address) is not relayed and does not take the replies."""
        a = self.associate()
        a.assert_echo("127.0.0.1", ECHO4.port, b"the first datagram pins its port")
        other = udp_socket(source)
        self.addCleanup(other.close)
        since = len(ECHO4.received())
        a.send("127.0.0.1", ECHO4.port, payload, sock=other)
        a.assert_silent(other)
        self.assert_replies_still_pinned(a)
        self.assert_dropped(a, since)

    def test_other_port_dropped(self):
        """With 0.0.0.0:0 the first datagram's port is pinned: a datagram from another
        port of 127.0.0.1 is not relayed and does not take the replies."""
        self.assert_foreign_source_dropped("127.0.0.1", b"from another port")

    def test_other_address_dropped(self):
        """A datagram from 127.0.0.2 (not the control connection's address) is dropped."""
        self.assert_foreign_source_dropped("127.0.0.2", b"from another address")

    def test_named_source_is_held(self):
        """A client that named its address and port: a first datagram from another
        port is dropped, not pinned."""
        a = self.associate(name_source=True)
        other = udp_socket("127.0.0.1")
        self.addCleanup(other.close)
        since = len(ECHO4.received())
        a.send("127.0.0.1", ECHO4.port, b"from a port the client did not name", sock=other)
        a.assert_silent(other)
        self.assert_dropped(a, since)


class Dropped(UdpTest):
    def test_fragment_dropped(self):
        """FRAG = 1 is dropped; the association goes on."""
        a = self.associate()
        since = len(ECHO4.received())
        a.send("127.0.0.1", ECHO4.port, b"fragment 1", frag=1)
        self.assert_dropped(a, since)

    def test_malformed_dropped(self):
        """Each malformed datagram is dropped; the association goes on after it."""
        good = udp_header("127.0.0.1", ECHO4.port)
        malformed = {
            "3 bytes": good[:3],
            "ATYP 09": good[:3] + b"\x09" + good[4:] + b"data",
            "RSV 00 01": udp_header("127.0.0.1", ECHO4.port, rsv=1) + b"data",
            "IPv4 address cut short": good[:6],
            "no DST.PORT": good[:8],
            "name longer than the datagram": bytes.fromhex("00 00 00 03 20") + b"localhost",
        }
        for name, datagram in malformed.items():
            with self.subTest(name):
                a = self.associate()
                since = len(ECHO4.received())
                a.send_raw(datagram)
                self.assert_dropped(a, since)


class Lifetime(UdpTest):
    def test_closing_control_connection_ends_association(self):
        """After the control connection closes, the session is logged and the relay
        port relays nothing."""
        a = self.associate()
        a.assert_echo("127.0.0.1", ECHO4.port, os.urandom(100))
        client = "127.0.0.1:%d" % a.control.getsockname()[1]
        a.control.close()
        WEIR.sessions(since=self.log_mark, client=client, proto="socks5", result="succeeded")
        since = len(ECHO4.received())
        a.send("127.0.0.1", ECHO4.port, b"after the close")
        a.assert_silent()
        self.assertEqual(ECHO4.received(since), [], "a datagram reached the target after the close")


    def test_session_line_counts_datagrams_and_drops(self):
        """The association's log line: payload bytes and datagrams each way (two
        echoes and assert_dropped's 64-byte marker), and the drops by reason."""
        a = self.associate()
        a.assert_echo("127.0.0.1", ECHO4.port, b"12345")
        a.assert_echo("127.0.0.1", ECHO4.port, b"678")
        since = len(ECHO4.received())
        a.send("127.0.0.1", ECHO4.port, b"fragment", frag=1)
        a.send_raw(b"\x00\x00\x00")
        other = udp_socket("127.0.0.1")
        self.addCleanup(other.close)
        a.send("127.0.0.1", ECHO4.port, b"foreign", sock=other)
        self.assert_dropped(a, since)
        client = "127.0.0.1:%d" % a.control.getsockname()[1]
        a.control.close()
        WEIR.sessions(since=self.log_mark, client=client, result="succeeded", end="eof",
                      relay="udp", up="72", down="72", datagrams="3/3",
                      dropped="foreign:1,frag:1,malformed:1,denied:0,unresolved:0,"
                              "unsolicited:0,unsent:0")


class Rules(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.echo2 = UdpEcho("127.0.0.2")
        cls.weir = harness.Weir(("socks://127.0.0.1:0",), extra=["--rule", "deny to 127.0.0.2"])

    @classmethod
    def tearDownClass(cls):
        cls.weir.stop()
        cls.echo2.stop()

    def test_denied_destination_dropped(self):
        """'deny to 127.0.0.2': a datagram there is dropped; one to 127.0.0.1 is relayed."""
        a = Association(self, self.weir.port("socks"))
        a.send("127.0.0.2", self.echo2.port, b"to a denied destination")
        a.assert_echo("127.0.0.1", ECHO4.port, os.urandom(64))
        a.assert_silent()
        self.assertEqual(self.echo2.received(), [], "a datagram reached a denied destination")

    def test_port_rules_decide_each_datagram(self):
        """'allow to 127.0.0.1 port P' then 'deny': the association opens (the request
        names no destination), a datagram to port P is relayed, one to another port
        of 127.0.0.1 is dropped."""
        weir = harness.Weir(("socks://127.0.0.1:0",), extra=[
            "--rule", f"allow to 127.0.0.1 port {ECHO4.port}", "--rule", "deny"])
        self.addCleanup(weir.stop)
        other = UdpEcho("127.0.0.1")
        self.addCleanup(other.stop)
        a = Association(self, weir.port("socks"))
        a.send("127.0.0.1", other.port, b"to a port the rules deny")
        a.assert_echo("127.0.0.1", ECHO4.port, os.urandom(64))
        a.assert_silent()
        self.assertEqual(other.received(), [], "a datagram reached a denied port")


class Dns(UdpTest):
    def test_query_answered_by_dnsmasq(self):
        """An A query for weir.test through the relay gets dnsmasq's 192.0.2.7."""
        dns = Dnsmasq({"weir.test": "192.0.2.7"})
        self.addCleanup(dns.stop)
        a = self.associate()
        a.send("127.0.0.1", dns.port, dns_query(0x5745, "weir.test"))
        reply = a.receive()
        header = udp_header("127.0.0.1", dns.port)
        self.assertEqual(reply[:len(header)].hex(" "), header.hex(" "))
        self.assertEqual(dns_a_records(reply[len(header):], 0x5745), ["192.0.2.7"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
