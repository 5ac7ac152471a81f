"""The users and rules files reload by themselves when they change on disk
(inotify), however they are replaced: in place, renamed over, the Kubernetes
Secret/ConfigMap symlink swap; a broken file changes nothing."""

import os
import re
import shutil
import unittest

import harness
from harness import connect, read_s5_reply, recv_exact, s5_credentials, s5_greeting, s5_request

RELOAD_WAIT = 30.0  # seconds: generous, the watch settles in about 0.2 s
ACCEPTED = bytes.fromhex("05 02 01 00")  # method 02, then RFC 1929 status 00
REFUSED = bytes.fromhex("05 02 01 01")   # method 02, then RFC 1929 status 01


def setUpModule():
    global TMP, ECHO, LINES
    TMP = harness.TempDir()
    ECHO = harness.EchoTarget()
    LINES = {pw: harness.users_line("alice", pw) for pw in ("old-pw", "new-pw")}
    LINES["bob"] = harness.users_line("bob", "bob-pw")


def tearDownModule():
    ECHO.stop()
    TMP.cleanup()


def login(port, user, password):
    """The 4 bytes weir answers to a greeting offering 02 plus these credentials."""
    with connect(port) as s:
        s.sendall(s5_greeting(2) + s5_credentials(user, password))
        return recv_exact(s, 4)


def write(path, text):
    with open(path, "w") as f:
        os.fchmod(f.fileno(), 0o600)
        f.write(text)


def new_dir(name):
    path = os.path.join(TMP.path, name)
    os.mkdir(path)
    return path


class Kubelet:
    """A Secret volume as the kubelet's atomic writer lays it out: `users ->
    ..data/users`, `..data -> ..<timestamp>`; an update writes a new timestamped
    directory, points `..data_tmp` at it, renames `..data_tmp` over `..data` and
    removes the old directory."""

    def __init__(self, directory, users_text):
        self.dir = directory
        self.stamp = 0
        self.current = None
        self.publish(users_text)
        os.symlink("..data/users", os.path.join(directory, "users"))
        self.path = os.path.join(directory, "users")

    def publish(self, users_text):
        self.stamp += 1
        stamp = f"..2026_12_05_11_40_00.{self.stamp:09d}"
        os.mkdir(os.path.join(self.dir, stamp))
        write(os.path.join(self.dir, stamp, "users"), users_text)
        os.symlink(stamp, os.path.join(self.dir, "..data_tmp"))
        os.rename(os.path.join(self.dir, "..data_tmp"), os.path.join(self.dir, "..data"))
        if self.current is not None:
            shutil.rmtree(os.path.join(self.dir, self.current))
        self.current = stamp


class UsersFile(unittest.TestCase):
    def start(self, path, extra=()):
        weir = harness.Weir(["socks5://127.0.0.1:0"], users_file=path, extra=extra)
        self.addCleanup(weir.stop)
        return weir

    def wait_reload(self, weir, since, what, path, users, rules=0):
        """Waits for `reload: <what> <path> changed` after line `since`, then the
        usual `reload: N user(s), M rule(s)` line after it."""
        changed = re.compile(rf"reload: {what} {re.escape(path)} changed$")
        done = re.compile(rf"reload: {users} user\(s\), {rules} rule\(s\)$")
        weir.wait_for_lines(changed, start=since, timeout=RELOAD_WAIT)
        weir.wait_for_lines(done, start=since, timeout=RELOAD_WAIT)
        lines = weir.text().splitlines()[since:]
        first_changed = next(i for i, l in enumerate(lines) if changed.search(l))
        first_done = next(i for i, l in enumerate(lines) if done.search(l))
        self.assertLess(first_changed, first_done, "\n".join(lines))

    def assert_swapped(self, port):
        self.assertEqual(login(port, "alice", "new-pw"), ACCEPTED)
        self.assertEqual(login(port, "alice", "old-pw"), REFUSED)

    def test_written_in_place(self):
        """Truncated and written: the new password works, the old one is refused;
        then appended to (`echo >>`): the new user works too."""
        path = os.path.join(new_dir("in-place"), "users")
        write(path, LINES["old-pw"] + "\n")
        weir = self.start(path)
        port = weir.port("socks5")
        self.assertEqual(login(port, "alice", "old-pw"), ACCEPTED)
        since = weir.mark()
        with open(path, "w") as f:  # truncate + write, the same inode
            f.write(LINES["new-pw"] + "\n")
        self.wait_reload(weir, since, "users file", path, users=1)
        self.assert_swapped(port)
        since = weir.mark()
        with open(path, "a") as f:
            f.write(LINES["bob"] + "\n")
        self.wait_reload(weir, since, "users file", path, users=2)
        self.assertEqual(login(port, "bob", "bob-pw"), ACCEPTED)

    def test_renamed_over(self):
        """A temporary file renamed over the name (editors, install, Ansible)."""
        path = os.path.join(new_dir("rename"), "users")
        write(path, LINES["old-pw"] + "\n")
        weir = self.start(path)
        port = weir.port("socks5")
        self.assertEqual(login(port, "alice", "old-pw"), ACCEPTED)
        since = weir.mark()
        write(path + ".tmp", LINES["new-pw"] + "\n")
        os.rename(path + ".tmp", path)
        self.wait_reload(weir, since, "users file", path, users=1)
        self.assert_swapped(port)

    def test_kubernetes_symlink_swap(self):
        """The Secret volume update: `..data` swapped to a new timestamped
        directory, the old one removed; twice, so the watch followed the first."""
        secret = Kubelet(new_dir("secret"), LINES["old-pw"] + "\n")
        weir = self.start(secret.path)
        port = weir.port("socks5")
        self.assertEqual(login(port, "alice", "old-pw"), ACCEPTED)
        since = weir.mark()
        secret.publish(LINES["new-pw"] + "\n")
        self.wait_reload(weir, since, "users file", secret.path, users=1)
        self.assert_swapped(port)
        since = weir.mark()
        secret.publish(LINES["new-pw"] + "\n" + LINES["bob"] + "\n")
        self.wait_reload(weir, since, "users file", secret.path, users=2)
        self.assertEqual(login(port, "bob", "bob-pw"), ACCEPTED)

    def test_broken_file_keeps_the_running_users(self):
        """A malformed line: `reload failed`, the old password still works; the
        fixed file then loads."""
        path = os.path.join(new_dir("broken"), "users")
        write(path, LINES["old-pw"] + "\n")
        weir = self.start(path)
        port = weir.port("socks5")
        since = weir.mark()
        with open(path, "w") as f:
            f.write(LINES["new-pw"] + "\nthis line is not a user\n")
        weir.wait_for_lines(re.compile(rf"reload: users file {re.escape(path)} changed$"),
                            start=since, timeout=RELOAD_WAIT)
        weir.wait_for_lines(re.compile(r"reload failed, keeping the running configuration: "
                                       rf".*{re.escape(path)}:2"),
                            start=since, timeout=RELOAD_WAIT)
        self.assertNotRegex("\n".join(weir.text().splitlines()[since:]), r"reload: \d+ user")
        self.assertEqual(login(port, "alice", "old-pw"), ACCEPTED)
        since = weir.mark()
        with open(path, "w") as f:
            f.write(LINES["new-pw"] + "\n")
        self.wait_reload(weir, since, "users file", path, users=1)
        self.assert_swapped(port)

    def test_rules_file_change_takes_effect(self):
        """A deny rule added to the rules file refuses a CONNECT allowed before (0x02)."""
        directory = new_dir("rules")
        users, rules = os.path.join(directory, "users"), os.path.join(directory, "rules")
        write(users, LINES["old-pw"] + "\n")
        write(rules, "# nothing denied yet\n")
        weir = self.start(users, extra=["--rules-file", rules])
        port = weir.port("socks5")

        def connect_reply():
            with connect(port) as s:
                s.sendall(s5_greeting(2) + s5_credentials("alice", "old-pw")
                          + s5_request("127.0.0.1", ECHO.port))
                self.assertEqual(recv_exact(s, 4), ACCEPTED)
                return read_s5_reply(s)[0]

        self.assertEqual(connect_reply(), 0x00)
        since = weir.mark()
        with open(rules, "a") as f:
            f.write(f"deny to 127.0.0.1 port {ECHO.port}\n")
        self.wait_reload(weir, since, "rules file", rules, users=1, rules=1)
        self.assertEqual(connect_reply(), 0x02)


if __name__ == "__main__":
    unittest.main(verbosity=2)
