"""The README's "Connecting" table and its "weir instead of ssh -D" recipe, one
test per line: each runs the client with the setting the README gives
(ports and URLs aside) against a real weir and local targets, and checks the
bytes that arrived and the session weir logged.

The file runs in a private network namespace (it re-executes itself under
`unshare -n`, only loopback up): Firefox's background requests go through the
proxy too, and fail there at once, inside this machine.
"""

import getpass
import http.server
import os
import re
import socket
import subprocess
import threading
import time
import unittest

import harness

USERS = {"alice": "s3cret-alice"}
MARKER = "weir-clients-marker-7d1e"
PAGE = f"<html><head><title>weir</title></head><body><p>{MARKER}</p></body></html>"
EXAMPLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples")


def setUpModule():
    global TMP, HTTP, WEIR, OPEN, LOCKED
    TMP = harness.TempDir()
    HTTP = harness.HttpTarget(size=256 * 1024)
    # Like the embedded defaults: no password on loopback, a password listener.
    WEIR = harness.Weir(["socks://127.0.0.1:0", "socks5://127.0.0.1:0"], users=USERS)
    OPEN, LOCKED = WEIR.port("socks"), WEIR.port("socks5")


def tearDownModule():
    WEIR.stop()
    HTTP.stop()
    TMP.cleanup()


def client_env(**extra):
    """The environment without any proxy setting of the machine's, HOME in TMP."""
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env["HOME"] = TMP.path
    env.update(extra)
    return env


def run(args, env=None, timeout=90):
    return subprocess.run(args, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL,
                          env=env or client_env())


def wait_until(predicate, what, proc=None):
    """Polls `predicate` for harness.TIMEOUT seconds; fails if `proc` exits first."""
    deadline = time.monotonic() + harness.TIMEOUT
    while time.monotonic() < deadline:
        if predicate():
            return
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"{what}: the process exited with {proc.returncode}")
        time.sleep(0.05)
    raise AssertionError(f"{what}: not within {harness.TIMEOUT} s")


def accepts(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def stop(proc):
    """SIGTERM, then SIGKILL, by PID; bounded."""
    if proc.poll() is None:
        proc.terminate()
    try:
        proc.wait(harness.TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(harness.TIMEOUT)


class Curl(unittest.TestCase):
    """curl: socks5h:// and --socks5-hostname send the name, --socks4a too."""

    def fetch(self, *args, env=None, host="localhost"):
        mark = WEIR.mark()
        done = run([harness.require_tool("curl"), "-sS", "--fail", "--max-time", "60",
                    *args, HTTP.url(host=host)], env=env)
        self.assertEqual(done.returncode, 0, done.stderr.decode(errors="replace"))
        self.assertEqual(harness.sha256(done.stdout), HTTP.sha256)
        return WEIR.sessions(since=mark, target=f"{host}:{HTTP.port}", result="succeeded")[0]

    def test_x_socks5h(self):
        """curl -x socks5h://127.0.0.1:1080 URL"""
        s = self.fetch("-x", f"socks5h://127.0.0.1:{OPEN}")
        self.assertEqual((s["proto"], s["user"]), ("socks5", "-"))

    def test_socks5_hostname(self):
        """curl --socks5-hostname 127.0.0.1:1080 URL"""
        s = self.fetch("--socks5-hostname", f"127.0.0.1:{OPEN}")
        self.assertEqual(s["proto"], "socks5")

    def test_socks4a(self):
        """curl --socks4a 127.0.0.1:1080 URL"""
        s = self.fetch("--socks4a", f"127.0.0.1:{OPEN}")
        self.assertEqual(s["proto"], "socks4a")

    def test_proxy_user(self):
        """curl --socks5-hostname 127.0.0.1:1088 --proxy-user alice:secret URL"""
        s = self.fetch("--socks5-hostname", f"127.0.0.1:{LOCKED}",
                       "--proxy-user", f"alice:{USERS['alice']}")
        self.assertEqual((s["proto"], s["user"]), ("socks5", "alice"))

    def test_user_in_proxy_url(self):
        """curl -x socks5h://alice:secret@127.0.0.1:1088 URL"""
        s = self.fetch("-x", f"socks5h://alice:{USERS['alice']}@127.0.0.1:{LOCKED}")
        self.assertEqual(s["user"], "alice")

    def test_all_proxy_environment(self):
        """ALL_PROXY=socks5h://127.0.0.1:1080 curl URL, and all_proxy"""
        for name in ("ALL_PROXY", "all_proxy"):
            with self.subTest(name):
                env = client_env(**{name: f"socks5h://127.0.0.1:{OPEN}"})
                self.assertEqual(self.fetch(env=env)["proto"], "socks5")


def make_repository(path):
    """A repository with one commit; returns its HEAD hash."""
    env = client_env(GIT_AUTHOR_NAME="weir", GIT_AUTHOR_EMAIL="weir@example.org",
                     GIT_COMMITTER_NAME="weir", GIT_COMMITTER_EMAIL="weir@example.org")
    git = harness.require_tool("git")
    for args in (["init", "-q", "-b", "main", path],
                 ["-C", path, "commit", "-q", "--allow-empty", "-m", MARKER]):
        done = run([git, *args], env=env)
        if done.returncode != 0:
            raise AssertionError(f"git {args}: {done.stderr.decode(errors='replace')}")
    return run([git, "-C", path, "rev-parse", "HEAD"]).stdout.decode().strip()


class Git(unittest.TestCase):
    """git over dumb HTTP through http.proxy, and git:// through core.gitProxy."""

    @classmethod
    def setUpClass(cls):
        cls.git = harness.require_tool("git")
        cls.root = os.path.join(TMP.path, "repos")
        os.makedirs(cls.root)
        cls.head = make_repository(os.path.join(cls.root, "work"))
        done = run([cls.git, "clone", "-q", "--bare", os.path.join(cls.root, "work"),
                    os.path.join(cls.root, "repo.git")])
        assert done.returncode == 0, done.stderr
        # What a dumb-HTTP server needs (git update-server-info) ...
        done = run([cls.git, "-C", os.path.join(cls.root, "repo.git"), "update-server-info"])
        assert done.returncode == 0, done.stderr
        # ... served as files, as `python3 -m http.server` does.
        root = cls.root

        class Files(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args, **kw):
                super().__init__(*args, directory=root, **kw)

            def log_message(self, *args):
                pass

        cls.files = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Files)
        cls.files.daemon_threads = True
        threading.Thread(target=cls.files.serve_forever, daemon=True).start()

    @classmethod
    def tearDownClass(cls):
        cls.files.shutdown()
        cls.files.server_close()

    def cloned_head(self, args, url, name, env=None):
        mark = WEIR.mark()
        dest = os.path.join(TMP.path, name)
        done = run([self.git, *args, "clone", "-q", url, dest], env=env)
        self.assertEqual(done.returncode, 0, done.stderr.decode(errors="replace"))
        head = run([self.git, "-C", dest, "rev-parse", "HEAD"]).stdout.decode().strip()
        self.assertEqual(head, self.head)
        return mark

    def test_http_proxy(self):
        """git -c http.proxy=socks5h://127.0.0.1:1080 clone http://..."""
        port = self.files.server_address[1]
        mark = self.cloned_head(["-c", f"http.proxy=socks5h://127.0.0.1:{OPEN}"],
                                f"http://localhost:{port}/repo.git", "http-clone")
        WEIR.sessions(since=mark, proto="socks5", target=f"localhost:{port}", result="succeeded")

    def test_core_git_proxy(self):
        """git -c core.gitProxy=socks-git clone git://..., socks-git (on the PATH) running ncat"""
        bin_dir = os.path.join(TMP.path, "bin")
        os.makedirs(bin_dir, exist_ok=True)
        script = os.path.join(bin_dir, "socks-git")
        with open(script, "w") as f:
            f.write("#!/bin/sh\n"
                    f'exec ncat --proxy 127.0.0.1:{OPEN} --proxy-type socks5 "$1" "$2"\n')
        os.chmod(script, 0o755)
        daemon, port = self.start_git_daemon()
        try:
            path = bin_dir + os.pathsep + os.environ.get("PATH", "")
            mark = self.cloned_head(["-c", "core.gitProxy=socks-git"],
                                    f"git://localhost:{port}/repo.git", "git-clone",
                                    env=client_env(PATH=path))
        finally:
            stop(daemon)
        WEIR.sessions(since=mark, proto="socks5", target=f"localhost:{port}", result="succeeded")

    def start_git_daemon(self):
        """`git daemon` on a free loopback port (a port taken meanwhile: another try)."""
        harness.require_tool("ncat")
        for _ in range(3):
            port = harness.closed_port()
            daemon = subprocess.Popen(
                [self.git, "daemon", "--reuseaddr", "--listen=127.0.0.1", f"--port={port}",
                 f"--base-path={self.root}", "--export-all", self.root],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                env=client_env())
            try:
                wait_until(lambda: accepts(port), "git daemon listening", daemon)
                return daemon, port
            except AssertionError:
                stop(daemon)
        raise AssertionError("git daemon did not start")


class Python(unittest.TestCase):
    """Python's requests (with PySocks) and httpx (with socksio)."""

    def test_requests_socks5h(self):
        """requests.get(url, proxies={"http": "socks5h://...", "https": "socks5h://..."})"""
        import requests  # python3-requests; socks5h:// needs python3-socks

        proxy = f"socks5h://127.0.0.1:{OPEN}"
        mark = WEIR.mark()
        r = requests.get(HTTP.url(host="localhost"), proxies={"http": proxy, "https": proxy},
                         timeout=60)
        self.assertEqual(harness.sha256(r.content), HTTP.sha256)
        WEIR.sessions(since=mark, proto="socks5", target=f"localhost:{HTTP.port}",
                      result="succeeded")

    def test_httpx_socks5_sends_the_name(self):
        """httpx.Client(proxies="socks5://..."): bookworm's httpx 0.23 sends the host
        name to the proxy (there is no socks5h:// for it: it refuses that scheme)."""
        import httpx  # python3-httpx; SOCKS needs python3-socksio

        mark = WEIR.mark()
        with httpx.Client(proxies=f"socks5://127.0.0.1:{OPEN}", timeout=60) as client:
            r = client.get(HTTP.url(host="localhost"))
        self.assertEqual(harness.sha256(r.content), HTTP.sha256)
        WEIR.sessions(since=mark, proto="socks5", target=f"localhost:{HTTP.port}",
                      result="succeeded")
        with self.assertRaisesRegex(ValueError, "Unknown scheme for proxy URL"):
            httpx.Client(proxies=f"socks5h://127.0.0.1:{OPEN}")


USER_JS = """\
user_pref("network.proxy.type", 1);
user_pref("network.proxy.socks", "127.0.0.1");
user_pref("network.proxy.socks_port", {port});
user_pref("network.proxy.socks_version", 5);
user_pref("network.proxy.socks_remote_dns", true);
user_pref("network.proxy.allow_hijacking_localhost", true);
"""


class RecordingPage:
    """PAGE over HTTP on 127.0.0.1 at any path; `paths` lists the paths asked for."""

    def __init__(self):
        self.paths = []
        paths = self.paths

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                paths.append(self.path)
                body = PAGE.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class Firefox(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.page = RecordingPage()

    @classmethod
    def tearDownClass(cls):
        cls.page.stop()

    def screenshot(self, user_js, name):
        """Headless Firefox with this user.js takes a screenshot of /NAME by host name;
        the page server saw that request (by weir or by Firefox itself)."""
        firefox = harness.require_tool("firefox-esr")
        profile = os.path.join(TMP.path, name)
        os.makedirs(profile)
        with open(os.path.join(profile, "user.js"), "w") as f:
            f.write(user_js)
        shot = os.path.join(profile, "page.png")
        done = run([firefox, "--headless", "--no-remote", "--profile", profile,
                    "--screenshot", shot, f"http://localhost:{self.page.port}/{name}"],
                   timeout=120)
        self.assertEqual(done.returncode, 0, done.stderr.decode(errors="replace")[-2000:])
        with open(shot, "rb") as f:
            self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")
        self.assertIn(f"/{name}", self.page.paths)

    def test_prefs(self):
        """Firefox with the README's prefs in user.js loads a page by name through weir."""
        mark = WEIR.mark()
        self.screenshot(USER_JS.format(port=OPEN), "firefox-prefs")
        s = WEIR.sessions(since=mark, target=f"localhost:{self.page.port}",
                          result="succeeded")[0]
        self.assertEqual(s["proto"], "socks5")
        self.assertGreaterEqual(int(s["down"]), len(PAGE))

    def test_loopback_direct_without_hijacking_pref(self):
        """Without network.proxy.allow_hijacking_localhost Firefox fetches a loopback
        page itself: it loads, and weir sees no session for it."""
        user_js = "".join(line for line in USER_JS.format(port=OPEN).splitlines(True)
                          if "allow_hijacking_localhost" not in line)
        mark = WEIR.mark()
        self.screenshot(user_js, "firefox-no-hijacking")
        # A session of our own after Firefox's run: once weir logged it, it had
        # logged any session Firefox's (closed) connections made before it.
        closed = harness.closed_port()
        with harness.connect(OPEN) as s:
            s.sendall(harness.s5_greeting(0) + harness.s5_request("127.0.0.1", closed))
            self.assertEqual(harness.recv_exact(s, 2), b"\x05\x00")
            self.assertEqual(harness.read_s5_reply(s)[0], 0x05)
        WEIR.sessions(since=mark, target=f"127.0.0.1:{closed}")
        to_page = [line for line in WEIR.text().splitlines()[mark:]
                   if re.search(rf"\btarget=\S+:{self.page.port}\b", line)]
        self.assertEqual(to_page, [])


def account_locked():
    """The current user's password is locked ('!' in /etc/shadow, as for root on many
    installs): sshd without PAM turns such a user away even with a key, PAM does not."""
    try:
        with open("/etc/shadow") as f:
            entries = dict(line.split(":")[:2] for line in f if line.count(":") >= 1)
    except OSError:
        return False  # not root: sshd cannot read it either
    return entries.get(getpass.getuser(), "").startswith("!")


class Sshd:
    """An sshd (openssh-server) on a free loopback port, with its own host key,
    configuration and authorized key in a temp dir; the current user logs in."""

    def __init__(self):
        sshd = harness.require_tool("sshd")
        keygen = harness.require_tool("ssh-keygen")
        self.dir = os.path.join(TMP.path, "sshd")
        os.makedirs(self.dir)
        for name in ("host_key", "client_key"):
            done = run([keygen, "-q", "-t", "ed25519", "-N", "", "-f",
                        os.path.join(self.dir, name)])
            assert done.returncode == 0, done.stderr
        os.rename(os.path.join(self.dir, "client_key.pub"),
                  os.path.join(self.dir, "authorized_keys"))
        self.key = os.path.join(self.dir, "client_key")
        with open(os.path.join(self.dir, "host_key.pub")) as f:
            self.host_key = " ".join(f.read().split()[:2])
        os.makedirs("/run/sshd", exist_ok=True)  # its privilege separation directory
        for _ in range(3):
            self.port = harness.closed_port()
            self.proc = self.start(sshd)
            try:
                wait_until(lambda: accepts(self.port), "sshd listening", self.proc)
                return
            except AssertionError:
                stop(self.proc)
        raise AssertionError(f"sshd did not start: {self.log()}")

    def start(self, sshd):
        config = os.path.join(self.dir, "sshd_config")
        with open(config, "w") as f:
            f.write(f"ListenAddress 127.0.0.1:{self.port}\n"
                    f"HostKey {self.dir}/host_key\n"
                    f"AuthorizedKeysFile {self.dir}/authorized_keys\n"
                    f"PidFile none\nUsePAM {'yes' if account_locked() else 'no'}\n"
                    "StrictModes no\n"
                    "PasswordAuthentication no\nKbdInteractiveAuthentication no\n"
                    "PermitRootLogin prohibit-password\nAllowTcpForwarding yes\n")
        self.log_path = os.path.join(self.dir, "sshd.log")
        with open(self.log_path, "w") as log:
            return subprocess.Popen([sshd, "-D", "-e", "-f", config], stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=log)

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def ssh_args(self, host="localhost"):
        """ssh's options for this server (no user configuration, known host key)."""
        known = os.path.join(self.dir, "known_hosts")
        with open(known, "w") as f:
            f.write(f"[{host}]:{self.port} {self.host_key}\n")
        return [harness.require_tool("ssh"), "-F", "/dev/null", "-i", self.key,
                "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
                "-o", f"UserKnownHostsFile={known}", "-o", "StrictHostKeyChecking=yes",
                "-o", "ConnectTimeout=10", "-p", str(self.port), "-l", getpass.getuser()]

    def stop(self):
        stop(self.proc)


class Ssh(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        harness.require_tool("ncat")
        cls.sshd = Sshd()

    @classmethod
    def tearDownClass(cls):
        cls.sshd.stop()

    def test_proxy_command(self):
        """ssh -o ProxyCommand='ncat --proxy 127.0.0.1:1080 --proxy-type socks5 %h %p' host"""
        mark = WEIR.mark()
        proxy = f"ProxyCommand=ncat --proxy 127.0.0.1:{OPEN} --proxy-type socks5 %h %p"
        done = run([*self.sshd.ssh_args(), "-o", proxy, "localhost", "echo ok"])
        self.assertEqual(done.returncode, 0, done.stderr.decode(errors="replace")
                         + self.sshd.log())
        self.assertEqual(done.stdout, b"ok\n")
        WEIR.sessions(since=mark, proto="socks5", target=f"localhost:{self.sshd.port}",
                      result="succeeded")

    def test_local_forward_to_a_remote_weir(self):
        """ssh -L 1080:127.0.0.1:1080 host, then curl -x socks5h://127.0.0.1:1080:
        the client reaches weir's loopback listener on the ssh server's side."""
        local = harness.closed_port()
        tunnel = subprocess.Popen(
            [*self.sshd.ssh_args(), "-N", "-o", "ExitOnForwardFailure=yes",
             "-L", f"{local}:127.0.0.1:{OPEN}", "localhost"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            env=client_env())
        try:
            wait_until(lambda: accepts(local), "ssh -L listening", tunnel)
            mark = WEIR.mark()
            done = run([harness.require_tool("curl"), "-sS", "--fail", "--max-time", "60",
                        "-x", f"socks5h://127.0.0.1:{local}", HTTP.url(host="localhost")])
            self.assertEqual(done.returncode, 0, done.stderr.decode(errors="replace"))
            self.assertEqual(harness.sha256(done.stdout), HTTP.sha256)
            s = WEIR.sessions(since=mark, target=f"localhost:{HTTP.port}",
                              result="succeeded")[0]
            self.assertEqual((s["proto"], s["user"]), ("socks5", "-"))
        finally:
            stop(tunnel)
            tunnel.stderr.close()


class Proxychains(unittest.TestCase):
    def curl_through(self, config):
        """proxychains4 -f CONFIG curl URL: the page, checksummed."""
        done = run([harness.require_tool("proxychains4"), "-f", config,
                    harness.require_tool("curl"), "-sS", "--fail", "--max-time", "60",
                    HTTP.url()])
        self.assertEqual(done.returncode, 0, done.stderr.decode(errors="replace"))
        self.assertEqual(harness.sha256(done.stdout), HTTP.sha256)

    def test_example_config(self):
        """proxychains4 -f examples/proxychains.conf curl URL (its port changed to weir's)."""
        with open(os.path.join(EXAMPLES, "proxychains.conf")) as f:
            text = f.read()
        self.assertRegex(text, r"(?m)^socks5 127\.0\.0\.1 1080$")
        config = os.path.join(TMP.path, "proxychains.conf")
        with open(config, "w") as f:
            f.write(re.sub(r"(?m)^socks5 127\.0\.0\.1 1080$", f"socks5 127.0.0.1 {OPEN}", text))
        mark = WEIR.mark()
        self.curl_through(config)
        WEIR.sessions(since=mark, proto="socks5", target=f"127.0.0.1:{HTTP.port}",
                      result="succeeded")

    def test_example_chain(self):
        """proxychains4 -f examples/proxychains-chain.conf: two hops, each with a
        password (the hops' addresses changed to two weirs on loopback)."""
        with open(os.path.join(EXAMPLES, "proxychains-chain.conf")) as f:
            text = f.read()
        hop1 = "socks5 192.0.2.10 1088 alice secret"
        hop2 = "socks5 198.51.100.20 1088 bob secret"
        self.assertIn(f"\n{hop1}\n", text)
        self.assertIn(f"\n{hop2}\n", text)
        exit_hop = harness.Weir(["socks5://127.0.0.1:0"], users={"bob": "secret"})
        self.addCleanup(exit_hop.stop)
        config = os.path.join(TMP.path, "proxychains-chain.conf")
        with open(config, "w") as f:
            f.write(text.replace(hop1, f"socks5 127.0.0.1 {LOCKED} alice {USERS['alice']}")
                    .replace(hop2, f"socks5 127.0.0.1 {exit_hop.port('socks5')} bob secret"))
        mark = WEIR.mark()
        self.curl_through(config)
        WEIR.sessions(since=mark, user="alice", target=f"127.0.0.1:{exit_hop.port('socks5')}",
                      result="succeeded")
        exit_hop.sessions(user="bob", target=f"127.0.0.1:{HTTP.port}", result="succeeded")


if __name__ == "__main__":
    harness.main_in_private_netns()
