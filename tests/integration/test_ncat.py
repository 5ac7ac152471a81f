"""ncat's SOCKS clients through weir to a local echo server, byte for byte."""

import unittest

import harness

USERS = {"alice": "ncat-password"}
LINES = b"".join(b"line %04d: the quick brown fox jumps over the lazy dog\n" % i
                 for i in range(200))


def setUpModule():
    global NCAT, ECHO, WEIR
    NCAT = harness.require_tool("ncat")
    ECHO = harness.EchoTarget()
    WEIR = harness.Weir(harness.STANDARD_LISTENS, users=USERS)


def tearDownModule():
    WEIR.stop()
    ECHO.stop()


class NcatTest(unittest.TestCase):
    def echo(self, *proxy_args):
        """Send LINES through ncat; ncat half-closes on stdin EOF, the echo follows."""
        result = harness.run_tool([NCAT, *proxy_args, "127.0.0.1", str(ECHO.port)],
                                  stdin=LINES)
        self.assertEqual(result.returncode, 0, result.stderr.decode(errors="replace"))
        self.assertEqual(result.stdout, LINES)

    def test_socks4(self):
        """ncat --proxy-type socks4 on a socks4 listener echoes exactly."""
        self.echo("--proxy", f"127.0.0.1:{WEIR.port('socks4')}", "--proxy-type", "socks4")

    def test_socks5_no_auth(self):
        """ncat --proxy-type socks5 without auth on the sniffing listener."""
        self.echo("--proxy", f"127.0.0.1:{WEIR.port('socks')}", "--proxy-type", "socks5")

    def test_socks5_password(self):
        """ncat --proxy-auth user:pass on a password listener; up/down counted exactly."""
        self.echo("--proxy", f"127.0.0.1:{WEIR.port('socks5')}", "--proxy-type", "socks5",
                  "--proxy-auth", f"alice:{USERS['alice']}")
        WEIR.sessions(user="alice", target=f"127.0.0.1:{ECHO.port}", result="succeeded",
                      up=str(len(LINES)), down=str(len(LINES)))

    def test_socks5_wrong_password(self):
        """A wrong --proxy-auth makes ncat fail without any echoed byte."""
        result = harness.run_tool(
            [NCAT, "--proxy", f"127.0.0.1:{WEIR.port('socks5')}", "--proxy-type", "socks5",
             "--proxy-auth", "alice:nope", "127.0.0.1", str(ECHO.port)], stdin=LINES)
        self.assertNotEqual(result.returncode, 0)
        self.assertEqual(result.stdout, b"")


if __name__ == "__main__":
    unittest.main(verbosity=2)
