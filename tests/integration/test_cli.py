"""weir's command line: start-up errors, `weir passwd`, generated credential
(signals: test_drain.py)."""

import os
import re
import signal
import socket
import subprocess
import unittest

import harness
from harness import connect, recv_exact, s5_credentials, s5_greeting, s5_request


def setUpModule():
    global TMP, ECHO
    TMP = harness.TempDir()
    ECHO = harness.EchoTarget()


def tearDownModule():
    ECHO.stop()
    TMP.cleanup()


def authenticate(port, user, password):
    """The 4 bytes weir answers to a greeting offering 02 plus these credentials."""
    with connect(port) as s:
        s.sendall(s5_greeting(2) + s5_credentials(user, password))
        return recv_exact(s, 4)


class StartupErrors(unittest.TestCase):
    def assert_usage_error(self, *args):
        result = harness.run_weir([*args, "--relay", harness.relay_mode()])
        lines = result.stderr.splitlines()
        self.assertEqual(result.returncode, 2, f"{args}: stderr={result.stderr!r}")
        self.assertEqual(len(lines), 1, f"{args}: expected one stderr line: {lines}")
        self.assertTrue(lines[0].startswith("weir: error:"), f"{args}: {lines[0]!r}")

    def test_unknown_flag(self):
        """An unknown flag is a usage error."""
        self.assert_usage_error("--no-such-flag")

    def test_password_on_socks4_listener(self):
        """socks4 cannot carry a password, so auth=password on it is refused."""
        self.assert_usage_error("--listen", "socks4://127.0.0.1:0?auth=password")

    def test_password_on_sniffing_listener(self):
        """The sniffing 'socks' listener admits SOCKS4, so auth=password is refused too."""
        self.assert_usage_error("--listen", "socks://127.0.0.1:0?auth=password")

    def test_bad_urls(self):
        """Malformed listen URLs: scheme, missing or out-of-range port, brackets, auth value."""
        for url in ["http://127.0.0.1:1080", "socks5://127.0.0.1", "socks5://127.0.0.1:65536",
                    "socks5://127.0.0.1:port", "socks5://[::1:0", "socks5://::1:0",
                    "socks5://127.0.0.1:0?auth=maybe", "127.0.0.1:1080", ""]:
            with self.subTest(url=url):
                self.assert_usage_error("--listen", url)

    def test_bad_option_values(self):
        """Unknown relay and non-numeric threads or timeouts are usage errors."""
        for args in [["--relay", "teleport"], ["--threads", "many"],
                     ["--handshake-timeout", "soon"]]:
            with self.subTest(args=args):
                self.assert_usage_error("--listen", "socks://127.0.0.1:0", *args)

    def test_missing_users_file(self):
        """A users file that does not exist stops start-up."""
        self.assert_usage_error("--listen", "socks5://127.0.0.1:0",
                                "--users", os.path.join(TMP.path, "no-such-users"))

    def test_port_in_use(self):
        """A port held by another socket stops start-up, even after another listener bound."""
        held = socket.socket()
        self.addCleanup(held.close)
        held.bind(("127.0.0.1", 0))
        held.listen(1)
        busy = held.getsockname()[1]
        self.assert_usage_error("--listen", f"socks://127.0.0.1:{busy}")
        self.assert_usage_error("--listen", "socks://127.0.0.1:0",
                                "--listen", f"socks5://127.0.0.1:{busy}?auth=none")

    def test_port_held_by_another_weir(self):
        """A second weir on a running weir's port stops with "in use": the
        first one's per-thread SO_REUSEPORT sockets do not let it join them."""
        first = harness.Weir(["socks5://127.0.0.1:0?auth=none"], extra=["--threads", "2"])
        self.addCleanup(first.stop)
        port = first.port("socks5")
        for threads in ["2", "1"]:
            with self.subTest(threads=threads):
                result = harness.run_weir(["--listen", f"socks5://127.0.0.1:{port}?auth=none",
                                           "--threads", threads, "--relay", harness.relay_mode()])
                self.assertEqual(result.returncode, 2, result.stderr)
                self.assertIn("Address already in use", result.stderr)
        # Every connection still reaches the first weir.
        for _ in range(20):
            with connect(port) as s:
                s.sendall(s5_greeting(0) + s5_request("127.0.0.1", ECHO.port) + b"ping")
                self.assertEqual(recv_exact(s, 2), b"\x05\x00")
                self.assertEqual(recv_exact(s, 10)[:2], b"\x05\x00")
                self.assertEqual(recv_exact(s, 4), b"ping")


class ConfigFile(unittest.TestCase):
    def write(self, text):
        tmp = harness.TempDir()
        self.addCleanup(tmp.cleanup)
        path = os.path.join(tmp.path, "weir.toml")
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_config_file_keys_are_the_long_options(self):
        """--config: listeners, rules and limits from a TOML file."""
        path = self.write('listen = ["socks://127.0.0.1:0", "socks5://127.0.0.1:0?auth=none"]\n'
                          'rule = ["deny to 127.0.0.1 port 9", "allow"]\n'
                          'max-sessions-per-client = 100\n')
        weir = harness.Weir([], extra=["--config", path])
        self.addCleanup(weir.stop)
        found = weir.wait_for_lines(harness.LISTENING_RE, 2)
        self.assertEqual([m.group(1) for m in found], ["socks", "socks5"])

    def test_unknown_config_key_is_an_error(self):
        """A misspelt key in the config file stops start-up (exit 2), not silently ignored."""
        path = self.write('listen = "socks://127.0.0.1:0"\nmax-sesions = 5\n')
        result = harness.run_weir(["--config", path])
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertEqual(len(result.stderr.splitlines()), 1, result.stderr)
        self.assertIn("max-sesions", result.stderr)


class Passwd(unittest.TestCase):
    PASSWORD = "pa ss:wörd with spaces"

    def test_passwd_line_is_accepted(self):
        """`weir passwd alice` output is a users file weir loads; right and wrong passwords."""
        path = os.path.join(TMP.path, "passwd-users")
        line = harness.users_line("alice", self.PASSWORD)
        self.assertRegex(line, r"^alice:\$argon2id\$\S+$")
        self.assertNotIn(self.PASSWORD, line)
        with open(path, "w") as f:
            f.write(line + "\n")
        weir = harness.Weir(["socks5://127.0.0.1:0"], users_file=path)
        self.addCleanup(weir.stop)
        port = weir.port("socks5")
        self.assertEqual(authenticate(port, "alice", self.PASSWORD), bytes.fromhex("05 02 01 00"))
        self.assertEqual(authenticate(port, "alice", "pa ss"), bytes.fromhex("05 02 01 01"))
        self.assertNotIn(self.PASSWORD, weir.text(), "a password was logged")

    def test_passwd_is_salted(self):
        """The same password hashed twice gives two different lines."""
        self.assertNotEqual(harness.users_line("bob", "same"), harness.users_line("bob", "same"))


class UsersFileChecks(unittest.TestCase):
    def test_weak_hash_is_refused(self):
        """argon2i, or Argon2id cheaper than the interactive limits, is refused at load,
        naming the line: against such a hash a wrong password answers faster than an
        unknown user, which tells that the user exists."""
        salt, digest = "c2FsdHNhbHRzYWx0c2FsdA", "ZGlnZXN0ZGlnZXN0ZGlnZXN0ZGlnZXN0ZGlnZXN0"
        for hash_ in (f"$argon2id$v=19$m=8,t=1,p=1${salt}${digest}",
                      f"$argon2id$v=19$m=65536,t=1,p=1${salt}${digest}",
                      f"$argon2i$v=19$m=65536,t=4,p=1${salt}${digest}"):
            with self.subTest(hash=hash_):
                path = os.path.join(TMP.path, "weak-users")
                with open(path, "w") as f:
                    os.fchmod(f.fileno(), 0o600)
                    f.write("# weak\n" + harness.users_line("alice", "a") + "\n")
                    f.write(f"eve:{hash_}\n")
                r = harness.run_weir(["--listen", "socks5://127.0.0.1:0", "--users", path])
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn(f"weir: error: {path}:3: hash is argon2i or weaker than "
                              "interactive Argon2id", r.stderr)
                self.assertNotIn(digest, r.stderr)

    def test_users_file_readable_by_others_is_warned_about(self):
        """A users file other users may read: a warning at start-up and at each reload."""
        path = os.path.join(TMP.path, "open-users")
        with open(path, "w") as f:
            f.write(harness.users_line("alice", "a") + "\n")
        os.chmod(path, 0o644)
        weir = harness.Weir(["socks5://127.0.0.1:0"], users_file=path)
        self.addCleanup(weir.stop)
        warning = re.compile(rf"users file {re.escape(path)} is readable by other users "
                             rf"\(mode 0644\): chmod 600 {re.escape(path)}")
        weir.wait_for_lines(warning)
        os.chmod(path, 0o600)
        weir.proc.send_signal(signal.SIGHUP)
        weir.wait_for_lines(re.compile(r"reload: 1 user"))
        os.chmod(path, 0o644)
        weir.proc.send_signal(signal.SIGHUP)
        weir.wait_for_lines(re.compile(r"reload: 1 user"), count=2)
        self.assertEqual(len(weir.wait_for_lines(warning, count=2)), 2)
        self.assertEqual(len([l for l in weir.text().splitlines() if warning.search(l)]), 2)


CRED_RE = re.compile(r"generated credential .*user=(\S+) password=(\S+)")


class GeneratedCredential(unittest.TestCase):
    def echo_with(self, port, user, password):
        with connect(port) as s:
            s.sendall(s5_greeting(2) + s5_credentials(user, password)
                      + s5_request("127.0.0.1", ECHO.port) + b"ping")
            self.assertEqual(recv_exact(s, 4), bytes.fromhex("05 02 01 00"))
            self.assertEqual(recv_exact(s, 10)[:2], bytes.fromhex("05 00"))
            self.assertEqual(recv_exact(s, 4), b"ping")

    def test_generated_once_then_kept(self):
        """Without --users, the first start makes a credential, prints it once and
        keeps it in STATE_DIRECTORY/users.txt (0600, directory 0700); the next
        start prints where it is, not the password, and the same password works."""
        state = os.path.join(TMP.path, "kept", "state")
        weir = harness.Weir(["socks5://127.0.0.1:0"], state_dir=state)
        self.addCleanup(weir.stop)
        match = weir.wait_for_lines(CRED_RE)[0]
        user, password = match.group(1), match.group(2)
        kept = os.path.join(state, "users.txt")
        self.assertIn(f"(kept in {kept}, the same at every start; delete that file for a new one)",
                      match.string)
        self.assertEqual(user, "weir")
        self.echo_with(weir.port("socks5"), user, password)
        self.assertEqual(os.stat(kept).st_mode & 0o777, 0o600)
        self.assertEqual(os.stat(state).st_mode & 0o777, 0o700)
        with open(kept) as f:
            text = f.read()
        self.assertIn(f"# user=weir password={password}\n", text)
        self.assertRegex(text, r"\nweir:\$argon2id\$[^\n]+\n$")
        self.assertEqual(os.listdir(state), ["users.txt"])  # no temporary file left
        weir.stop()
        self.assertEqual(len(CRED_RE.findall(weir.text())), 1)

        again = harness.Weir(["socks5://127.0.0.1:0"], state_dir=state)
        self.addCleanup(again.stop)
        again.wait_for_lines(re.compile(
            re.escape(f"password listeners: the generated credential kept in {kept} "
                      "(user weir; its password is in that file)")))
        self.echo_with(again.port("socks5"), user, password)
        self.assertEqual(authenticate(again.port("socks5"), user, password + "x"),
                         bytes.fromhex("05 02 01 01"))
        self.assertNotIn(password, again.text())
        self.assertNotIn("generated credential for", again.text())

    def test_kept_file_is_a_users_file(self):
        """The kept file reloads like a users file: a user added to it logs in."""
        state = os.path.join(TMP.path, "reload", "state")
        weir = harness.Weir(["socks5://127.0.0.1:0"], state_dir=state)
        self.addCleanup(weir.stop)
        weir.wait_for_lines(CRED_RE)
        with open(os.path.join(state, "users.txt"), "a") as f:
            f.write(harness.users_line("bob", "bobs secret") + "\n")
        weir.proc.send_signal(signal.SIGHUP)
        weir.wait_for_lines(re.compile(r"reload: 2 user"))
        self.echo_with(weir.port("socks5"), "bob", "bobs secret")

    def test_not_kept_where_it_cannot_be(self):
        """A state directory that cannot be made: one warning, and the credential
        still works for this run, printed as made anew at every start."""
        blocker = os.path.join(TMP.path, "a-file")
        with open(blocker, "w") as f:
            f.write("x")
        weir = harness.Weir(["socks5://127.0.0.1:0"], state_dir=os.path.join(blocker, "state"))
        self.addCleanup(weir.stop)
        match = weir.wait_for_lines(CRED_RE)[0]
        self.assertIn("(shown once, a new one at every start)", match.string)
        weir.wait_for_lines(re.compile(
            r"warn generated credential: cannot keep it in .*/a-file/state: making the "
            r"directory: Not a directory \(a new one is made at every start\)"))
        self.echo_with(weir.port("socks5"), match.group(1), match.group(2))

    def test_a_broken_kept_file_stops_start_up(self):
        state = os.path.join(TMP.path, "broken")
        os.makedirs(state)
        kept = os.path.join(state, "users.txt")
        with open(kept, "w") as f:
            os.fchmod(f.fileno(), 0o600)
            f.write("weir:not-a-hash\n")
        r = subprocess.run([harness.weir_bin(), "--listen", "socks5://127.0.0.1:0"],
                           capture_output=True, text=True, timeout=harness.TIMEOUT,
                           stdin=subprocess.DEVNULL, env={**os.environ, "STATE_DIRECTORY": state})
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn(f"weir: error: {kept}:1:", r.stderr)
        self.assertNotIn("password=", r.stderr)

    def test_weir_check_says_where(self):
        state = os.path.join(TMP.path, "check", "state")
        env = {**os.environ, "STATE_DIRECTORY": state}
        args = [harness.weir_bin(), "check", "--listen", "socks5://127.0.0.1:0"]
        r = subprocess.run(args, capture_output=True, text=True, env=env,
                           timeout=harness.TIMEOUT, stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"# users: a credential generated at the first start, kept in "
                      f"{state}/users.txt\n", r.stdout)
        self.assertFalse(os.path.exists(state))  # check changes nothing

    def test_not_shown_when_a_port_is_taken(self):
        """A password listener on a port something else holds: the start-up error,
        and no credential handed out (nor kept) for a server that never started."""
        state = os.path.join(TMP.path, "taken")
        with socket.socket() as holder:
            holder.bind(("127.0.0.1", 0))
            holder.listen()
            port = holder.getsockname()[1]
            r = subprocess.run([harness.weir_bin(), "--listen", f"socks5://127.0.0.1:{port}"],
                               capture_output=True, text=True, timeout=harness.TIMEOUT,
                               stdin=subprocess.DEVNULL,
                               env={**os.environ, "STATE_DIRECTORY": state})
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn(f"cannot listen on socks5://127.0.0.1:{port}", r.stderr)
        self.assertNotIn("password=", r.stderr)
        self.assertNotIn("generated credential", r.stderr)
        self.assertFalse(os.path.exists(state))


if __name__ == "__main__":
    unittest.main(verbosity=2)
