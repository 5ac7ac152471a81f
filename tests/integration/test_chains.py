"""A proxychains chain through a network listener (hop 1) to a loopback
listener (hop 2) on the same host: the guard of network listeners refuses
hop 1's CONNECT to 127.0.0.1, and a rule naming hop 2 opens it.

Hop 1 listens on 0.0.0.0, as a network listener does (the guard is decided by
the listener's address, and a loopback one has none). The file runs in a
private network namespace (it re-executes itself under `unshare -n`, only
loopback up), so 0.0.0.0 there is loopback and nothing else.
"""

import os
import re
import unittest

import harness

USERS = {"alice": "s3cret-alice"}


def setUpModule():
    global PROXYCHAINS, CURL, TMP, HTTP, HOP2
    PROXYCHAINS = harness.require_tool("proxychains4")
    CURL = harness.require_tool("curl")
    TMP = harness.TempDir()
    HTTP = harness.HttpTarget()
    HOP2 = harness.Weir(["socks://127.0.0.1:0"])  # the laptop-style listener: no password


def tearDownModule():
    HOP2.stop()
    HTTP.stop()
    TMP.cleanup()


def chain_config(hop1):
    """hop 1: weir's network listener, with alice's password; hop 2: the loopback one."""
    path = os.path.join(TMP.path, f"chain-{hop1}.conf")
    with open(path, "w") as f:
        f.write("strict_chain\n"
                "tcp_read_time_out 15000\ntcp_connect_time_out 8000\n"
                "[ProxyList]\n"
                "# hop 1: weir's network listener\n"
                f"socks5 127.0.0.1 {hop1} alice {USERS['alice']}\n"
                "# hop 2: a loopback listener on hop 1's host\n"
                f"socks5 127.0.0.1 {HOP2.port('socks')}\n")
    return path


def fetch(hop1):
    return harness.run_tool([PROXYCHAINS, "-f", chain_config(hop1), CURL, "-sS", "--fail",
                             "--max-time", "60", "-o", "-", HTTP.url()])


class NetworkToLoopbackChain(unittest.TestCase):
    def hop1(self, *rules):
        args = [a for r in rules for a in ("--rule", r)]
        weir = harness.Weir(["socks5://0.0.0.0:0"], users=USERS, extra=args)
        self.addCleanup(weir.stop)
        self.assertEqual(weir.listeners[0][1], "0.0.0.0")
        return weir

    def test_refused_by_the_guard(self):
        """Hop 1 refuses CONNECT 127.0.0.1:<hop 2> (reply 0x02), naming the preset rule."""
        hop1 = self.hop1()
        done = fetch(hop1.port("socks5"))
        stderr = done.stderr.decode(errors="replace")
        self.assertNotEqual(done.returncode, 0, stderr)
        self.assertEqual(done.stdout, b"")
        hop2 = HOP2.port("socks")
        # proxychains names every failed hop so, a refusal (0x02) included.
        self.assertIn(f"Strict chain  ...  127.0.0.1:{hop1.port('socks5')}  ...  "
                      f"127.0.0.1:{hop2} <--socket error or timeout!", stderr)
        refused = re.compile(
            rf"refused client=127\.0\.0\.1:\d+ target=127\.0\.0\.1:{hop2} "
            r"by rule \d+ 'deny to 127\.0\.0\.0/8' \(preset\)$")
        hop1.wait_for_lines(refused)
        hop1.sessions(user="alice", target=f"127.0.0.1:{hop2}",
                      result="connect-failed:not-allowed-by-policy")
        # The reply hop 1 sends: 0x02, connection not allowed by ruleset.
        with harness.connect(hop1.port("socks5")) as s:
            s.sendall(harness.s5_greeting(2))
            self.assertEqual(harness.recv_exact(s, 2), b"\x05\x02")
            s.sendall(harness.s5_credentials("alice", USERS["alice"]))
            self.assertEqual(harness.recv_exact(s, 2), b"\x01\x00")
            s.sendall(harness.s5_request("127.0.0.1", hop2))
            self.assertEqual(harness.read_s5_reply(s)[0], 0x02)

    def test_opened_by_a_rule_naming_hop2(self):
        """--rule 'allow user alice to 127.0.0.1 port <hop 2>' on hop 1: the chain works."""
        hop2 = HOP2.port("socks")
        hop1 = self.hop1(f"allow user alice to 127.0.0.1 port {hop2}")
        mark = HOP2.mark()
        done = fetch(hop1.port("socks5"))
        self.assertEqual(done.returncode, 0, done.stderr.decode(errors="replace"))
        self.assertEqual(len(done.stdout), len(HTTP.body))
        self.assertEqual(harness.sha256(done.stdout), HTTP.sha256)
        hop1.sessions(user="alice", target=f"127.0.0.1:{hop2}", result="succeeded")
        HOP2.sessions(since=mark, target=f"127.0.0.1:{HTTP.port}", result="succeeded")

    def test_the_rule_opens_hop2_only(self):
        """The same rule leaves the rest of 127.0.0.0/8 guarded: the target directly is refused."""
        hop2 = HOP2.port("socks")
        hop1 = self.hop1(f"allow user alice to 127.0.0.1 port {hop2}")
        config = os.path.join(TMP.path, "direct.conf")
        with open(config, "w") as f:
            f.write("strict_chain\n[ProxyList]\n"
                    f"socks5 127.0.0.1 {hop1.port('socks5')} alice {USERS['alice']}\n")
        done = harness.run_tool([PROXYCHAINS, "-f", config, CURL, "-sS", "--fail",
                                 "--max-time", "60", "-o", "-", HTTP.url()])
        self.assertNotEqual(done.returncode, 0)
        self.assertIn(f"127.0.0.1:{HTTP.port} <--socket error or timeout!",
                      done.stderr.decode(errors="replace"))
        hop1.wait_for_lines(re.compile(
            rf"refused client=\S+ target=127\.0\.0\.1:{HTTP.port} "
            r"by rule \d+ 'deny to 127\.0\.0\.0/8' \(preset\)$"))


if __name__ == "__main__":
    harness.main_in_private_netns()
