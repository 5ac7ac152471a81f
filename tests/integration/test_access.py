"""Access rules: each rule kind, the private-destination preset (DNS
rebinding included), the refuse-to-start check, rules files and reload."""

import os
import re
import signal
import socket
import unittest

import harness
from harness import recv_exact, s4_request, s5_credentials, s5_greeting, s5_request

NOT_ALLOWED = bytes.fromhex("05 02 00 01 00000000 0000")


def setUpModule():
    global TMP, ECHO, OTHER, USERS
    TMP = harness.TempDir()
    ECHO = harness.EchoTarget()
    OTHER = harness.EchoTarget()
    USERS = harness.make_users_file(TMP.path, {"alice": "a-pw", "bob": "b-pw"})


def tearDownModule():
    ECHO.stop()
    OTHER.stop()
    TMP.cleanup()


def connect_from(port, source="127.0.0.1"):
    s = socket.socket()
    s.settimeout(harness.TIMEOUT)
    s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    return s


def socks5(port, host, target_port, user=None, source="127.0.0.1"):
    """Greeting (+ auth) + CONNECT; returns (socket, 10-byte reply)."""
    s = connect_from(port, source)
    if user:
        s.sendall(s5_greeting(2) + s5_credentials(user, {"alice": "a-pw", "bob": "b-pw"}[user])
                  + s5_request(host, target_port))
        assert recv_exact(s, 4) == bytes.fromhex("05 02 01 00")
    else:
        s.sendall(s5_greeting(0) + s5_request(host, target_port))
        assert recv_exact(s, 2) == bytes.fromhex("05 00")
    return s, recv_exact(s, 10)


class Rules(unittest.TestCase):
    def start(self, *rules, listens=("socks://127.0.0.1:0",), extra=()):
        args = [a for r in rules for a in ("--rule", r)]
        weir = harness.Weir(list(listens), users_file=USERS, extra=[*args, *extra])
        self.addCleanup(weir.stop)
        return weir

    def assert_allowed(self, weir, host, port, scheme="socks", **kw):
        s, reply = socks5(weir.port(scheme), host, port, **kw)
        self.addCleanup(s.close)
        self.assertEqual(reply[:2], bytes.fromhex("05 00"), reply.hex(" "))
        s.sendall(b"hi")
        self.assertEqual(recv_exact(s, 2), b"hi")

    def assert_refused(self, weir, host, port, scheme="socks", **kw):
        s, reply = socks5(weir.port(scheme), host, port, **kw)
        self.addCleanup(s.close)
        self.assertEqual(reply, NOT_ALLOWED)
        harness.assert_eof(self, s)

    def test_destination_address_and_port(self):
        """deny to ADDR port N refuses that port only."""
        weir = self.start(f"deny to 127.0.0.1 port {ECHO.port}")
        self.assert_refused(weir, "127.0.0.1", ECHO.port)
        self.assert_allowed(weir, "127.0.0.1", OTHER.port)
        line = weir.wait_for_lines(re.compile(r"refused client=.* by rule 1 "))[0].string
        self.assertIn(f"'deny to 127.0.0.1 port {ECHO.port}'", line)

    def test_port_range_and_cidr(self):
        """deny to CIDR port N-M."""
        lo, hi = sorted((ECHO.port, OTHER.port))
        weir = self.start(f"deny to 127.0.0.0/8 port {lo}-{lo}", "allow")
        self.assert_refused(weir, "127.0.0.1", lo)
        self.assert_allowed(weir, "127.0.0.1", hi)

    def test_client_address(self):
        """from CIDR: clients from 127.0.0.2 are allowed, others fall to a final deny."""
        weir = self.start("allow from 127.0.0.2", "deny")
        self.assert_allowed(weir, "127.0.0.1", ECHO.port, source="127.0.0.2")
        self.assert_refused(weir, "127.0.0.1", ECHO.port, source="127.0.0.1")

    def test_user(self):
        """user NAME matches the authenticated user only."""
        weir = self.start("deny user bob", listens=("socks5://127.0.0.1:0",))
        self.assert_allowed(weir, "127.0.0.1", ECHO.port, scheme="socks5", user="alice")
        self.assert_refused(weir, "127.0.0.1", ECHO.port, scheme="socks5", user="bob")

    def test_listener(self):
        """listener URL limits a rule to one listener."""
        port = harness.closed_port()
        weir = self.start(f"deny listener socks://127.0.0.1:{port}",
                          listens=(f"socks://127.0.0.1:{port}", "socks://127.0.0.1:0"))
        self.assert_refused(weir, "127.0.0.1", ECHO.port)  # first listener: the named one
        other = [p for s, _, p in weir.listeners if p != port][0]
        s, reply = socks5(other, "127.0.0.1", ECHO.port)
        self.assertEqual(reply[:2], bytes.fromhex("05 00"))
        s.close()

    def test_listener_compared_as_a_url(self):
        """A listener clause is parsed as a listen URL: case, a zero-padded port and
        `localhost` name the same listener as weir's own form."""
        port = harness.closed_port()
        weir = self.start(f"deny listener SOCKS://localhost:0{port} to 127.0.0.1 port {ECHO.port}",
                          listens=(f"socks://127.0.0.1:{port}",))
        self.assert_refused(weir, "127.0.0.1", ECHO.port)
        weir.wait_for_lines(re.compile(rf"by rule 1 'deny listener socks://127\.0\.0\.1:{port} "))

    def test_rule_naming_no_listener_is_an_error(self):
        """A rule naming a listener weir does not have: exit 2 at start-up, saying which
        listeners there are; on reload, the running rules stay."""
        port = harness.closed_port()
        r = harness.run_weir(["--listen", f"socks://127.0.0.1:{port}", "--rule",
                              "deny listener socks5://10.0.0.1:1101"])
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("weir: error: rule 'deny listener socks5://10.0.0.1:1101': no listener "
                      f"socks5://10.0.0.1:1101 (the listeners are: socks://127.0.0.1:{port})",
                      r.stderr)
        r = harness.run_weir(["--listen", f"socks://127.0.0.1:{port}", "--rule",
                              "deny listener socks9://127.0.0.1:1"])
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("weir: error: rule 'deny listener socks9://127.0.0.1:1': bad listener: ",
                      r.stderr)
        path = os.path.join(TMP.path, "listener-rules")
        with open(path, "w") as f:
            f.write(f"deny to 127.0.0.1 port {ECHO.port}\n")
        weir = harness.Weir([f"socks://127.0.0.1:{port}"], extra=["--rules-file", path])
        self.addCleanup(weir.stop)
        with open(path, "w") as f:
            f.write("deny listener socks://127.0.0.1:1\n")
        weir.proc.send_signal(signal.SIGHUP)
        weir.wait_for_lines(re.compile(r"reload failed, keeping the running configuration: "
                                       rf"rule 'deny listener socks://127\.0\.0\.1:1' \({path}:1\): "
                                       r"no listener"))
        self.assert_refused(weir, "127.0.0.1", ECHO.port)  # the old rule still holds

    def test_command(self):
        """command connect."""
        weir = self.start("deny command connect")
        self.assert_refused(weir, "127.0.0.1", ECHO.port)

    def command_reply(self, weir, cmd, socks4=False):
        """The first reply to a BIND (2) or UDP ASSOCIATE (3) request."""
        s = connect_from(weir.port("socks"))
        self.addCleanup(s.close)
        if socks4:
            s.sendall(s4_request("127.0.0.1", ECHO.port, cmd=cmd))
            return recv_exact(s, 8)
        s.sendall(s5_greeting(0) + s5_request("127.0.0.1", ECHO.port, cmd=cmd))
        self.assertEqual(recv_exact(s, 2), bytes.fromhex("05 00"))
        return recv_exact(s, 10)

    def test_rules_run_for_every_command(self):
        """The rules decide BIND and UDP ASSOCIATE too, before any reply: a denied one
        gets 0x02 (SOCKS4 0x5B) and a log line naming the rule."""
        weir = self.start("deny command bind,udp from 127.0.0.2", "deny command bind")
        self.assertEqual(self.command_reply(weir, 2), NOT_ALLOWED)
        weir.wait_for_lines(re.compile(r"refused client=127\.0\.0\.1:\d+ target=127\.0\.0\.1:"
                                       rf"{ECHO.port} by rule 2 'deny command bind'"))
        weir.sessions(proto="socks5", result="bind-failed:not-allowed-by-policy")
        self.assertEqual(self.command_reply(weir, 2, socks4=True)[:2], bytes.fromhex("00 5b"))
        reply = self.command_reply(weir, 3)  # allowed: the relay's address
        self.assertEqual(reply[:8], bytes.fromhex("05 00 00 01 7f 00 00 01"), reply.hex(" "))

    def test_names_exact_and_suffix(self):
        """to NAME and to .SUFFIX match the name the client sent, before any lookup."""
        weir = self.start("deny to localhost", "deny to .example.invalid")
        self.assert_refused(weir, "localhost", ECHO.port)
        self.assert_refused(weir, "LocalHost.", ECHO.port)
        self.assert_refused(weir, "deep.sub.example.invalid", ECHO.port)
        self.assert_allowed(weir, "127.0.0.1", ECHO.port)  # the name rule does not see it
        # A name with a space and a control byte is one log token, escaped once.
        self.assert_refused(weir, "a b\x01.example.invalid", ECHO.port)
        weir.sessions(target=f"a\\x20b\\x01.example.invalid:{ECHO.port}")

    def test_socks4_refusal(self):
        """A SOCKS4 client refused by a rule gets 00 5B."""
        weir = self.start(f"deny to 127.0.0.1 port {ECHO.port}")
        s = connect_from(weir.port("socks"))
        self.addCleanup(s.close)
        s.sendall(s4_request("127.0.0.1", ECHO.port))
        self.assertEqual(recv_exact(s, 8)[:2], bytes.fromhex("00 5b"))
        harness.assert_eof(self, s)

    def test_bad_rule_is_a_startup_error(self):
        """A rule that does not parse: exit 2 and one line saying where."""
        r = harness.run_weir(["--listen", "socks://127.0.0.1:0", "--rule", "allow form any"])
        self.assertEqual(r.returncode, 2)
        lines = r.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, r.stderr)
        self.assertRegex(lines[0], r"^weir: error: rule 'allow form any': unknown word 'form'")


class Preset(unittest.TestCase):
    """A listener reachable from other hosts (0.0.0.0) refuses private destinations."""

    def start(self, *extra):
        weir = harness.Weir(["socks5://0.0.0.0:0"], users_file=USERS, extra=list(extra))
        self.addCleanup(weir.stop)
        return weir

    def refused(self, weir, host):
        s, reply = socks5(weir.port("socks5"), host, ECHO.port, user="alice")
        s.close()
        return reply == NOT_ALLOWED

    def test_loopback_and_metadata_refused(self):
        """127.0.0.1, ::1, ::ffff:127.0.0.1 and 169.254.169.254 are refused by the preset."""
        weir = self.start()
        for host in ("127.0.0.1", "::1", "::ffff:127.0.0.1", "169.254.169.254", "0.0.0.0"):
            with self.subTest(host=host):
                self.assertTrue(self.refused(weir, host))
        line = weir.wait_for_lines(re.compile(r"refused .*169\.254\.169\.254"))[0].string
        self.assertIn("'deny to 169.254.0.0/16' (preset)", line)

    def test_name_resolving_to_loopback_refused(self):
        """DNS rebinding: a name that resolves to 127.0.0.1 is refused after the lookup."""
        weir = self.start()
        self.assertTrue(self.refused(weir, "localhost"))
        weir.wait_for_lines(re.compile(r"refused .*target=localhost:\d+ by rule \d+ "
                                       r"'deny to (127\.0\.0\.0/8|::1)' \(preset\)"))

    def test_explicit_rule_opens_a_hole(self):
        """A rule before the preset can allow one loopback service."""
        weir = self.start("--rule", f"allow to 127.0.0.1 port {ECHO.port}")
        s, reply = socks5(weir.port("socks5"), "127.0.0.1", ECHO.port, user="alice")
        self.assertEqual(reply[:2], bytes.fromhex("05 00"))
        s.close()
        # localhost resolves to ::1 (refused) and 127.0.0.1 (allowed): the allowed one is used.
        s, reply = socks5(weir.port("socks5"), "localhost", ECHO.port, user="alice")
        self.assertEqual(reply[:2], bytes.fromhex("05 00"))
        s.close()
        s, reply = socks5(weir.port("socks5"), "127.0.0.1", OTHER.port, user="alice")
        self.assertEqual(reply, NOT_ALLOWED)  # other ports stay closed
        s.close()

    def test_deny_private_destinations_on_loopback_listener(self):
        """--deny-private-destinations applies the preset to loopback listeners too."""
        weir = harness.Weir(["socks://127.0.0.1:0"], extra=["--deny-private-destinations"])
        self.addCleanup(weir.stop)
        s, reply = socks5(weir.port("socks"), "127.0.0.1", ECHO.port)
        s.close()
        self.assertEqual(reply, NOT_ALLOWED)


class OpenProxyCheck(unittest.TestCase):
    def test_refuses_to_start_without_client_rules(self):
        """No password on 0.0.0.0 without an allow-from rule: exit 2, and the message says
        what to add."""
        r = harness.run_weir(["--listen", "socks://0.0.0.0:0"])
        self.assertEqual(r.returncode, 2)
        self.assertIn("--rule 'allow from 192.168.1.0/24'", r.stderr)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1)

    def test_starts_with_client_rules_and_refuses_others(self):
        """With allow from 127.0.0.2, that client may connect; everyone else is refused."""
        weir = harness.Weir(["socks://0.0.0.0:0"],
                            extra=["--rule", "allow from 127.0.0.2 to 127.0.0.1"])
        self.addCleanup(weir.stop)
        s, reply = socks5(weir.port("socks"), "127.0.0.1", ECHO.port, source="127.0.0.2")
        self.assertEqual(reply[:2], bytes.fromhex("05 00"))
        s.close()
        s, reply = socks5(weir.port("socks"), "127.0.0.1", ECHO.port, source="127.0.0.3")
        self.assertEqual(reply, NOT_ALLOWED)
        s.close()
        weir.wait_for_lines(re.compile(r"refused client=127\.0\.0\.3:\d+ target=127\.0\.0\.1"))


class RulesFile(unittest.TestCase):
    def test_rules_file_and_reload(self):
        """--rules-file with comments; SIGHUP applies a new file; a broken one is rejected
        and the running rules stay."""
        path = os.path.join(TMP.path, "rules")
        with open(path, "w") as f:
            f.write("# no rules yet\n\n")
        weir = harness.Weir(["socks://127.0.0.1:0"], extra=["--rules-file", path])
        self.addCleanup(weir.stop)
        port = weir.port("socks")
        s, reply = socks5(port, "127.0.0.1", ECHO.port)
        self.assertEqual(reply[:2], bytes.fromhex("05 00"))
        with open(path, "w") as f:
            f.write(f"# block the echo\ndeny to 127.0.0.1 port {ECHO.port}  # trailing\n")
        weir.proc.send_signal(signal.SIGHUP)
        weir.wait_for_lines(re.compile(r"reload: 0 user\(s\), 1 rule\(s\)"))
        s.sendall(b"in flight")  # the session that started before the reload goes on
        self.assertEqual(recv_exact(s, 9), b"in flight")
        s.close()
        s, reply = socks5(port, "127.0.0.1", ECHO.port)
        self.assertEqual(reply, NOT_ALLOWED)
        s.close()
        weir.wait_for_lines(re.compile(rf"by rule 1 'deny to 127\.0\.0\.1 port {ECHO.port}' "
                                       rf"\(.*rules:2\)"))
        with open(path, "w") as f:
            f.write("allow to\n")
        weir.proc.send_signal(signal.SIGHUP)
        weir.wait_for_lines(re.compile(r"reload failed, keeping the running configuration: "
                                       r".*rules:1: "))
        s, reply = socks5(port, "127.0.0.1", ECHO.port)
        self.assertEqual(reply, NOT_ALLOWED)
        s.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
