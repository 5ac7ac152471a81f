"""`weir probe`, the container health check: with --metrics it asks /healthz,
otherwise it connects to every listener (closing before a byte, which weir logs
at debug level only); exit 0 when healthy, else 1 after one line saying why."""

import os
import re
import signal
import subprocess
import unittest

import harness
from harness import connect, recv_exact, s5_greeting, s5_request

METRICS_RE = re.compile(r"metrics on http://127\.0\.0\.1:(\d+)/metrics")


def probe(*args, env=None):
    """Runs `weir probe ARGS`; (status, stderr)."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("WEIR_")}
    full_env.update(env or {})
    r = subprocess.run([harness.weir_bin(), "probe", *args], capture_output=True, text=True,
                       timeout=harness.TIMEOUT, stdin=subprocess.DEVNULL, env=full_env)
    return r.returncode, r.stderr


class Listeners(unittest.TestCase):
    def setUp(self):
        self.weir = harness.Weir(["socks://127.0.0.1:0", "socks5://127.0.0.1:0"],
                                 users={"alice": "secret"}, extra=["--log-level", "debug"])
        self.addCleanup(self.weir.stop)
        self.urls = [f"socks://127.0.0.1:{self.weir.port('socks')}",
                     f"socks5://127.0.0.1:{self.weir.port('socks5')}"]

    def test_every_listener_accepts(self):
        mark = self.weir.mark()
        args = [a for url in self.urls for a in ("--listen", url)]
        self.assertEqual(probe(*args), (0, ""))
        # Two pre-connects, logged at debug level (info and above never show them).
        for url in self.urls:
            self.weir.sessions(since=mark, listener=url, result="client-closed", up="0", down="0")
        lines = [l for l in self.weir.lines[mark:] if l and " session " in l]
        self.assertEqual(len(lines), 2, lines)
        for line in lines:
            self.assertRegex(line, r"^\S+ debug session ")

    def test_reads_the_environment_like_serving(self):
        self.assertEqual(probe(env={"WEIR_LISTEN": ",".join(self.urls)}), (0, ""))

    def test_wildcard_listener_is_probed_on_loopback(self):
        port = self.weir.port("socks")
        self.assertEqual(probe("--listen", f"socks://0.0.0.0:{port}"), (0, ""))

    def test_one_listener_down_fails(self):
        port = harness.closed_port()
        status, err = probe("--listen", self.urls[0], "--listen", f"socks://127.0.0.1:{port}")
        self.assertEqual(status, 1)
        self.assertEqual(err, f"weir: probe: 127.0.0.1:{port} (listener socks://127.0.0.1:{port}):"
                              f" cannot connect: Connection refused\n")


class NothingListening(unittest.TestCase):
    def test_listener(self):
        port = harness.closed_port()
        status, err = probe("--listen", f"socks5://127.0.0.1:{port}")
        self.assertEqual((status, err), (1, f"weir: probe: 127.0.0.1:{port} (listener "
                                            f"socks5://127.0.0.1:{port}): cannot connect: "
                                            f"Connection refused\n"))

    def test_metrics(self):
        port = harness.closed_port()
        status, err = probe("--metrics", f"127.0.0.1:{port}")
        self.assertEqual((status, err), (1, f"weir: probe: http://127.0.0.1:{port}/healthz: "
                                            f"cannot connect: Connection refused\n"))

    def test_a_stray_argument_is_a_usage_error(self):
        status, err = probe("now")
        self.assertEqual(status, 2)
        self.assertEqual(err, "weir: error: unexpected argument now (see weir --help)\n")


class Healthz(unittest.TestCase):
    def setUp(self):
        self.echo = harness.EchoTarget()
        self.addCleanup(self.echo.stop)
        self.weir = harness.Weir(["socks://127.0.0.1:0"],
                                 extra=["--metrics", "127.0.0.1:0", "--drain-timeout", "10"])
        self.addCleanup(self.weir.stop, check=False)
        port = int(self.weir.wait_for_lines(METRICS_RE)[0].group(1))
        self.metrics = f"127.0.0.1:{port}"

    def test_healthy_then_draining(self):
        self.assertEqual(probe("--metrics", self.metrics), (0, ""))
        # A session keeps the drain going while the probe asks.
        s = connect(self.weir.port("socks"))
        self.addCleanup(s.close)
        s.sendall(s5_greeting(0) + s5_request("127.0.0.1", self.echo.port))
        self.assertEqual(recv_exact(s, 2), bytes.fromhex("05 00"))
        self.assertEqual(recv_exact(s, 10)[:4], bytes.fromhex("05 00 00 01"))
        self.weir.proc.send_signal(signal.SIGTERM)
        self.weir.wait_for_lines(re.compile(r"drain: stopped accepting"))
        status, err = probe("--metrics", self.metrics)
        self.assertEqual((status, err), (1, f"weir: probe: http://{self.metrics}/healthz "
                                            f"answered 503 draining\n"))
        # The session is still relaying: the drain had not ended.
        s.sendall(b"ping")
        self.assertEqual(recv_exact(s, 4), b"ping")


if __name__ == "__main__":
    unittest.main()
