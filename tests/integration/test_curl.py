"""curl through weir: every SOCKS flavour curl speaks, with and without a password."""

import unittest

import harness

USERS = {"alice": "correct horse battery staple", "bob": "hunter2"}


def setUpModule():
    global CURL, HTTP, WEIR
    CURL = harness.require_tool("curl")
    HTTP = harness.HttpTarget()
    WEIR = harness.Weir(harness.STANDARD_LISTENS, users=USERS)


def tearDownModule():
    WEIR.stop()
    HTTP.stop()


def curl(*args, url):
    return harness.run_tool([CURL, "-sS", "--fail", "--max-time", "60", "-o", "-",
                             *args, url])


class CurlTest(unittest.TestCase):
    def assert_downloaded(self, result):
        self.assertEqual(result.returncode, 0, result.stderr.decode(errors="replace"))
        self.assertEqual(len(result.stdout), len(HTTP.body))
        self.assertEqual(harness.sha256(result.stdout), HTTP.sha256)

    def assert_refused(self, result):
        self.assertNotEqual(result.returncode, 0, "curl should have failed")
        self.assertEqual(result.stdout, b"", "no body may arrive")

    def proxy(self, scheme):
        return f"127.0.0.1:{WEIR.port(scheme)}"

    def test_socks4(self):
        """SOCKS4 (IPv4 target) on a socks4 listener delivers the file intact."""
        self.assert_downloaded(curl("--socks4", self.proxy("socks4"), url=HTTP.url()))

    def test_socks4a(self):
        """SOCKS4a: weir resolves 'localhost' itself and logs proto=socks4a."""
        self.assert_downloaded(
            curl("--socks4a", self.proxy("socks4"), url=HTTP.url(host="localhost")))
        WEIR.sessions(proto="socks4a", result="succeeded")

    def test_socks4_on_sniffing_listener(self):
        """A 'socks' listener accepts SOCKS4 by sniffing the first byte."""
        self.assert_downloaded(curl("--socks4", self.proxy("socks"), url=HTTP.url()))

    def test_socks5(self):
        """SOCKS5 without auth (IPv4 target) on the sniffing listener."""
        self.assert_downloaded(curl("--socks5", self.proxy("socks"), url=HTTP.url()))

    def test_socks5_hostname(self):
        """SOCKS5 with a domain-name target: weir resolves 'localhost'."""
        self.assert_downloaded(
            curl("--socks5-hostname", self.proxy("socks"), url=HTTP.url(host="localhost")))

    def test_socks5_password(self):
        """RFC 1929 username/password on a password listener; logged with user=alice."""
        self.assert_downloaded(curl("--socks5", self.proxy("socks5"), "--proxy-user",
                                    f"alice:{USERS['alice']}", url=HTTP.url()))
        WEIR.sessions(user="alice", result="succeeded", target=f"127.0.0.1:{HTTP.port}")

    def test_socks5_hostname_password(self):
        """Password auth combined with a domain-name target."""
        self.assert_downloaded(
            curl("--socks5-hostname", self.proxy("socks5"), "--proxy-user",
                 f"bob:{USERS['bob']}", url=HTTP.url(host="localhost")))

    def test_wrong_password(self):
        """A wrong password is refused and no byte of the page arrives."""
        self.assert_refused(curl("--socks5", self.proxy("socks5"), "--proxy-user",
                                 "alice:wrong", url=HTTP.url("/small")))

    def test_unknown_user(self):
        """An unknown user is refused like a wrong password."""
        self.assert_refused(curl("--socks5", self.proxy("socks5"), "--proxy-user",
                                 f"mallory:{USERS['alice']}", url=HTTP.url("/small")))

    def test_no_credentials_on_password_listener(self):
        """A client that offers no password method cannot use a password listener."""
        self.assert_refused(curl("--socks5", self.proxy("socks5"), url=HTTP.url("/small")))

    def test_socks4_on_password_listener(self):
        """A socks5 password listener does not accept SOCKS4 (it would bypass auth)."""
        self.assert_refused(curl("--socks4", self.proxy("socks5"), url=HTTP.url("/small")))


if __name__ == "__main__":
    unittest.main(verbosity=2)
