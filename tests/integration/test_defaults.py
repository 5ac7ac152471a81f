"""The embedded default listeners, in a private network namespace (they use
the fixed ports 1080 and 1088): on a kernel without IPv6 the [::] listener is
skipped with a warning and the others serve; an explicit IPv6 listener there
still fails start-up."""

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
    def echo_through(self, port):
        with connect(port) as s:
            s.sendall(s5_greeting(0) + s5_request("127.0.0.1", ECHO.port))
            self.assertEqual(recv_exact(s, 2), bytes.fromhex("05 00"))
            self.assertEqual(recv_exact(s, 10)[:2], bytes.fromhex("05 00"))
            s.sendall(b"ping")
            self.assertEqual(recv_exact(s, 4), b"ping")

    def test_all_three_with_ipv6(self):
        """With IPv6, weir listens on all three defaults."""
        weir = harness.Weir([], expect_listeners=3)
        try:
            self.assertEqual(sorted((s, h, p) for s, h, p in weir.listeners),
                             [("socks", "127.0.0.1", 1080), ("socks5", "0.0.0.0", 1088),
                              ("socks5", "[::]", 1088)])
            self.echo_through(1080)
        finally:
            weir.stop()

    def test_no_ipv6_skips_the_ipv6_default(self):
        """Without IPv6, [::]:1088 is skipped with one warning; 1080 and 0.0.0.0:1088 serve."""
        weir = harness.Weir([], prefix=without_ipv6(), expect_listeners=2)
        try:
            self.assertEqual(sorted((s, h, p) for s, h, p in weir.listeners),
                             [("socks", "127.0.0.1", 1080), ("socks5", "0.0.0.0", 1088)])
            warnings = [l for l in weir.text().splitlines() if "skipping" in l]
            self.assertEqual(len(warnings), 1, weir.text())
            self.assertIn("warn skipping the default listener socks5://[::]:1088: "
                          "Address family not supported", warnings[0])
            self.echo_through(1080)
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
