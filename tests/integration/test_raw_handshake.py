"""Hand-made SOCKS bytes against weir: pipelining, exact replies, refusals, timeouts,
and the plain-text 400 an HTTP client pointed at a SOCKS port gets."""

import json
import os
import re
import socket
import time
import unittest
import urllib.request

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


# Written out in full, independently of the codec: what an HTTP client gets.
HTTP_BODY = (b"This is a SOCKS proxy (weir), not an HTTP proxy.\n"
             b"Point your client at it as socks5h://HOST:PORT "
             b"(curl: -x socks5h://HOST:PORT or --socks5-hostname HOST:PORT).\n")
HTTP_400 = (b"HTTP/1.1 400 Bad Request\r\n"
            b"Content-Type: text/plain\r\n"
            b"Content-Length: %d\r\n"
            b"Connection: close\r\n"
            b"\r\n" % len(HTTP_BODY)) + HTTP_BODY
HTTP_REFUSED = "refused:an-http-request-on-a-socks-port"


class HttpClient(RawTest):
    """An HTTP client pointed at a SOCKS port gets a 400 saying what the port is."""

    @classmethod
    def setUpClass(cls):
        cls.http = harness.HttpTarget(size=1024)
        cls.tmp = harness.TempDir()

    @classmethod
    def tearDownClass(cls):
        cls.http.stop()
        cls.tmp.cleanup()

    def assert_one_refusal(self, client=None, scheme="socks"):
        """Exactly one session line since the test began: the HTTP refusal."""
        match = {"result": HTTP_REFUSED}
        if client is not None:
            match["client"] = client
        fields = WEIR.sessions(since=self.log_mark, **match)
        self.assertEqual(len(fields), 1, fields)
        self.assertEqual(fields[0]["listener"], f"{scheme}://127.0.0.1:{WEIR.port(scheme)}")
        self.assertEqual(fields[0]["proto"], "-")
        self.assertEqual(fields[0]["target"], "-")
        lines = [l for l in WEIR.text().splitlines()[self.log_mark:] if " session " in l]
        self.assertEqual(len(lines), 1, lines)

    def curl(self, *args):
        out = os.path.join(self.tmp.path, "body")
        if os.path.exists(out):
            os.unlink(out)
        result = harness.run_tool([harness.require_tool("curl"), "-sS", "--max-time", "60",
                                   "-o", out, *args])
        body = b""  # with --fail, or after a failed CONNECT, curl writes no file
        if os.path.exists(out):
            with open(out, "rb") as f:
                body = f.read()
        return result, body

    def test_raw_get(self):
        """GET on every listener kind: exactly the response bytes, then EOF."""
        for scheme in ("socks", "socks4", "socks5"):
            with self.subTest(scheme=scheme):
                self.log_mark = WEIR.mark()
                s = self.open(scheme)
                s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                self.assertEqual(harness.recv_all(s), HTTP_400)
                client = "127.0.0.1:%d" % s.getsockname()[1]
                s.close()  # weir waits for the client's close (2 s at most) before logging
                self.assert_one_refusal(client, scheme)

    def test_large_request_gets_the_400_not_a_reset(self):
        """A request head larger than weir reads at once (a POST with its body,
        cookies): the 400 and a clean EOF, not a reset that loses the answer."""
        self.log_mark = WEIR.mark()
        s = self.open("socks")
        request = (b"POST /upload HTTP/1.1\r\nHost: x\r\nCookie: " + b"c" * 6000 +
                   b"\r\nContent-Length: 20000\r\n\r\n" + b"b" * 20000)
        s.sendall(request)
        # Unread bytes at close() make the kernel send a reset, which discards
        # what the client has not read yet: give weir the time to close first.
        time.sleep(0.5)
        self.assertEqual(harness.recv_all(s), HTTP_400)
        client = "127.0.0.1:%d" % s.getsockname()[1]
        s.close()
        self.assert_one_refusal(client)

    def test_raw_connect(self):
        """CONNECT (what https_proxy users send) gets the same 400."""
        s = self.open("socks")
        s.sendall(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")
        self.assertEqual(harness.recv_all(s), HTTP_400)
        client = "127.0.0.1:%d" % s.getsockname()[1]
        s.close()
        self.assert_one_refusal(client)

    def test_curl_http_proxy(self):
        """curl -x http://weir: status 400 and the exact body; with --fail, exit 22."""
        proxy = f"http://127.0.0.1:{WEIR.port('socks')}"
        result, body = self.curl("-w", "%{http_code}", "-x", proxy, self.http.url("/small"))
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout, b"400")
        self.assertEqual(body, HTTP_BODY)
        self.assert_one_refusal()

        self.log_mark = WEIR.mark()
        result, body = self.curl("--fail", "-x", proxy, self.http.url("/small"))
        self.assertEqual(result.returncode, 22, result.stderr)
        self.assertEqual(body, b"")
        self.assert_one_refusal()

    def test_curl_https_through_http_proxy(self):
        """curl -x http://weir https://...: its CONNECT gets the 400 (curl exit 56)."""
        proxy = f"http://127.0.0.1:{WEIR.port('socks')}"
        result, _ = self.curl("-w", "%{http_connect}", "-x", proxy,
                              f"https://127.0.0.1:{self.http.port}/")
        self.assertEqual(result.returncode, 56, result.stderr)
        self.assertEqual(result.stdout, b"400")
        self.assertIn(b"400", result.stderr)
        self.assert_one_refusal()


class HttpClientReported(unittest.TestCase):
    """The refusal in the JSON log (no SOCKS reply code) and in the metrics."""

    def test_json_log_and_metrics(self):
        """Two HTTP requests: two JSON session events without a reply code, counted under
        reason="refused:an-http-request-on-a-socks-port"."""
        weir = harness.Weir(["socks://127.0.0.1:0"],
                            extra=["--log-format", "json", "--metrics", "127.0.0.1:0"])
        self.addCleanup(weir.stop)
        metrics = re.compile(r"metrics on http://127\.0\.0\.1:(\d+)/metrics")
        metrics_port = int(weir.wait_for_lines(metrics)[0].group(1))
        for request in (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"POST /x HTTP/1.0\r\n\r\n"):
            with connect(weir.port("socks")) as s:
                s.sendall(request)
                self.assertEqual(harness.recv_all(s), HTTP_400)
        weir.wait_for_lines(re.compile(r'"event":"session"'), count=2)
        sessions = [json.loads(l) for l in weir.text().splitlines() if '"event":"session"' in l]
        self.assertEqual(len(sessions), 2)
        for session in sessions:
            self.assertEqual(session["result"], HTTP_REFUSED)
            self.assertNotIn("reply", session)  # an HTTP 400 is no SOCKS reply code
            self.assertEqual(session["protocol"], "-")
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(f"http://127.0.0.1:{metrics_port}/metrics",
                         timeout=harness.TIMEOUT) as r:
            text = r.read().decode()
        self.assertIn(f'weir_handshake_failures_total{{reason="{HTTP_REFUSED}"}} 2\n', text)


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
