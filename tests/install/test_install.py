#!/usr/bin/python3
"""`cmake --install` (what `make install` runs) lays out exactly the expected
files with the expected modes, the installed weir runs, and weir(1) is a clean
man page that lists every option of `weir --help`.

Environment (tests/install/CMakeLists.txt sets it):
  WEIR_BIN             the weir built
  WEIR_BUILD_DIR       the build tree, installed with `cmake --install`
  WEIR_SOURCE_DIR      the source tree
  WEIR_INSTALL_PREFIX  CMAKE_INSTALL_PREFIX of the build tree
  WEIR_VERSION         the project's version
"""
import os
import re
import stat
import subprocess
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
from harness import TempDir, require_tool, run_weir  # noqa: E402


def env(name):
    value = os.environ.get(name)
    if not value:
        raise unittest.SkipTest(f"{name} is not set (run through ctest)")
    return value


SOURCE = Path(os.environ.get("WEIR_SOURCE_DIR", Path(__file__).resolve().parents[2]))
# Examples other changes add; installed when they exist.
OPTIONAL_EXAMPLES = ["docker-compose.yml", "kubernetes/weir-sidecar.yaml"]


def expected_files():
    """{path under the prefix: mode} of everything `cmake --install` must write."""
    files = {"bin/weir": 0o755, "share/man/man1/weir.1": 0o644,
             "share/doc/weir/README.md": 0o644,
             "lib/systemd/system/weir.service": 0o644, "lib/systemd/user/weir.service": 0o644}
    examples = ["haproxy.cfg", "proxychains.conf", "proxychains-chain.conf", "weir.toml",
                "weir.service", "weir-user.service"]
    examples += [e for e in OPTIONAL_EXAMPLES if (SOURCE / "examples" / e).exists()]
    for e in examples:
        files[f"share/doc/weir/examples/{e}"] = 0o644
    return files


class Install(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = TempDir()
        cls.destdir = Path(cls.tmp.path) / "root"
        r = subprocess.run(["cmake", "--install", env("WEIR_BUILD_DIR")], capture_output=True,
                           text=True, timeout=120, env={**os.environ, "DESTDIR": str(cls.destdir)})
        if r.returncode != 0:
            raise AssertionError(f"cmake --install failed:\n{r.stdout}{r.stderr}")
        cls.root = Path(str(cls.destdir) + env("WEIR_INSTALL_PREFIX"))

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_exactly_the_expected_files_with_their_modes(self):
        found, dirs = {}, {}
        for path in self.destdir.rglob("*"):
            mode = stat.S_IMODE(path.lstat().st_mode)
            if path.is_symlink() or not (path.is_dir() or path.is_file()):
                self.fail(f"not a plain file or directory: {path}")
            if path.is_dir():
                dirs[str(path.relative_to(self.destdir))] = mode
            elif path.is_relative_to(self.root):
                found[str(path.relative_to(self.root))] = mode
            else:
                self.fail(f"installed outside the prefix: {path}")
        self.assertEqual(found, expected_files())
        self.assertEqual({d: m for d, m in dirs.items() if m != 0o755}, {})

    def test_the_installed_weir_runs(self):
        r = subprocess.run([str(self.root / "bin/weir"), "--version"], capture_output=True,
                           text=True, timeout=30)
        self.assertEqual((r.returncode, r.stdout, r.stderr),
                         (0, f"weir {env('WEIR_VERSION')}\n", ""))

    def test_files_copied_as_they_are(self):
        doc = self.root / "share/doc/weir"
        self.assertEqual((doc / "README.md").read_bytes(), (SOURCE / "README.md").read_bytes())
        for e in ["haproxy.cfg", "proxychains.conf", "proxychains-chain.conf", "weir.toml",
                  *OPTIONAL_EXAMPLES]:
            if (SOURCE / "examples" / e).exists():
                self.assertEqual((doc / "examples" / e).read_bytes(),
                                 (SOURCE / "examples" / e).read_bytes(), e)
        self.assertEqual((self.root / "share/man/man1/weir.1").read_bytes(),
                         (Path(env("WEIR_BUILD_DIR")) / "weir.1").read_bytes())

    def test_the_units_run_the_installed_weir(self):
        weir = env("WEIR_INSTALL_PREFIX") + "/bin/weir"
        units = {"weir.service": ["lib/systemd/system/weir.service",
                                  "share/doc/weir/examples/weir.service"],
                 "weir-user.service": ["lib/systemd/user/weir.service",
                                       "share/doc/weir/examples/weir-user.service"]}
        for source, installed in units.items():
            text = (SOURCE / "examples" / source).read_text()
            self.assertIn("ExecStart=/usr/local/bin/weir ", text)
            for path in installed:
                self.assertEqual((self.root / path).read_text(),
                                 text.replace("/usr/local/bin/weir", weir), path)


class ManPage(unittest.TestCase):
    def setUp(self):
        require_tool("man")
        self.page = Path(env("WEIR_BUILD_DIR")) / "weir.1"

    def render(self, width=80):
        r = subprocess.run(["man", "--warnings", "-l", str(self.page)], capture_output=True,
                           text=True, timeout=60,
                           env={**os.environ, "MANWIDTH": str(width), "LC_ALL": "C.UTF-8",
                                "MANPAGER": "cat", "PAGER": "cat"})
        return r.returncode, r.stdout, r.stderr

    def test_man_renders_it_without_a_warning(self):
        for width in (80, 60):
            rc, out, err = self.render(width)
            self.assertEqual((rc, err), (0, ""), f"MANWIDTH={width}")
            self.assertIn("weir - a SOCKS4, SOCKS4a and SOCKS5 proxy server", out)

    def test_lexgrog_finds_its_name(self):
        r = subprocess.run([require_tool("lexgrog"), str(self.page)], capture_output=True,
                           text=True, timeout=30)
        self.assertEqual((r.returncode, r.stdout.strip()),
                         (0, f'{self.page}: "weir - a SOCKS4, SOCKS4a and SOCKS5 proxy server"'))

    def test_it_lists_every_option_of_help_and_no_other(self):
        help_text = run_weir(["--help"]).stdout
        in_help = set()
        for line in help_text.splitlines():
            if line.startswith("  -"):
                in_help |= set(re.findall(r"--?[a-z][a-z-]*", line.strip().split("  ")[0]))
        self.assertIn("--listen", in_help)
        self.assertIn("-h", in_help)
        _, out, _ = self.render()
        options = out.split("\nOPTIONS\n", 1)[1].split("\nENVIRONMENT\n", 1)[0]
        in_page = set()
        for line in options.splitlines():
            if re.match(r" {7}-", line):  # an option's term line
                in_page |= set(re.findall(r"--?[a-z][a-z-]*", line))
        self.assertEqual(in_page, in_help)
        flat = " ".join(options.split())
        for name in in_help - {"-h", "--help", "--version", "--config"}:
            variable = "WEIR_" + name[2:].upper().replace("-", "_")
            self.assertTrue(f"Variable: {variable}" in flat, name)
            self.assertTrue(f"Config key: {name[2:]}." in flat, name)

    def test_roff_is_escaped(self):
        macros = re.compile(r"\.(TH|SH|SS|TP|PP|RS|RE|nf|fi|br|B|I|RI|ad|nh)( |$)")
        for n, line in enumerate(self.page.read_text().splitlines(), 1):
            self.assertFalse(line.startswith("'"), f"line {n}: {line}")
            if line.startswith("."):
                self.assertRegex(line, macros, f"line {n}")
                continue
            # every dash an escaped \-, every backslash an escape we wrote
            self.assertNotRegex(line, r"(?<!\\)-", f"line {n}: {line}")
            self.assertNotRegex(line, r"\\(?![-e&:(f])", f"line {n}: {line}")


if __name__ == "__main__":
    unittest.main()
