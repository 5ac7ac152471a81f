"""The embedded default listeners, in a private network namespace (they use
the fixed ports 1080 and 1088): no-auth on both loopback addresses, like
`ssh -D 1080`; on a kernel without IPv6 the IPv6 listeners are skipped with a
warning and the others serve; an explicit IPv6 listener there still fails
start-up. `localhost` in a listen URL binds both loopback addresses."""

import os
import subprocess
import unittest

import harness
from harness import connect, recv_exact, s5_greeting, s5_request


def without_ipv6():
    return [os.environ["WEIR_WITHOUT_IPV6"]]


def setUpModule():
    global ECHO
    ECHO = harness.EchoTarget()


def tearDownModule():
    ECHO.stop()


class Defaults(unittest.TestCase):
    def echo_through(self, port, host="127.0.0.1"):
        with connect(port, host) as s:
            s.sendall(s5_greeting(0) + s5_request("127.0.0.1", ECHO.port))
            self.assertEqual(recv_exact(s, 2), bytes.fromhex("05 00"))
            self.assertEqual(recv_exact(s, 10)[:2], bytes.fromhex("05 00"))
            s.sendall(b"ping")
            self.assertEqual(recv_exact(s, 4), b"ping")

    def test_all_four_with_ipv6(self):
        """With IPv6, weir listens on all four defaults; curl reaches [::1]:1080."""
        weir = harness.Weir([], expect_listeners=4)
        target = harness.HttpTarget(size=100_000)
        try:
            self.assertEqual(sorted((s, h, p) for s, h, p in weir.listeners),
                             [("socks", "127.0.0.1", 1080), ("socks", "[::1]", 1080),
                              ("socks5", "0.0.0.0", 1088), ("socks5", "[::]", 1088)])
            self.echo_through(1080)
            self.echo_through(1080, "::1")
            curl = harness.require_tool("curl")
            for proxy in ("socks5h://[::1]:1080", "socks5h://localhost:1080",
                          "socks4a://[::1]:1080"):
                body = subprocess.run([curl, "-sS", "-x", proxy, target.url()], check=True,
                                      capture_output=True, timeout=harness.TIMEOUT).stdout
                self.assertEqual(harness.sha256(body), target.sha256, proxy)
        finally:
            target.stop()
            weir.stop()

    def test_no_ipv6_skips_the_ipv6_defaults(self):
        """Without IPv6, [::1]:1080 and [::]:1088 are skipped with a warning each;
        127.0.0.1:1080 and 0.0.0.0:1088 serve."""
        weir = harness.Weir([], prefix=without_ipv6(), expect_listeners=2)
        try:
            self.assertEqual(sorted((s, h, p) for s, h, p in weir.listeners),
                             [("socks", "127.0.0.1", 1080), ("socks5", "0.0.0.0", 1088)])
            warnings = [l for l in weir.text().splitlines() if "skipping" in l]
            self.assertEqual(len(warnings), 2, weir.text())
            self.assertIn("warn skipping the default listener socks://[::1]:1080: "
                          "Address family not supported", warnings[0])
            self.assertIn("warn skipping the default listener socks5://[::]:1088: "
                          "Address family not supported", warnings[1])
            self.echo_through(1080)
        finally:
            weir.stop()

    def test_localhost_binds_both_loopback_addresses(self):
        """--listen socks://localhost:PORT serves on 127.0.0.1 and [::1]; a rule
        naming that listener holds on both."""
        weir = harness.Weir(["socks://localhost:1090"], expect_listeners=2,
                            extra=["--rule", f"deny listener socks://localhost:1090 port {ECHO.port + 1}"])
        try:
            self.assertEqual(sorted((s, h, p) for s, h, p in weir.listeners),
                             [("socks", "127.0.0.1", 1090), ("socks", "[::1]", 1090)])
            self.echo_through(1090)
            self.echo_through(1090, "::1")
            for host in ("127.0.0.1", "::1"):
                with connect(1090, host) as s:
                    s.sendall(s5_greeting(0) + s5_request("127.0.0.1", ECHO.port + 1))
                    self.assertEqual(recv_exact(s, 2), bytes.fromhex("05 00"))
                    self.assertEqual(recv_exact(s, 10)[:2], bytes.fromhex("05 02"), host)
        finally:
            weir.stop()

    def test_localhost_without_ipv6_serves_on_127_0_0_1(self):
        weir = harness.Weir(["socks://localhost:1090"], prefix=without_ipv6(), expect_listeners=1)
        try:
            self.assertEqual([(s, h, p) for s, h, p in weir.listeners],
                             [("socks", "127.0.0.1", 1090)])
            self.assertIn("warn skipping the localhost listener socks://[::1]:1090: "
                          "Address family not supported", weir.text())
            self.echo_through(1090)
        finally:
            weir.stop()

    def test_explicit_ipv6_listener_still_fails(self):
        """A listener the user asked for is never skipped: no IPv6 means exit 2."""
        result = subprocess.run(
            [*without_ipv6(), harness.weir_bin(), "--listen", "socks5://[::1]:0",
             "--relay", harness.relay_mode()],
            capture_output=True, text=True, timeout=harness.TIMEOUT, stdin=subprocess.DEVNULL)
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertIn("cannot listen on socks5://[::1]:0", result.stderr)


if __name__ == "__main__":
    harness.main_in_private_netns()
