"""PySocks (socks.socksocket) through weir to a local echo server."""

import os
import socket
import unittest

import socks

import harness

USERS = {"alice": "pysocks-password"}
PAYLOAD = os.urandom(8 * 1024)


def setUpModule():
    global ECHO, WEIR
    ECHO = harness.EchoTarget()
    WEIR = harness.Weir(harness.STANDARD_LISTENS, users=USERS)


def tearDownModule():
    WEIR.stop()
    ECHO.stop()


def cause(error):
    """PySocks wraps protocol errors in GeneralProxyError("Socket error", cause)."""
    return error.socket_err if isinstance(error, socks.GeneralProxyError) else error


class PySocksTest(unittest.TestCase):
    def open(self, proxy_type, scheme, host="127.0.0.1", **kw):
        s = socks.socksocket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(harness.TIMEOUT)
        s.set_proxy(proxy_type, "127.0.0.1", WEIR.port(scheme), **kw)
        self.addCleanup(s.close)
        s.connect((host, ECHO.port))
        return s

    def assert_echo(self, s):
        s.sendall(PAYLOAD)
        s.shutdown(socket.SHUT_WR)
        self.assertEqual(harness.recv_all(s), PAYLOAD)

    def test_socks4(self):
        """SOCKS4 with an IPv4 target."""
        self.assert_echo(self.open(socks.SOCKS4, "socks4", rdns=False))

    def test_socks4a(self):
        """SOCKS4a (rdns) with 'localhost' resolved by weir."""
        self.assert_echo(self.open(socks.SOCKS4, "socks4", host="localhost", rdns=True))

    def test_socks4_userid(self):
        """A SOCKS4 USERID field is accepted on a no-auth listener."""
        self.assert_echo(self.open(socks.SOCKS4, "socks", rdns=False, username="someone"))

    def test_socks5_remote_dns(self):
        """SOCKS5 with a domain target (rdns=True, 'localhost')."""
        self.assert_echo(self.open(socks.SOCKS5, "socks", host="localhost", rdns=True))

    def test_socks5_local_dns(self):
        """SOCKS5 with an IPv4 target (rdns=False)."""
        self.assert_echo(self.open(socks.SOCKS5, "socks", rdns=False))

    def test_socks5_password(self):
        """SOCKS5 with RFC 1929 username/password."""
        self.assert_echo(self.open(socks.SOCKS5, "socks5", username="alice",
                                   password=USERS["alice"]))

    def test_socks5_wrong_password(self):
        """A wrong password raises a SOCKS5 authentication error."""
        with self.assertRaises(socks.ProxyError) as cm:
            self.open(socks.SOCKS5, "socks5", username="alice", password="wrong")
        self.assertIsInstance(cause(cm.exception), socks.SOCKS5AuthError)

    def test_socks5_refused_target(self):
        """A refused target is reported as SOCKS5 error 0x05 (connection refused)."""
        s = socks.socksocket()
        s.settimeout(harness.TIMEOUT)
        s.set_proxy(socks.SOCKS5, "127.0.0.1", WEIR.port("socks"))
        self.addCleanup(s.close)
        with self.assertRaises(socks.ProxyError) as cm:
            s.connect(("127.0.0.1", harness.closed_port()))
        error = cause(cm.exception)
        self.assertIsInstance(error, socks.SOCKS5Error)
        self.assertTrue(str(error).startswith("0x05:"), str(error))

    def test_socks4_refused_target(self):
        """A refused target is reported as SOCKS4 error 0x5b (request rejected)."""
        s = socks.socksocket()
        s.settimeout(harness.TIMEOUT)
        s.set_proxy(socks.SOCKS4, "127.0.0.1", WEIR.port("socks4"), rdns=False)
        self.addCleanup(s.close)
        with self.assertRaises(socks.ProxyError) as cm:
            s.connect(("127.0.0.1", harness.closed_port()))
        error = cause(cm.exception)
        self.assertIsInstance(error, socks.SOCKS4Error)
        self.assertTrue(str(error).startswith("0x5b:"), str(error))


if __name__ == "__main__":
    unittest.main(verbosity=2)
