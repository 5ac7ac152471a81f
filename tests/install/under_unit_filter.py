#!/usr/bin/python3
"""Runs a command under the system-call filter of a systemd unit, without systemd.

    under_unit_filter.py UNIT_FILE COMMAND [ARGS...]

Reads the unit's SystemCallFilter= lines (allow lists, and ~ deny lists) and
RestrictAddressFamilies=, expands the @groups with `systemd-analyze
syscall-filter` (the same tables systemd uses), loads that filter with
libseccomp (native architecture only, as SystemCallArchitectures=native) and
execs COMMAND. Stricter than the unit: a call outside the filter kills the
process (SIGSYS) where systemd would return EPERM, so that a test sees every
call the unit would refuse. A socket() of another address family fails with
EAFNOSUPPORT, as under systemd.
"""
import ctypes
import ctypes.util
import errno
import os
import socket
import subprocess
import sys

SCMP_ACT_KILL_PROCESS = 0x80000000
SCMP_ACT_ALLOW = 0x7FFF0000
SCMP_ACT_EAFNOSUPPORT = 0x00050000 | errno.EAFNOSUPPORT
AF_MAX = 46  # Linux 6.x; families above it are killed, not refused
SCMP_CMP_EQ = 4


class ArgCmp(ctypes.Structure):
    """libseccomp's struct scmp_arg_cmp."""
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int),
                ("datum_a", ctypes.c_uint64), ("datum_b", ctypes.c_uint64)]


def unit_settings(path):
    """{key: [values of each line]} of the [Service] section (continuations joined)."""
    settings = {}
    text = open(path, encoding="utf-8").read().replace("\\\n", " ")
    for line in text.splitlines():
        line = line.strip()
        if "=" in line and not line.startswith(("#", ";", "[")):
            key, value = line.split("=", 1)
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def expand(name, seen=None):
    """A syscall name, or every syscall of an @group (recursively)."""
    if not name.startswith("@"):
        return {name}
    seen = set() if seen is None else seen
    if name in seen:
        return set()
    seen.add(name)
    out = subprocess.run(["systemd-analyze", "syscall-filter", name], capture_output=True,
                         text=True, check=True, timeout=30).stdout
    names = set()
    for line in out.splitlines()[1:]:  # the first line is the group's own name
        word = line.strip()
        if word and not word.startswith("#"):
            names |= expand(word, seen)
    return names


def allowed_syscalls(settings):
    allowed, denied = set(), set()
    for value in settings.get("SystemCallFilter", []):
        deny = value.startswith("~")
        for word in value.lstrip("~").split():
            (denied if deny else allowed).update(expand(word))
    if not allowed:
        raise SystemExit("under_unit_filter: the unit has no SystemCallFilter= allow list")
    return allowed - denied


def families(settings):
    out = []
    for value in settings.get("RestrictAddressFamilies", []):
        out += [int(getattr(socket, name)) for name in value.split()]
    if not out:
        raise SystemExit("under_unit_filter: the unit has no RestrictAddressFamilies=")
    return out


def load_filter(syscalls, address_families):
    lib = ctypes.CDLL(ctypes.util.find_library("seccomp") or "libseccomp.so.2", use_errno=True)
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int,
                                           ctypes.c_uint, ctypes.POINTER(ArgCmp)]
    lib.seccomp_load.argtypes = [ctypes.c_void_p]
    ctx = lib.seccomp_init(SCMP_ACT_KILL_PROCESS)
    if not ctx:
        raise SystemExit("under_unit_filter: seccomp_init failed")

    def add(nr, cmp=None, action=SCMP_ACT_ALLOW):
        rc = lib.seccomp_rule_add_array(ctx, action, nr, 0 if cmp is None else 1,
                                        None if cmp is None else ctypes.byref(cmp))
        if rc != 0:
            raise SystemExit(f"under_unit_filter: seccomp_rule_add({nr}) failed: {rc}")

    socket_nr = lib.seccomp_syscall_resolve_name(b"socket")
    for name in sorted(syscalls - {"socket"}):
        nr = lib.seccomp_syscall_resolve_name(name.encode())
        if nr >= 0:  # negative: not a syscall of this architecture
            add(nr)
    if "socket" in syscalls:
        for family in range(AF_MAX + 1):
            add(socket_nr, ArgCmp(0, SCMP_CMP_EQ, family, 0),
                SCMP_ACT_ALLOW if family in address_families else SCMP_ACT_EAFNOSUPPORT)
    if lib.seccomp_load(ctx) != 0:
        raise SystemExit("under_unit_filter: seccomp_load failed")


def main():
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    settings = unit_settings(sys.argv[1])
    load_filter(allowed_syscalls(settings), families(settings))
    os.execv(sys.argv[2], sys.argv[2:])


if __name__ == "__main__":
    main()
