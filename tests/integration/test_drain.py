"""SIGTERM and SIGINT drain: stop accepting at once, let sessions finish for
--drain-timeout, then close the rest (end=drain) and exit 0; a second signal
exits at once."""

import errno
import re
import signal
import socket
import subprocess
import time
import unittest

import harness
from harness import connect, recv_exact, s5_greeting, s5_request


def setUpModule():
    global ECHO
    ECHO = harness.EchoTarget()


def tearDownModule():
    ECHO.stop()


def open_relay(port):
    """A SOCKS5 session to the echo target, relaying; its socket."""
    s = connect(port)
    s.sendall(s5_greeting(0) + s5_request("127.0.0.1", ECHO.port))
    assert recv_exact(s, 2) == bytes.fromhex("05 00")
    assert recv_exact(s, 10)[:4] == bytes.fromhex("05 00 00 01")
    return s


def refused(port):
    """Whether a new connection to the port is refused (the listener closed)."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=harness.TIMEOUT).close()
    except ConnectionRefusedError:
        return True
    except OSError as e:
        return e.errno == errno.ECONNREFUSED
    return False


class Drain(unittest.TestCase):
    def start(self, drain_timeout):
        weir = harness.Weir(["socks://127.0.0.1:0"],
                            extra=["--drain-timeout", drain_timeout.rstrip("s")])
        self.addCleanup(weir.stop, check=False)
        return weir, weir.port("socks")

    def wait_exit(self, weir):
        try:
            return weir.proc.wait(harness.TIMEOUT)
        except subprocess.TimeoutExpired:
            self.fail(f"weir did not exit; stderr:\n{weir.text()}")

    def test_sessions_in_flight_finish(self):
        """SIGTERM: the port closes at once, an open session goes on relaying
        until its client ends it, then weir logs it and exits 0."""
        for sig in (signal.SIGTERM, signal.SIGINT):
            with self.subTest(signal=sig.name):
                weir, port = self.start("60s")
                s = open_relay(port)
                s.sendall(b"before")
                self.assertEqual(recv_exact(s, 6), b"before")
                mark = weir.mark()
                weir.proc.send_signal(sig)
                weir.wait_for_lines(re.compile(r"drain: stopped accepting; 1 session"),
                                    start=mark)
                self.assertTrue(refused(port), "the listener still accepts while draining")
                payload = bytes(range(256)) * 4096  # 1 MiB both ways, checksummed
                s.sendall(payload)
                self.assertEqual(harness.sha256(recv_exact(s, len(payload))),
                                 harness.sha256(payload))
                self.assertIsNone(weir.proc.poll(), "weir exited with a session in flight")
                s.shutdown(socket.SHUT_WR)
                harness.assert_eof(self, s)
                s.close()
                self.assertEqual(self.wait_exit(weir), 0, weir.text())
                line = weir.sessions(since=mark)[0]
                self.assertEqual(line["end"], "eof")
                self.assertEqual(line["up"], str(6 + len(payload)))
                weir.wait_for_lines(re.compile("drain: every session ended"), start=mark)

    def test_the_rest_closed_after_the_timeout(self):
        """Past --drain-timeout, a relaying session, a UDP association and a
        connection still in its handshake are closed, each logged with
        end=drain; exit status 0."""
        weir, port = self.start("1s")
        relaying = open_relay(port)
        udp = connect(port)
        udp.sendall(s5_greeting(0) + s5_request("127.0.0.1", 0, cmd=3))
        self.assertEqual(recv_exact(udp, 2), bytes.fromhex("05 00"))
        self.assertEqual(recv_exact(udp, 10)[:2], bytes.fromhex("05 00"))
        negotiating = connect(port)
        negotiating.sendall(b"\x05")  # a greeting cut short: still in the handshake
        time.sleep(0.2)  # let weir read it
        mark = weir.mark()
        weir.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.wait_exit(weir), 0, weir.text())
        for s in (relaying, udp, negotiating):
            harness.assert_eof(self, s)
            s.close()
        lines = weir.sessions(since=mark, count=3, end="drain")
        self.assertEqual(sorted(l.get("relay", "-") for l in lines), ["-", "splice" if
                         harness.relay_mode() == "splice" else "copy", "udp"])
        weir.wait_for_lines(re.compile(r"drain: closing 3 session\(s\) still open"), start=mark)

    def test_second_signal_exits_at_once(self):
        """A second signal during the drain exits at once, with 128 + its number."""
        weir, port = self.start("60s")
        s = open_relay(port)
        self.addCleanup(s.close)
        mark = weir.mark()
        weir.proc.send_signal(signal.SIGTERM)
        weir.wait_for_lines(re.compile(r"drain: stopped accepting"), start=mark)
        weir.proc.send_signal(signal.SIGINT)
        self.assertEqual(self.wait_exit(weir), 128 + signal.SIGINT, weir.text())
        # the line is in the pipe before the exit; the reader may not have taken it yet
        weir.wait_for_lines(re.compile("during the drain: exiting now"), start=mark)

    def test_idle_server_exits_at_once(self):
        """With nothing in flight, SIGTERM exits 0 without waiting."""
        weir, _ = self.start("60s")
        weir.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.wait_exit(weir), 0, weir.text())
        weir.wait_for_lines(re.compile("drain: every session ended"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
