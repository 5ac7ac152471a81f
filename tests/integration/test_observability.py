"""What an operator sees: the metrics endpoint (--metrics), JSON logs
(--log-format json) and the debug level."""

import json
import re
import signal
import socket
import urllib.request
import unittest

import harness
from harness import (connect, recv_exact, s5_credentials, s5_greeting, s5_request)

PASSWORD = "correct horse battery staple"


def setUpModule():
    global ECHO
    ECHO = harness.EchoTarget()


def tearDownModule():
    ECHO.stop()


METRICS_RE = re.compile(r"metrics on http://127\.0\.0\.1:(\d+)/metrics")


def metrics_port(weir):
    return int(weir.wait_for_lines(METRICS_RE)[0].group(1))


def get(port, path):
    """(status, body) of GET http://127.0.0.1:port/path."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}",
                                    timeout=harness.TIMEOUT) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def scrape(port):
    """{'name{labels}': value} of every sample on /metrics."""
    status, body = get(port, "/metrics")
    assert status == 200, (status, body)
    samples = {}
    for line in body.splitlines():
        if line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            samples[key] = float(value)
    return samples


def relay_once(port, payload, user=None):
    """A SOCKS5 CONNECT to the echo target, `payload` there and back."""
    with connect(port) as s:
        if user is None:
            s.sendall(s5_greeting(0) + s5_request("127.0.0.1", ECHO.port))
            assert recv_exact(s, 2) == bytes.fromhex("05 00")
        else:
            s.sendall(s5_greeting(2) + s5_credentials(user, PASSWORD)
                      + s5_request("127.0.0.1", ECHO.port))
            assert recv_exact(s, 4) == bytes.fromhex("05 02 01 00")
        assert recv_exact(s, 10)[:2] == bytes.fromhex("05 00")
        s.sendall(payload)
        assert recv_exact(s, len(payload)) == payload


class Metrics(unittest.TestCase):
    def test_counts(self):
        """After a relayed session, a failed login, a denied request and a bad
        greeting, each counter says exactly that."""
        closed = harness.closed_port()
        weir = harness.Weir(["socks5://127.0.0.1:0?auth=password", "socks://127.0.0.1:0"],
                            users={"alice": PASSWORD},
                            extra=["--metrics", "127.0.0.1:0",
                                   "--rule", f"deny to 127.0.0.1 port {closed}"])
        self.addCleanup(weir.stop)
        port = metrics_port(weir)
        s5, plain = weir.port("socks5"), weir.port("socks")
        url5 = f"socks5://127.0.0.1:{s5}"
        url = f"socks://127.0.0.1:{plain}"
        payload = bytes(range(256)) * 64  # 16 KiB
        relay_once(s5, payload, user="alice")
        with connect(s5) as s:  # a wrong password
            s.sendall(s5_greeting(2) + s5_credentials("alice", "wrong"))
            self.assertEqual(recv_exact(s, 4), bytes.fromhex("05 02 01 01"))
        with connect(plain) as s:  # denied by rule 1
            s.sendall(s5_greeting(0) + s5_request("127.0.0.1", closed))
            self.assertEqual(recv_exact(s, 2), bytes.fromhex("05 00"))
            self.assertEqual(recv_exact(s, 10)[:2], bytes.fromhex("05 02"))
        with connect(plain) as s:  # not SOCKS
            s.sendall(b"\x07\x01")
            harness.assert_eof(self, s)
        weir.sessions(count=4)  # every session has ended
        m = scrape(port)
        key = 'weir_sessions_total{{listener="{}",protocol="{}",command="{}",result="{}"}}'
        self.assertEqual(m[key.format(url5, "socks5", "connect", "succeeded")], 1)
        self.assertEqual(m[key.format(url5, "socks5", "-", "refused")], 1)  # the wrong password
        self.assertEqual(m[key.format(url, "socks5", "connect", "command-failed")], 1)
        self.assertEqual(m[key.format(url, "-", "-", "refused")], 1)
        self.assertEqual(m[f'weir_bytes_total{{listener="{url5}",direction="up"}}'],
                         len(payload))
        self.assertEqual(m[f'weir_bytes_total{{listener="{url5}",direction="down"}}'],
                         len(payload))
        self.assertEqual(m[f'weir_login_failures_total{{listener="{url5}"}}'], 1)
        self.assertEqual(m[f'weir_sessions_active{{listener="{url5}"}}'], 0)
        self.assertEqual(m['weir_rule_denials_total{rule="1"}'], 1)
        self.assertEqual(m['weir_handshake_failures_total{reason="refused:authentication-failed"}'], 1)
        self.assertEqual(
            m['weir_handshake_failures_total{reason="refused:unsupported-socks-version"}'], 1)
        self.assertEqual(m["weir_connect_seconds_count"], 1)
        self.assertEqual(m['weir_connect_seconds_bucket{le="+Inf"}'], 1)
        self.assertEqual(m["weir_session_duration_seconds_count"], 4)
        relay = "splice" if harness.relay_mode() == "splice" else "copy"
        self.assertEqual(m[f'weir_relays_total{{relay="{relay}"}}'], 1)
        self.assertEqual(m["weir_draining"], 0)
        self.assertEqual(m["weir_sessions"], 0)

    def test_health_turns_503_while_draining(self):
        """/healthz: 200 "ok" while serving, 503 "draining" once SIGTERM came."""
        weir = harness.Weir(["socks://127.0.0.1:0"],
                            extra=["--metrics", "127.0.0.1:0", "--drain-timeout", "60s"])
        self.addCleanup(weir.stop, check=False)
        port = metrics_port(weir)
        self.assertEqual(get(port, "/healthz"), (200, "ok\n"))
        s = connect(weir.port("socks"))
        s.sendall(s5_greeting(0) + s5_request("127.0.0.1", ECHO.port))
        self.assertEqual(recv_exact(s, 2), bytes.fromhex("05 00"))
        self.assertEqual(recv_exact(s, 10)[:2], bytes.fromhex("05 00"))
        self.assertEqual(scrape(port)["weir_sessions"], 1)
        mark = weir.mark()
        weir.proc.send_signal(signal.SIGTERM)
        weir.wait_for_lines(re.compile("drain: stopped accepting"), start=mark)
        self.assertEqual(get(port, "/healthz"), (503, "draining\n"))
        self.assertEqual(scrape(port)["weir_draining"], 1)
        s.close()
        self.assertEqual(weir.proc.wait(harness.TIMEOUT), 0, weir.text())

    def test_other_requests(self):
        """Only GET (and HEAD) of /metrics and /healthz: a POST gets 405, another path 404."""
        weir = harness.Weir(["socks://127.0.0.1:0"], extra=["--metrics", "127.0.0.1:0"])
        self.addCleanup(weir.stop)
        port = metrics_port(weir)
        self.assertEqual(get(port, "/")[0], 404)
        req = urllib.request.Request(f"http://127.0.0.1:{port}/metrics", data=b"x",
                                     method="POST")
        with self.assertRaises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(req, timeout=harness.TIMEOUT)
        self.assertEqual(e.exception.code, 405)

    def test_remote_address_refused(self):
        """--metrics on an address other hosts reach needs --metrics-allow-remote."""
        result = harness.run_weir(["--listen", "socks://127.0.0.1:0", "--metrics", "0.0.0.0:0"])
        self.assertEqual(result.returncode, 2)
        self.assertIn("--metrics-allow-remote", result.stderr)


class JsonLogs(unittest.TestCase):
    def test_every_line_is_an_event(self):
        """--log-format json: every line is one JSON object; the session's
        fields are named and typed; the password is nowhere."""
        weir = harness.Weir(["socks5://127.0.0.1:0?auth=password"], users={"alice": PASSWORD},
                            extra=["--log-format", "json"])
        payload = b"x" * 1000
        relay_once(weir.port("socks5"), payload, user="alice")
        weir.wait_for_lines(re.compile(r'"event":"session"'))
        weir.stop()
        events = [json.loads(line) for line in weir.text().splitlines()]
        for e in events:
            self.assertRegex(e["timestamp"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
            self.assertIn(e["level"], ("debug", "info", "warn", "error"))
        by_name = {e["event"]: e for e in events}
        listening = by_name["listening"]
        self.assertEqual(listening["url"], f"socks5://127.0.0.1:{weir.port('socks5')}")
        self.assertEqual(listening["auth"], "password")
        session = by_name["session"]
        self.assertRegex(session["client"], r"^127\.0\.0\.1:\d+$")
        self.assertEqual(session["listener"], listening["url"])
        self.assertEqual(session["protocol"], "socks5")
        self.assertEqual(session["user"], "alice")
        self.assertEqual(session["target"], f"127.0.0.1:{ECHO.port}")
        self.assertEqual(session["resolved"], f"127.0.0.1:{ECHO.port}")
        self.assertEqual(session["result"], "succeeded")
        self.assertEqual(session["reply"], "0x00")
        self.assertEqual(session["end"], "eof")
        self.assertIn(session["relay"], ("splice", "copy"))
        self.assertEqual((session["up"], session["down"]), (1000, 1000))
        self.assertIsInstance(session["duration"], float)
        self.assertNotIn("datagrams_up", session)
        self.assertEqual(by_name["drain"]["phase"], "done")
        self.assertIn("shutdown", by_name)
        self.assertNotIn(PASSWORD, weir.text())

    def test_names_escaped(self):
        """A target name with a quote, a backslash and bytes outside ASCII stays
        one valid object; the name is escaped as in text logs (\\xNN)."""
        weir = harness.Weir(["socks://127.0.0.1:0"], extra=["--log-format", "json"])
        self.addCleanup(weir.stop)
        with connect(weir.port("socks")) as s:
            name = b'a"b\\\xc3\xa9.example'
            s.sendall(s5_greeting(0) + bytes([5, 1, 0, 3, len(name)]) + name + b"\x00\x50")
            self.assertEqual(recv_exact(s, 2), bytes.fromhex("05 00"))
            recv_exact(s, 10)
        weir.wait_for_lines(re.compile(r'"event":"session"'))
        session = [json.loads(l) for l in weir.text().splitlines() if '"session"' in l][0]
        self.assertEqual(session["target"], 'a"b\\x5c\\xc3\\xa9.example:80')
        self.assertEqual(session["result"], "connect-failed:not-a-host-name")


class DebugLevel(unittest.TestCase):
    def test_handshake_steps_and_preconnects(self):
        """debug: each handshake step and connect attempt; a connection closed
        before its first byte (a browser's pre-connect) is a debug line only."""
        quiet = harness.Weir(["socks://127.0.0.1:0"])
        self.addCleanup(quiet.stop)
        loud = harness.Weir(["socks5://127.0.0.1:0?auth=password"], users={"alice": PASSWORD},
                            extra=["--log-level", "debug"])
        self.addCleanup(loud.stop)
        socket.create_connection(("127.0.0.1", quiet.port("socks"))).close()
        relay_once(quiet.port("socks"), b"after the pre-connect")
        lines = quiet.sessions()  # the relayed one is logged ...
        self.assertEqual(lines[0]["result"], "succeeded")
        self.assertNotIn("client-closed", quiet.text())  # ... the pre-connect is not

        socket.create_connection(("127.0.0.1", loud.port("socks5"))).close()
        loud.sessions(result="client-closed")
        relay_once(loud.port("socks5"), b"ping", user="alice")
        loud.sessions(result="succeeded")
        text = loud.text()
        self.assertRegex(text, r" debug session client=\S+ .* result=client-closed")
        self.assertRegex(text, r" debug handshake client=\S+: sent 05 02\n")
        self.assertRegex(text, r" debug handshake client=\S+: login user=alice accepted\n")
        self.assertRegex(text, r" debug handshake client=\S+: sent 01 00\n")
        self.assertRegex(text, r" debug handshake client=\S+: request socks5 connect\n")
        self.assertRegex(text, rf" debug connect 127\.0\.0\.1:{ECHO.port}: tried "
                               rf"127\.0\.0\.1:{ECHO.port}: connected\n")
        self.assertNotIn(PASSWORD, text)


if __name__ == "__main__":
    unittest.main(verbosity=2)
