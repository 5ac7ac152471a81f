"""weir's configuration: one declaration per option, three ways in (flag,
WEIR_* variable, --config file), precedence flag > environment > file >
default, units, `weir check`, --help, and the error lines."""

import itertools
import os
import re
import socket
import unittest
from unittest import mock

import harness

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LOCAL = "socks5://127.0.0.1:0?auth=none"
SETTING_RE = re.compile(r"^([a-z-]+) = (.*?)  # (.+)$")
UNSET_RE = re.compile(r"^# ([a-z-]+) is not set \((.+)\)$")


def clean_env(extra=None):
    """The environment without any WEIR_* variable, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WEIR_")}
    env.update(extra or {})
    return env


def run(args, env=None):
    """Run weir to completion with only the WEIR_* variables in `env`."""
    import subprocess
    return subprocess.run([harness.weir_bin(), *args], capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL, env=clean_env(env))


def settings(stdout):
    """{name: (value, origin)} from `weir check` output; value None when not set."""
    out = {}
    for line in stdout.splitlines():
        if m := SETTING_RE.match(line):
            out[m.group(1)] = (m.group(2), m.group(3))
        elif m := UNSET_RE.match(line):
            out[m.group(1)] = (None, m.group(2))
    return out


class Base(unittest.TestCase):
    def setUp(self):
        self.tmp = harness.TempDir()
        self.addCleanup(self.tmp.cleanup)

    def write(self, name, text, mode=0o600):
        path = os.path.join(self.tmp.path, name)
        with open(path, "w") as f:
            os.fchmod(f.fileno(), mode)
            f.write(text)
        return path

    def check(self, args=(), env=None):
        """`weir check ARGS`: must succeed; returns its settings."""
        r = run(["check", *args], env)
        self.assertEqual(r.returncode, 0, f"{args} {env}: {r.stderr}")
        self.assertEqual(r.stderr, "", f"{args} {env}")
        self.assertRegex(r.stdout.splitlines()[-1], r"^# ok: \d+ listener\(s\) bound and released")
        return settings(r.stdout)

    def assert_error(self, args, expected, env=None):
        """weir ARGS fails with exit 2 and exactly this one stderr line."""
        r = run(args, env)
        self.assertEqual(r.returncode, 2, f"{args}: {r.stderr}")
        self.assertEqual(r.stderr, f"weir: error: {expected}\n", f"{args} {env}")


class Precedence(Base):
    def test_scalar_flag_beats_env_beats_file_beats_default(self):
        """--idle-timeout from every subset of {flag, WEIR_IDLE_TIMEOUT, file}: the
        highest present wins, and `weir check` names it."""
        conf = self.write("weir.toml", 'idle-timeout = "3s"\n')
        for flag, env, file in itertools.product([False, True], repeat=3):
            with self.subTest(flag=flag, env=env, file=file):
                args = ["--listen", LOCAL]
                args += ["--idle-timeout", "1s"] if flag else []
                args += ["--config", conf] if file else []
                got = self.check(args, {"WEIR_IDLE_TIMEOUT": "2s"} if env else None)
                expected = (('"1s"', "flag") if flag else
                            ('"2s"', "env WEIR_IDLE_TIMEOUT") if env else
                            ('"3s"', f"file {conf}") if file else ('"1h"', "default"))
                self.assertEqual(got["idle-timeout"], expected)

    def test_list_flag_beats_env_beats_file(self):
        """--listen (a list) from every non-empty subset of {flag, WEIR_LISTEN, file}:
        the highest source's values replace the others whole. (With none, the
        defaults would bind the fixed ports 1080 and 1088: shown by --help instead.)"""
        conf = self.write("weir.toml", 'listen = ["socks4://127.0.0.1:0"]\n')
        for flag, env, file in itertools.product([False, True], repeat=3):
            if not (flag or env or file):
                continue
            with self.subTest(flag=flag, env=env, file=file):
                args = ["--listen", LOCAL, "--listen", "socks://127.0.0.1:0"] if flag else []
                args += ["--config", conf] if file else []
                variables = {"WEIR_LISTEN": "socks://[::1]:0,socks4://localhost:0"} if env else None
                got = self.check(args, variables)
                expected = (
                    ('["socks5://127.0.0.1:0?auth=none", "socks://127.0.0.1:0?auth=none"]', "flag")
                    if flag else
                    ('["socks://[::1]:0?auth=none", "socks4://127.0.0.1:0?auth=none", '
                      '"socks4://[::1]:0?auth=none"]',
                     "env WEIR_LISTEN") if env else
                    ('["socks4://127.0.0.1:0?auth=none"]', f"file {conf}"))
                self.assertEqual(got["listen"], expected)

    def test_default_listeners_in_help(self):
        """The default listeners, shown by --help (binding them would need fixed ports)."""
        r = run(["--help"])
        self.assertIn("(default: socks://127.0.0.1:1080?auth=none,", " ".join(r.stdout.split()))

    def test_weir_config_names_the_file_and_the_flag_beats_it(self):
        """WEIR_CONFIG is read like --config; --config beats it."""
        by_env = self.write("env.toml", "max-sessions = 11\n")
        by_flag = self.write("flag.toml", "max-sessions = 22\n")
        got = self.check(["--listen", LOCAL], {"WEIR_CONFIG": by_env})
        self.assertEqual(got["max-sessions"], ("11", f"file {by_env}"))
        self.assertEqual(got["config"], (f'"{by_env}"', "env WEIR_CONFIG"))
        got = self.check(["--listen", LOCAL, "--config", by_flag], {"WEIR_CONFIG": by_env})
        self.assertEqual(got["max-sessions"], ("22", f"file {by_flag}"))
        self.assertEqual(got["config"], (f'"{by_flag}"', "flag"))

    def test_running_weir_listens_where_the_environment_says(self):
        """Not only `weir check`: a running weir takes WEIR_LISTEN over the file's
        listen key (CLI11 used to let the file win)."""
        conf = self.write("weir.toml", 'listen = ["socks4://127.0.0.1:0"]\n')
        with mock.patch.dict(os.environ, {"WEIR_LISTEN": "socks://127.0.0.1:0"}):
            weir = harness.Weir([], extra=["--config", conf], expect_listeners=1)
        self.addCleanup(weir.stop)
        self.assertEqual([s for s, _, _ in weir.listeners], ["socks"])


# A value for each option and how `weir check` shows it. A new option fails
# test_every_option_in_help_has_a_variable_and_a_key until it is added here.
SAMPLES = {
    "listen": ("socks4://127.0.0.1:0", '["socks4://127.0.0.1:0?auth=none"]'),
    "run-as": (None, None),  # filled in setUp: the current user
    "users": (None, None),  # filled in setUp: a users file
    "no-login-throttle": ("true", "true"),
    "login-free-failures": ("7", "7"),
    "login-block-after": ("9", "9"),
    "login-block-time": ("90", '"90s"'),
    "rule": ("allow from 127.0.0.0/8", '["allow from 127.0.0.0/8"]'),
    "rules-file": (None, None),  # filled in setUp: a rules file
    "deny-private-destinations": ("true", "true"),
    "deny-private-ranges": ("true", "true"),
    "threads": ("3", "3"),
    "max-sessions": ("100", "100"),
    "max-sessions-per-client": ("10", "10"),
    "max-handshakes": ("20", "20"),
    "max-handshakes-per-client": ("2", "2"),
    "handshake-timeout": ("500ms", '"500ms"'),
    "connect-timeout": ("1.5", '"1500ms"'),
    "bind-timeout": ("2m", '"2m"'),
    "idle-timeout": ("3600s", '"1h"'),
    "drain-timeout": ("0", '"0s"'),
    "relay": ("copy", '"copy"'),
    "pipe-size": ("64K", '"64KiB"'),
    "pipe-budget": ("1G", '"1GiB"'),
    "log-level": ("warn", '"warn"'),
    "log-format": ("json", '"json"'),
    "metrics": ("127.0.0.1:0", '"127.0.0.1:0"'),
    "metrics-allow-remote": ("true", "true"),
}


def toml(value):
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class EveryOption(Base):
    def setUp(self):
        super().setUp()
        import pwd
        users = harness.make_users_file(self.tmp.path, {"alice": "a"})
        rules = self.write("rules", "allow from 127.0.0.0/8\n")
        user = pwd.getpwuid(os.getuid()).pw_name
        self.samples = dict(SAMPLES)
        self.samples.update({"users": (users, toml(users)), "run-as": (user, toml(user)),
                             "rules-file": (rules, toml(rules))})

    def help_options(self):
        r = run(["--help"])
        self.assertEqual(r.returncode, 0)
        names = re.findall(r"^  --([a-z-]+)", r.stdout, re.M)
        return [n for n in names if n not in ("config", "help", "version")]

    def test_every_option_in_help_has_a_variable_and_a_key(self):
        """Each option --help lists is set through WEIR_NAME and through the config
        key NAME, and `weir check` shows the value with that origin."""
        names = self.help_options()
        self.assertEqual(sorted(names), sorted(self.samples))
        for name in names:
            value, shown = self.samples[name]
            base = [] if name == "listen" else ["--listen", LOCAL]
            variable = "WEIR_" + name.upper().replace("-", "_")
            with self.subTest(name=name, via="env"):
                got = self.check(base, {variable: value})
                self.assertEqual(got[name], (shown, f"env {variable}"))
            with self.subTest(name=name, via="file"):
                conf = self.write("weir.toml", f"{name} = {toml(value)}\n")
                got = self.check([*base, "--config", conf])
                self.assertEqual(got[name], (shown, f"file {conf}"))
            with self.subTest(name=name, via="flag"):
                flag = [f"--{name}"] if value == "true" else [f"--{name}", value]
                got = self.check([*base, *flag])
                self.assertEqual(got[name], (shown, "flag"))

    def test_check_shows_every_option_and_no_secret(self):
        """One line per option (config first), a users file by its path only."""
        users, _ = self.samples["users"]
        r = run(["check", "--listen", LOCAL, "--users", users])
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertEqual(len(lines), 1 + len(self.samples) + 1)  # config, options, ok
        self.assertEqual(lines[0], "# config is not set (default)")
        self.assertEqual(list(settings(r.stdout)), ["config", *self.help_options()])
        self.assertNotIn("argon2", r.stdout + r.stderr)
        self.assertEqual(lines[-1], "# ok: 1 listener(s) bound and released, 0 rule(s), 1 user(s)")


class Errors(Base):
    DURATION = "(a number of seconds, or with a unit: 500ms, 90s, 15m, 1h)"

    def test_bad_duration_names_its_source(self):
        """A bad duration from a flag, a variable or the file (with its line)."""
        conf = self.write("weir.toml", '# comment\n\nlisten = "socks://127.0.0.1:0"\n'
                                       'idle-timeout = "1 hour"\n')
        self.assert_error(["--idle-timeout", "1 hour"],
                          f'--idle-timeout: "1 hour" is not a duration {self.DURATION}')
        self.assert_error([], f'WEIR_IDLE_TIMEOUT: "1 hour" is not a duration {self.DURATION}',
                          env={"WEIR_IDLE_TIMEOUT": "1 hour"})
        self.assert_error(["check", "--config", conf],
                          f'{conf}:4: idle-timeout: "1 hour" is not a duration {self.DURATION}')

    def test_ranges_in_human_units(self):
        self.assert_error(["--handshake-timeout", "0"],
                          '--handshake-timeout: "0" is out of range (1ms to 24h)')
        self.assert_error(["--pipe-size", "1K"], '--pipe-size: "1K" is out of range (4KiB to 64MiB)')
        self.assert_error(["--pipe-budget", "1.5M"],
                          '--pipe-budget: "1.5M" is not a size (a number of bytes, or with a '
                          'unit: 64K, 1M, 1G (binary: KiB, MiB, GiB))')

    def test_unknown_option_suggests_the_nearest(self):
        self.assert_error(["--listne", "x"],
                          "unknown option --listne; did you mean --listen? (see weir --help)")
        self.assert_error(["--idle-timout=5"], "unknown option --idle-timout; did you mean "
                                               "--idle-timeout? (see weir --help)")
        self.assert_error(["--no-such-flag"], "unknown option --no-such-flag (see weir --help)")

    def test_unknown_config_key_suggests_the_nearest_with_file_and_line(self):
        conf = self.write("weir.toml", 'listen = "socks://127.0.0.1:0"\n\nmax-sesions = 5\n')
        self.assert_error(["--config", conf],
                          f"{conf}:3: unknown key max-sesions; did you mean max-sessions?")
        conf = self.write("weir.toml", 'frobnicate = 5\n')
        self.assert_error(["--config", conf], f"{conf}:1: unknown key frobnicate")

    def test_config_file_syntax_and_reading(self):
        conf = self.write("weir.toml", '[server]\nlisten = "x"\n')
        self.assert_error(["--config", conf],
                          f"{conf}:1: sections are not supported: every key is a long option")
        missing = os.path.join(self.tmp.path, "missing.toml")
        self.assert_error(["--config", missing],
                          f"--config: cannot read {missing}: No such file or directory")
        self.assert_error([], f"WEIR_CONFIG: cannot read {missing}: No such file or directory",
                          env={"WEIR_CONFIG": missing})
        conf = self.write("weir.toml", 'threads = 1\nthreads = 2\n')
        self.assert_error(["--config", conf], f"{conf}:2: threads is already set on line 1")

    def test_misspelt_or_old_variable_is_an_error(self):
        """A WEIR_* variable near an option's is refused with the right name (WEIR_RULES
        was --rule's variable before names were derived); unrelated ones are ignored."""
        self.assert_error(["--listen", LOCAL], "WEIR_RULES is not a weir variable; did you "
                          "mean WEIR_RULE?", env={"WEIR_RULES": "allow"})
        self.assert_error(["--listen", LOCAL], "WEIR_IDLE_TIMOUT is not a weir variable; did "
                          "you mean WEIR_IDLE_TIMEOUT?", env={"WEIR_IDLE_TIMOUT": "5"})
        got = self.check(["--listen", LOCAL], {"WEIR_BIN": "x", "WEIR_TEST_RELAY": "copy"})
        self.assertEqual(got["relay"], ('"splice"', "default"))

    def test_metrics_off_loopback_needs_allow_remote(self):
        self.assert_error(["--metrics", "0.0.0.0:9100"],
                          "--metrics 0.0.0.0:9100 would serve metrics to the network; give "
                          "--metrics-allow-remote to mean it")
        got = self.check(["--listen", LOCAL, "--metrics", "0.0.0.0:9100",
                          "--metrics-allow-remote"])
        self.assertEqual(got["metrics"], ('"0.0.0.0:9100"', "flag"))
        self.assert_error(["--metrics", "localhost"],
                          '--metrics: "localhost" is not HOST:PORT (no port; HOST an IPv4 '
                          'address, [IPv6] or localhost)')

    def test_version_and_help(self):
        r = run(["--version"])
        self.assertEqual((r.returncode, r.stdout, r.stderr), (0, "weir 0.1.0\n", ""))
        r = run(["--help"])
        self.assertEqual(r.returncode, 0)
        headings = re.findall(r"^([A-Z][a-z ]+):$", r.stdout, re.M)
        self.assertEqual(headings, ["Listeners", "Authentication", "Access rules", "Limits",
                                    "Timeouts", "Relay", "Logging", "Metrics", "General",
                                    "Examples"])
        for noise in ("TEXT", "UINT", "FLOAT", "INT in", "BOOLEAN"):
            self.assertNotIn(noise, r.stdout)
        for line in ("  --idle-timeout DURATION", "  --pipe-size SIZE", "  --threads N",
                     "  --listen URL", "  --users FILE", "  --metrics HOST:PORT",
                     "  --config FILE"):
            self.assertIn(line, r.stdout)
        self.assertIn("K, M and G are binary (KiB, MiB, GiB)", r.stdout)
        self.assertIn("(default: 1h)", r.stdout)


class Check(Base):
    def assert_check_error(self, args, expected, env=None):
        self.assert_error(["check", *args], expected, env)

    def test_example_config_file_checks(self):
        """examples/weir.toml is valid; its listeners and users file are overridden
        by flags (fixed ports and /etc paths are not the test's to use)."""
        example = os.path.join(ROOT, "examples", "weir.toml")
        users = harness.make_users_file(self.tmp.path, {"alice": "a"})
        got = self.check(["--config", example, "--listen", LOCAL, "--users", users])
        from_file = [n for n, (_, origin) in got.items() if origin == f"file {example}"]
        self.assertGreaterEqual(len(from_file), 8, got)
        self.assertEqual(got["idle-timeout"], ('"15m"', f"file {example}"))

    def test_bad_rule_names_its_key_and_line(self):
        conf = self.write("weir.toml", f'listen = "{LOCAL}"\nrule = ["allow", "permit all"]\n')
        r = run(["check", "--config", conf])
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)
        self.assertTrue(r.stderr.startswith(f"weir: error: {conf}:2: rule: "), r.stderr)

    def test_open_proxy_is_refused(self):
        self.assert_check_error(
            ["--listen", "socks5://0.0.0.0:0?auth=none"],
            "--listen socks5://0.0.0.0:0: clients on other hosts could use this listener "
            "without a password (an open proxy). Say which clients may, e.g. --rule 'allow "
            "from 192.168.1.0/24' (everyone else is refused), or require a password: "
            "--listen socks5://0.0.0.0:0")

    def test_bad_users_file(self):
        users = self.write("users", "alice:not-a-hash\n")
        r = run(["check", "--listen", LOCAL], env={"WEIR_USERS": users})
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)
        self.assertTrue(r.stderr.startswith(f"weir: error: WEIR_USERS: {users}:1: "), r.stderr)
        missing = os.path.join(self.tmp.path, "none")
        r = run(["check", "--listen", LOCAL, "--users", missing])
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertTrue(r.stderr.startswith(f"weir: error: --users: "), r.stderr)

    def test_unknown_run_as_user(self):
        r = run(["check", "--listen", LOCAL, "--run-as", "no-such-user-weir"])
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)
        self.assertTrue(r.stderr.startswith("weir: error: --run-as: "), r.stderr)
        self.assertIn("no-such-user-weir", r.stderr)

    def test_port_in_use(self):
        held = socket.socket()
        self.addCleanup(held.close)
        held.bind(("127.0.0.1", 0))
        held.listen(1)
        busy = held.getsockname()[1]
        conf = self.write("weir.toml", f'listen = ["{LOCAL}", "socks://127.0.0.1:{busy}"]\n')
        self.assert_check_error(
            ["--config", conf],
            f"{conf}:1: listen: cannot listen on socks://127.0.0.1:{busy}: Address already in use")

    def test_ports_are_let_go(self):
        """After `weir check`, the ports it bound are free again."""
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        self.check(["--listen", f"socks://127.0.0.1:{port}"])
        again = socket.socket()
        self.addCleanup(again.close)
        again.bind(("127.0.0.1", port))


if __name__ == "__main__":
    unittest.main(verbosity=2)
