"""proxychains4 (LD_PRELOAD) routing an unmodified curl through weir, one and two hops."""

import os
import unittest

import harness

USERS = {"alice": "s3cret-alice"}


def setUpModule():
    global PROXYCHAINS, CURL, TMP, HTTP, WEIR
    PROXYCHAINS = harness.require_tool("proxychains4")
    CURL = harness.require_tool("curl")
    TMP = harness.TempDir()
    HTTP = harness.HttpTarget()
    WEIR = harness.Weir(["socks://127.0.0.1:0", "socks5://127.0.0.1:0"], users=USERS)


def tearDownModule():
    WEIR.stop()
    HTTP.stop()
    TMP.cleanup()


def write_config(name, proxies):
    """A strict chain through `proxies`, DNS not proxied (targets are IP literals)."""
    path = os.path.join(TMP.path, name)
    with open(path, "w") as f:
        f.write("strict_chain\nquiet_mode\n"
                "tcp_read_time_out 15000\ntcp_connect_time_out 8000\n"
                "[ProxyList]\n")
        f.writelines(p + "\n" for p in proxies)
    return path


class ProxychainsTest(unittest.TestCase):
    def fetch(self, config):
        result = harness.run_tool([PROXYCHAINS, "-f", config, CURL, "-sS", "--fail",
                                   "--max-time", "60", "-o", "-", HTTP.url()])
        self.assertEqual(result.returncode, 0, result.stderr.decode(errors="replace"))
        self.assertEqual(len(result.stdout), len(HTTP.body))
        self.assertEqual(harness.sha256(result.stdout), HTTP.sha256)

    def test_socks4(self):
        """proxychains' SOCKS4 client works against the sniffing listener."""
        self.fetch(write_config("socks4.conf",
                                [f"socks4 127.0.0.1 {WEIR.port('socks')}"]))

    def test_socks5_password(self):
        """proxychains' SOCKS5 client authenticates with user/password."""
        self.fetch(write_config("socks5.conf", [
            f"socks5 127.0.0.1 {WEIR.port('socks5')} alice {USERS['alice']}"]))
        WEIR.sessions(user="alice", proto="socks5", target=f"127.0.0.1:{HTTP.port}",
                      result="succeeded")

    def test_two_hops(self):
        """A chain through weir twice: hop 1 (SOCKS4) tunnels to hop 2 (SOCKS5 + password)."""
        hop2 = WEIR.port("socks5")
        self.fetch(write_config("chain.conf", [
            f"socks4 127.0.0.1 {WEIR.port('socks')}",
            f"socks5 127.0.0.1 {hop2} alice {USERS['alice']}"]))
        WEIR.sessions(proto="socks4", target=f"127.0.0.1:{hop2}", result="succeeded")


if __name__ == "__main__":
    unittest.main(verbosity=2)
