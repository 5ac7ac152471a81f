"""Abuse resistance: connection limits, failed-login throttling, reload on
SIGHUP, and privilege drop with --run-as."""

import os
import pwd
import resource
import signal
import socket
import threading
import unittest

import harness
from harness import connect, recv_exact, s5_credentials, s5_greeting, s5_request


def setUpModule():
    global TMP, ECHO
    TMP = harness.TempDir()
    os.chmod(TMP.path, 0o755)  # readable by --run-as nobody
    ECHO = harness.EchoTarget()


def tearDownModule():
    ECHO.stop()
    TMP.cleanup()


def socks5_session(port, user=None, password=None):
    """An established SOCKS5 session to the echo target (password if given)."""
    s = connect(port)
    if user is None:
        s.sendall(s5_greeting(0) + s5_request("127.0.0.1", ECHO.port))
        assert recv_exact(s, 2) == bytes.fromhex("05 00")
    else:
        s.sendall(s5_greeting(2) + s5_credentials(user, password)
                  + s5_request("127.0.0.1", ECHO.port))
        assert recv_exact(s, 4) == bytes.fromhex("05 02 01 00")
    reply = recv_exact(s, 10)
    assert reply[:2] == bytes.fromhex("05 00"), reply.hex(" ")
    return s


def echoes(s, data=b"ping"):
    s.sendall(data)
    return recv_exact(s, len(data)) == data


class Limits(unittest.TestCase):
    def test_sessions_per_client(self):
        """Over --max-sessions-per-client a new connection is closed at once; running
        sessions keep working, and a freed place can be used again."""
        weir = harness.Weir(["socks://127.0.0.1:0"], extra=["--max-sessions-per-client", "2"])
        self.addCleanup(weir.stop)
        port = weir.port("socks")
        a, b = socks5_session(port), socks5_session(port)
        third = connect(port)
        third.sendall(s5_greeting(0))
        harness.assert_eof(self, third)
        self.assertTrue(echoes(a) and echoes(b))
        weir.wait_for_lines(harness.re.compile(r"refused 1 connection.*max-sessions-per-client"))
        a.close()
        weir.sessions(result="succeeded")  # a's session has ended and released its place
        c = socks5_session(port)
        self.assertTrue(echoes(c))
        for s in (b, c, third):
            s.close()

    def test_loopback_clients_not_held_to_the_default_cap(self):
        """Every local process is the same loopback client: the default
        --max-sessions-per-client (512) does not hold it, so 600 sessions from
        127.0.0.1 all relay (set explicitly, it does hold them: the test above)."""
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 8192)), hard))
        self.addCleanup(resource.setrlimit, resource.RLIMIT_NOFILE, (soft, hard))
        weir = harness.Weir(["socks://127.0.0.1:0"])
        self.addCleanup(weir.stop)
        port = weir.port("socks")
        sessions = []
        try:
            for _ in range(600):
                sessions.append(socks5_session(port))
            self.assertTrue(all(echoes(s) for s in sessions))
        finally:
            for s in sessions:
                s.close()
        self.assertNotIn("max-sessions-per-client reached", weir.text())

    def test_max_sessions(self):
        """--max-sessions caps sessions in total."""
        weir = harness.Weir(["socks://127.0.0.1:0"], extra=["--max-sessions", "1"])
        self.addCleanup(weir.stop)
        a = socks5_session(weir.port("socks"))
        b = connect(weir.port("socks"))
        harness.assert_eof(self, b)
        self.assertTrue(echoes(a))
        a.close()
        b.close()


class Throttle(unittest.TestCase):
    def test_failed_logins_block_the_client(self):
        """After --login-block-after failures the client's connections are closed
        before any greeting; unknown users and wrong passwords count alike."""
        users = harness.make_users_file(TMP.path, {"alice": "right"})
        weir = harness.Weir(["socks5://127.0.0.1:0"], users_file=users,
                            extra=["--login-free-failures", "1", "--login-block-after", "3"])
        self.addCleanup(weir.stop)
        port = weir.port("socks5")
        for user, password in (("alice", "wrong"), ("nobody-here", "x"), ("alice", "wrong2")):
            s = connect(port)
            s.sendall(s5_greeting(2) + s5_credentials(user, password))
            self.assertEqual(recv_exact(s, 4), bytes.fromhex("05 02 01 01"))
            harness.assert_eof(self, s)
            s.close()
        blocked = connect(port)
        blocked.sendall(s5_greeting(2))
        harness.assert_eof(self, blocked)  # not even the method choice
        blocked.close()
        weir.wait_for_lines(harness.re.compile(r"blocked after repeated failed logins"))

    def test_success_resets_the_count(self):
        """A good login in between starts the count again."""
        users = harness.make_users_file(TMP.path, {"bob": "right"})
        weir = harness.Weir(["socks5://127.0.0.1:0"], users_file=users,
                            extra=["--login-free-failures", "5", "--login-block-after", "2"])
        self.addCleanup(weir.stop)
        port = weir.port("socks5")
        for _ in range(3):
            s = connect(port)
            s.sendall(s5_greeting(2) + s5_credentials("bob", "wrong"))
            self.assertEqual(recv_exact(s, 4), bytes.fromhex("05 02 01 01"))
            s.close()
            ok = socks5_session(port, "bob", "right")
            self.assertTrue(echoes(ok))
            ok.close()


class Reload(unittest.TestCase):
    def test_sighup_rereads_users_and_keeps_sessions(self):
        """SIGHUP: a new password works, the old one stops working, a session in flight
        keeps relaying; a broken file is rejected and the running users stay."""
        path = os.path.join(TMP.path, "reload-users")
        with open(path, "w") as f:
            f.write(harness.users_line("carol", "first") + "\n")
        weir = harness.Weir(["socks5://127.0.0.1:0"], users_file=path)
        self.addCleanup(weir.stop)
        port = weir.port("socks5")
        in_flight = socks5_session(port, "carol", "first")
        with open(path, "w") as f:
            f.write(harness.users_line("carol", "second") + "\n")
        weir.proc.send_signal(signal.SIGHUP)
        weir.wait_for_lines(harness.re.compile(r"reload: 1 user\(s\)"))
        self.assertTrue(echoes(in_flight))
        s = connect(port)
        s.sendall(s5_greeting(2) + s5_credentials("carol", "first"))
        self.assertEqual(recv_exact(s, 4), bytes.fromhex("05 02 01 01"))
        s.close()
        self.assertTrue(echoes(socks5_session(port, "carol", "second")))

        with open(path, "w") as f:
            f.write("carol:not-a-hash\n")
        weir.proc.send_signal(signal.SIGHUP)
        line = weir.wait_for_lines(harness.re.compile(r"reload failed.*reload-users:1:"))[0]
        self.assertNotIn("not-a-hash", line.string)
        self.assertTrue(echoes(socks5_session(port, "carol", "second")))
        self.assertTrue(echoes(in_flight))
        in_flight.close()


class RunAs(unittest.TestCase):
    def test_run_as_nobody(self):
        """Started as root with --run-as nobody: the process runs as nobody and relays."""
        if os.getuid() != 0:
            self.fail("this test needs root (CI and make test run as root)")
        nobody = pwd.getpwnam("nobody")
        weir = harness.Weir(["socks://127.0.0.1:0"], extra=["--run-as", "nobody"])
        self.addCleanup(weir.stop)
        with open(f"/proc/{weir.proc.pid}/status") as f:
            ids = {l.split(":")[0]: l.split()[1:] for l in f if l.startswith(("Uid", "Gid"))}
        self.assertEqual(ids["Uid"], [str(nobody.pw_uid)] * 4)
        self.assertEqual(ids["Gid"], [str(nobody.pw_gid)] * 4)
        self.assertTrue(echoes(socks5_session(weir.port("socks"))))

    def test_run_as_nobody_copies_when_the_kernel_refuses_pipes(self):
        """As nobody, a pipe over fs.pipe-max-size is refused (EPERM): the splice relay
        copies every burst instead, and one warning says why and what to change."""
        if os.getuid() != 0:
            self.fail("this test needs root (CI and make test run as root)")
        with open("/proc/sys/fs/pipe-max-size") as f:
            too_big = 2 * int(f.read())
        weir = harness.Weir(["socks://127.0.0.1:0"], relay="splice",
                            extra=["--run-as", "nobody", "--pipe-size", str(too_big)])
        self.addCleanup(weir.stop)
        data = os.urandom(1024 * 1024)
        s = socks5_session(weir.port("socks"))

        def send_all():
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)

        sender = threading.Thread(target=send_all)
        sender.start()
        echoed = harness.recv_all(s)
        sender.join()
        s.close()
        self.assertEqual(len(echoed), len(data))
        self.assertEqual(harness.sha256(echoed), harness.sha256(data))
        session = weir.sessions(result="succeeded")[0]
        self.assertEqual((session["relay"], session["up"], session["down"]),
                         ("splice", str(len(data)), str(len(data))))
        line = weir.wait_for_lines(harness.re.compile(r" warn splice: no pipe to be had"))[0]
        self.assertIn(f"(latest: the kernel refused a {too_big}-byte pipe: Operation not "
                      "permitted; an unprivileged user may not exceed fs.pipe-max-size per pipe, "
                      "nor fs.pipe-user-pages-soft pages in all: lower --pipe-size or "
                      "--pipe-budget); 1 since start", line.string)

    def test_run_as_the_user_it_already_is(self):
        """Started as nobody (setpriv, as a container would) with --run-as nobody:
        nothing to switch, no error; it runs and relays."""
        if os.getuid() != 0:
            self.fail("this test needs root (CI and make test run as root)")
        nobody = pwd.getpwnam("nobody")
        setpriv = [harness.require_tool("setpriv"), f"--reuid={nobody.pw_uid}",
                   f"--regid={nobody.pw_gid}", "--clear-groups"]
        weir = harness.Weir(["socks://127.0.0.1:0"], extra=["--run-as", "nobody"],
                            prefix=setpriv)
        self.addCleanup(weir.stop)
        weir.wait_for_lines(harness.re.compile(r"running as nobody \(uid "))
        self.assertTrue(echoes(socks5_session(weir.port("socks"))))

    def test_run_as_unknown_user(self):
        """An unknown --run-as user is a start-up error (exit 2), nothing listening."""
        r = harness.run_weir(["--listen", "socks://127.0.0.1:0", "--run-as", "no-such-user-x"])
        self.assertEqual(r.returncode, 2)
        self.assertEqual(r.stderr.strip().splitlines(),
                         ["weir: error: --run-as no-such-user-x: no user 'no-such-user-x'"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
