#!/usr/bin/env python3
"""The layering, checked: each production folder may include only what RULES allows.

    check_layering.py SOURCE_DIR     scan SOURCE_DIR's socks/, auth/, cli/, log/, io/, text/; exit 1 on a violation
    check_layering.py --self-test    check the checker on a generated tiny tree

Scans the #include lines ("..." and <...>) of *.hpp/*.cpp. bench/ and tests/ are
exempt: tests include what they test.
"""
import re
import sys
import tempfile
from pathlib import Path

STD = "<std>"  # any header of the C++ or C standard library

# A file obeys every row whose folder holds it. "allow": each include must match
# an entry; "deny": none may. An entry ending in "/" is a folder, else one header.
# folder         kind     entries                                                why
RULES = [
    ("text/",        "allow", [STD, "text/"],                                "small text helpers: a leaf under everything"),
    ("socks/proto/", "allow", [STD, "socks/proto/", "text/"],                "the codec is sans-I/O: standard library, itself, text/"),
    # Exception: auth/user_db.cpp checks the users file's mode with <sys/stat.h> (POSIX).
    ("auth/",        "allow", [STD, "auth/", "text/", "sodium.h", "sys/stat.h"],
                                                                             "auth knows nothing of socks/ or cli/"),
    ("socks/relay/", "deny",  ["socks/proto/", "auth/", "socks/server/", "cli/"],
                                                                             "the relay moves bytes: no codec, auth, server or cli"),
    # Exceptions: io/write.cpp sends with send(2) from <sys/socket.h>, io/poll_set
    # is an epoll set, io/unique_fd closes, io/file_watch is an inotify descriptor
    # that stats what it watches and reads its events (POSIX, Linux).
    ("io/",          "allow", [STD, "io/", "asio/", "asio.hpp", "sys/socket.h", "sys/epoll.h",
                               "sys/inotify.h", "sys/stat.h", "unistd.h"],
                                                                             "io/ is below everything but Asio"),
    ("socks/",       "deny",  ["cli/"],                                      "only cli/ includes cli/"),
    # Exception: log/log.cpp writes lines with write(2) from <unistd.h> (POSIX).
    ("log/",         "allow", [STD, "log/", "text/", "fmt/", "unistd.h"],    "the logger is a leaf: standard library, text/ and fmt"),
    # auth/'s allow list above already keeps cli/ out.
]
SCANNED = ["socks/", "auth/", "cli/", "log/", "io/", "text/"]

STD_HEADERS = set("""
algorithm any array atomic barrier bit bitset charconv chrono codecvt compare complex
concepts condition_variable coroutine deque exception execution expected filesystem
format forward_list fstream functional future initializer_list iomanip ios iosfwd
iostream istream iterator latch limits list locale map memory memory_resource mutex new
numbers numeric optional ostream print queue random ranges ratio regex scoped_allocator
semaphore set shared_mutex source_location span spanstream sstream stack stacktrace
stdexcept stop_token streambuf string string_view syncstream system_error thread tuple
type_traits typeindex typeinfo unordered_map unordered_set utility valarray variant
vector version
""".split())
C_HEADERS = set("""assert complex ctype errno fenv float inttypes iso646 limits locale math
setjmp signal stdalign stdarg stdatomic stdbool stddef stdint stdio stdlib stdnoreturn
string tgmath threads time uchar wchar wctype""".split())

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')


def is_std(header):
    if header.endswith(".h"):
        return header[:-2] in C_HEADERS                      # <stdio.h>
    if header.startswith("c") and header[1:] in C_HEADERS:  # <cstdio>
        return True
    return "." not in header and "/" not in header and header in STD_HEADERS


def matches(header, what):
    if what == STD:
        return is_std(header)
    return header.startswith(what) if what.endswith("/") else header == what


def includes(root, path):
    """(line number, header) of each include; a quoted one found next to the file
    is named by its path from root, so "../auth/x.hpp" is seen as auth/x.hpp."""
    for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        m = INCLUDE.match(line)
        if not m:
            continue
        header = m.group(2).strip()
        beside = (path.parent / header).resolve()
        if m.group(1) == '"' and beside.is_file() and beside.is_relative_to(root):
            header = beside.relative_to(root).as_posix()
        yield number, header


def violations(root):
    root = Path(root).resolve()
    files = sorted(p for folder in SCANNED for p in (root / folder).rglob("*")
                   if p.suffix in (".hpp", ".cpp") and p.is_file())
    for path in files:
        rel = path.relative_to(root).as_posix()
        for number, header in includes(root, path):
            for folder, kind, what, why in RULES:
                hit = any(matches(header, w) for w in what)
                if rel.startswith(folder) and hit != (kind == "allow"):
                    yield f"{rel}:{number}: includes {header} (rule: {folder} {kind} {' '.join(what)}: {why})"
                    break  # one line per include


def check(root):
    found = list(violations(root))
    for v in found:
        print(v)
    print(f"layering: {len(found)} violation(s) in {root}")
    return 1 if found else 0


def self_test():
    tree = {
        "socks/proto/ok.cpp":   '#include "socks/proto/ok.hpp"\n#include <cstdint>\n#include <stdio.h>\n',
        "socks/proto/ok.hpp":   "#include <vector>\n",
        "socks/proto/bad.cpp":  "#include <asio.hpp>\n#include <sys/socket.h>\n",
        "socks/relay/bad.cpp":  '#include <asio/post.hpp>\n#include "../../auth/policy.hpp"\n',
        "io/bad.hpp":           '#include "socks/relay/relay.hpp"\n#include <asio/post.hpp>\n',
        "io/ok.cpp":            '#include <sys/inotify.h>\n#include <sys/stat.h>\n#include <unistd.h>\n',
        "text/bad.hpp":         '#include <fmt/core.h>\n',
        "auth/bad.cpp":         '#include <sodium.h>\n#include "socks/server/log.hpp"\n  #  include <fmt/core.h>\n',
        "auth/policy.hpp":      "#include <string>\n// #include <asio.hpp>\n",
        "cli/main.cpp":         '#include "cli/options.hpp"\n#include "socks/server/server.hpp"\n',
        "socks/proto/cli.cpp":  '#include "cli/options.hpp"\n',
        "socks/server/s.cpp":   '#include "cli/options.hpp"\n',
        "tests/t.cpp":          '#include "cli/options.hpp"\n',
    }
    expected = ["auth/bad.cpp:2: includes socks/server/log.hpp",
                "auth/bad.cpp:3: includes fmt/core.h",
                "io/bad.hpp:1: includes socks/relay/relay.hpp",
                "socks/proto/bad.cpp:1: includes asio.hpp",
                "socks/proto/bad.cpp:2: includes sys/socket.h",
                "socks/proto/cli.cpp:1: includes cli/options.hpp",
                "socks/relay/bad.cpp:2: includes auth/policy.hpp",
                "socks/server/s.cpp:1: includes cli/options.hpp",
                "text/bad.hpp:1: includes fmt/core.h"]
    with tempfile.TemporaryDirectory() as tmp:
        for name, text in tree.items():
            (Path(tmp) / name).parent.mkdir(parents=True, exist_ok=True)
            (Path(tmp) / name).write_text(text)
        found = list(violations(tmp))
    got = [v.split(" (rule:")[0] for v in found]
    print(*found, sep="\n")
    if got != expected:
        print("self-test FAILED; expected:", *expected, sep="\n    ")
        return 1
    print("self-test: the checker found each planted violation and nothing else")
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--self-test"]:
        sys.exit(self_test())
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(check(sys.argv[1]))
