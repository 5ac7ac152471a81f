#!/usr/bin/python3
"""The systemd units of examples/: hardened, valid as installed, and weir works
under the system unit's system-call filter.

Environment (tests/install/CMakeLists.txt sets it):
  WEIR_BIN             the weir built
  WEIR_BUILD_DIR       the build tree, installed with `cmake --install`
  WEIR_SOURCE_DIR      the source tree (examples/)
  WEIR_INSTALL_PREFIX  CMAKE_INSTALL_PREFIX of the build tree
"""
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
from harness import (TIMEOUT, HttpTarget, TempDir, Weir, connect, read_s5_reply,  # noqa: E402
                     recv_all, recv_exact, require_tool, s5_credentials, s5_greeting, s5_request,
                     sha256)

SOURCE = Path(os.environ.get("WEIR_SOURCE_DIR", Path(__file__).resolve().parents[2]))
UNDER_FILTER = Path(__file__).resolve().parent / "under_unit_filter.py"
EXPOSURE_RE = re.compile(r"Overall exposure level for (\S+): (\d+\.\d) ")


def env(name):
    value = os.environ.get(name)
    if not value:
        raise unittest.SkipTest(f"{name} is not set (run through ctest)")
    return value


def install(destdir):
    """`cmake --install` of the build tree into destdir; returns destdir/PREFIX."""
    r = subprocess.run(["cmake", "--install", env("WEIR_BUILD_DIR")], capture_output=True,
                       text=True, timeout=120, env={**os.environ, "DESTDIR": str(destdir)})
    if r.returncode != 0:
        raise AssertionError(f"cmake --install failed:\n{r.stdout}{r.stderr}")
    return Path(str(destdir) + env("WEIR_INSTALL_PREFIX"))


def analyze(*args, **kw):
    require_tool("systemd-analyze")
    return subprocess.run(["systemd-analyze", *args], capture_output=True, text=True,
                          timeout=60, **kw)


class Security(unittest.TestCase):
    def exposure(self, unit):
        r = analyze("security", "--offline=true", str(unit))
        m = EXPOSURE_RE.search(r.stdout)
        self.assertIsNotNone(m, f"no exposure line:\n{r.stdout}{r.stderr}")
        self.assertEqual(m.group(1), "weir.service")
        return float(m.group(2))

    def test_the_system_unit_scores_2_or_lower(self):
        self.assertLessEqual(self.exposure(SOURCE / "examples/weir.service"), 2.0)

    def test_the_installed_system_unit_scores_the_same(self):
        tmp = TempDir()
        self.addCleanup(tmp.cleanup)
        root = install(Path(tmp.path) / "root")
        self.assertEqual(self.exposure(root / "lib/systemd/system/weir.service"),
                         self.exposure(SOURCE / "examples/weir.service"))


class Verify(unittest.TestCase):
    """`systemd-analyze verify` on the installed units, ExecStart= pointing into
    the install tree (DESTDIR) and MANPATH there, so that it checks the
    installed binary and the installed weir(1) of Documentation=."""

    def setUp(self):
        self.tmp = TempDir()
        self.addCleanup(self.tmp.cleanup)
        self.tmp_path = Path(self.tmp.path)
        self.root = install(self.tmp_path / "root")
        runtime = self.tmp_path / "runtime"  # --user needs a runtime directory
        runtime.mkdir(mode=0o700)
        self.env = {**os.environ, "MANPATH": str(self.root / "share/man"),
                    "XDG_RUNTIME_DIR": str(runtime)}

    def copy(self, installed, exec_path):
        """The installed unit, as weir.service in a directory of its own."""
        text = (self.root / installed).read_text()
        bindir = env("WEIR_INSTALL_PREFIX") + "/bin/weir"
        self.assertIn(f"ExecStart={bindir} ", text)
        unit_dir = self.tmp_path / installed.replace("/", "_")
        unit_dir.mkdir()
        unit = unit_dir / "weir.service"
        unit.write_text(text.replace(f"ExecStart={bindir} ", f"ExecStart={exec_path} "))
        return unit

    def verify(self, unit, *args):
        r = analyze("verify", *args, str(unit), env=self.env)
        return r.returncode, r.stdout + r.stderr

    def test_the_system_unit_verifies(self):
        unit = self.copy("lib/systemd/system/weir.service", self.root / "bin/weir")
        self.assertEqual(self.verify(unit), (0, ""))

    def test_the_user_unit_verifies(self):
        unit = self.copy("lib/systemd/user/weir.service", self.root / "bin/weir")
        self.assertEqual(self.verify(unit, "--user"), (0, ""))

    def test_verify_fails_on_a_missing_binary(self):
        unit = self.copy("lib/systemd/system/weir.service", self.root / "bin/nothing-here")
        rc, out = self.verify(unit)
        self.assertNotEqual(rc, 0)
        self.assertIn("bin/nothing-here is not executable", out)


class UdpEcho:
    """A UDP echo server on 127.0.0.1."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while self.running:
            try:
                data, peer = self.sock.recvfrom(65536)
            except socket.timeout:
                continue
            self.sock.sendto(data, peer)

    def stop(self):
        self.running = False
        self.thread.join(TIMEOUT)
        self.sock.close()


def open_file_limits(pid):
    """(soft, hard) "Max open files" of a process, as /proc shows them."""
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            return tuple(line.split()[3:5])
    raise AssertionError(f"no open-file limit in /proc/{pid}/limits")


class UnderTheFilter(unittest.TestCase):
    """weir under the SystemCallFilter= and RestrictAddressFamilies= of the
    system unit (a call outside them kills it): start-up, a password login,
    CONNECT with both relays, UDP ASSOCIATE, SIGHUP, the inotify reload, the
    netlink watch of the host's addresses, metrics, the drain."""

    UNIT = SOURCE / "examples/weir.service"

    def start(self, unit, **kw):
        # A soft open-file limit under the hard one: weir raises it (prlimit64) at start.
        # Under ASan, no leak check at exit: LeakSanitizer stops the world with
        # ptrace, which the unit's filter refuses (every other test checks leaks).
        prefix = ["/bin/sh", "-c",
                  'ulimit -Sn 512 && ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" '
                  'exec "$@"', "sh",
                  sys.executable, "-B", str(UNDER_FILTER), str(unit)]
        w = Weir(prefix=prefix, **kw)
        self.addCleanup(w.stop, check=False)
        return w

    def fetch(self, port, target):
        s = connect(port)
        with s:
            s.sendall(s5_greeting(2) + s5_credentials("alice", "s3cret") +
                      s5_request("127.0.0.1", target.port))
            self.assertEqual(recv_exact(s, 2), b"\x05\x02")
            self.assertEqual(recv_exact(s, 2), b"\x01\x00")
            self.assertEqual(read_s5_reply(s)[0], 0)
            s.sendall(b"GET /file HTTP/1.0\r\nHost: x\r\n\r\n")
            body = recv_all(s).split(b"\r\n\r\n", 1)[1]
        self.assertEqual(sha256(body), sha256(target.body))

    def udp_round_trip(self, port):
        echo = UdpEcho()
        self.addCleanup(echo.stop)
        control = connect(port)
        self.addCleanup(control.close)
        control.sendall(s5_greeting(0) + s5_request("0.0.0.0", 0, cmd=3))
        self.assertEqual(recv_exact(control, 2), b"\x05\x00")
        rep, _, addr, relay_port = read_s5_reply(control)
        self.assertEqual((rep, addr), (0, socket.inet_aton("127.0.0.1")))
        client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(client.close)
        client.settimeout(TIMEOUT)
        header = b"\x00\x00\x00\x01" + socket.inet_aton("127.0.0.1") + echo.port.to_bytes(2, "big")
        client.sendto(header + b"through the filter", ("127.0.0.1", relay_port))
        self.assertEqual(client.recvfrom(65536)[0], header + b"through the filter")

    def test_weir_works_under_the_system_units_filter(self):
        target = HttpTarget(size=1024 * 1024)
        self.addCleanup(target.stop)
        tmp = TempDir()
        self.addCleanup(tmp.cleanup)
        rules = Path(tmp.path) / "rules.txt"
        for relay in ("splice", "copy"):
            with self.subTest(relay=relay):
                rules.write_text("allow to 127.0.0.1\n")
                w = self.start(self.UNIT, listens=["socks://127.0.0.1:0", "socks5://127.0.0.1:0"],
                               users={"alice": "s3cret"}, relay=relay,
                               extra=["--rules-file", str(rules), "--metrics", "127.0.0.1:0"])
                w.wait_for_lines(re.compile(r"metrics on http://127\.0\.0\.1:\d+/metrics"))
                hard = open_file_limits(os.getpid())[1]
                self.assertEqual(open_file_limits(w.proc.pid), (hard, hard))  # raised from 512
                self.fetch(w.port("socks5"), target)
                w.sessions(user="alice", result="succeeded", relay=relay)
                self.udp_round_trip(w.port("socks"))
                mark = w.mark()
                w.proc.send_signal(signal.SIGHUP)
                w.wait_for_lines(re.compile(r"reload: 1 user\(s\), 1 rule\(s\)"), start=mark)
                mark = w.mark()
                rules.write_text("allow to 127.0.0.1\nallow to localhost\n")
                w.wait_for_lines(re.compile(r"reload: 1 user\(s\), 2 rule\(s\)"), start=mark)
                self.assertEqual(w.stop(), 0)
                for warning in ("cannot follow", "cannot watch", "could not raise"):
                    self.assertNotIn(warning, w.text())

    def test_the_user_units_weir_works_under_its_filter(self):
        unit = SOURCE / "examples/weir-user.service"
        self.assertIn("ExecStart=/usr/local/bin/weir --listen socks://localhost:1080\n",
                      unit.read_text())
        target = HttpTarget(size=64 * 1024)
        self.addCleanup(target.stop)
        w = self.start(unit, listens=["socks://localhost:0"])
        s = connect(w.port("socks"))
        with s:
            s.sendall(s5_greeting(0) + s5_request("127.0.0.1", target.port))
            self.assertEqual(recv_exact(s, 2), b"\x05\x00")
            self.assertEqual(read_s5_reply(s)[0], 0)
            s.sendall(b"GET /file HTTP/1.0\r\nHost: x\r\n\r\n")
            body = recv_all(s).split(b"\r\n\r\n", 1)[1]
        self.assertEqual(sha256(body), sha256(target.body))
        self.assertEqual(w.stop(), 0)

    def test_without_netlink_weir_loses_the_host_address_watch(self):
        # Why the unit allows AF_NETLINK beyond AF_INET AF_INET6 AF_UNIX.
        tmp = TempDir()
        self.addCleanup(tmp.cleanup)
        unit = Path(tmp.path) / "weir.service"
        text = self.UNIT.read_text()
        self.assertIn("RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX AF_NETLINK\n", text)
        unit.write_text(text.replace(" AF_NETLINK\n", "\n"))
        w = self.start(unit, listens=["socks://127.0.0.1:0"])
        w.wait_for_lines(re.compile(r"cannot follow this host's address changes"))

    def test_a_call_outside_the_filter_kills(self):
        r = subprocess.run([sys.executable, "-B", str(UNDER_FILTER), str(self.UNIT),
                            sys.executable, "-c", "import os; os.setgroups([])"],
                           capture_output=True, timeout=60)
        self.assertEqual(r.returncode, -signal.SIGSYS, r.stderr)


if __name__ == "__main__":
    unittest.main()
