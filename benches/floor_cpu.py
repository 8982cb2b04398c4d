#!/usr/bin/env python3
"""Where the kernel's floor goes on real work (as root, with perf).

Samples `find /usr -name x` (`perf record -e cpu-clock`, 10 kHz, the program's own process
only) in three variants, alternated run by run: bare; bare under a one-instruction `ret ALLOW`
filter (the kernel's floor: every call cached, no instruction of the filter runs); and in our
sandbox under its realistic policy (`benches/policies/find.policy`, through the `sandbox`
tool). It prints, per run, the program's CPU time and the part of it in the kernel's seccomp
entry (the functions below), then the functions whose time grew most from one variant to the
next. It answers what the `overhead` section's floor rows cannot: whether what any filter
costs the workload is the kernel's work on each call, which no filter and no runtime can
avoid, or something a sandbox could change. Sampling slows everything: compare the rows of one
run, not figures of other benchmarks.

    python3 benches/floor_cpu.py [RUNS]    (default 10 runs of each variant)
"""

import collections
import ctypes
import os
import shutil
import struct
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HZ = 10000
WORKLOAD = ["/usr/bin/find", "/usr", "-name", "x"]
# The kernel functions that run on every call of a task with a filter, and on none without.
SECCOMP_ENTRY = {
    "syscall_trace_enter",
    "__secure_computing",
    "__seccomp_filter",
    "populate_seccomp_data",
    "seccomp_run_filters",
    "seccomp_cache_check_allow",
}
# Where samples at kernel addresses no symbol names are counted: JIT'd BPF code.
FILTER_CODE = "[unnamed kernel code: JIT'd filters]"
# The lowest kernel address (x86_64 and aarch64 alike: the upper half).
KERNEL_START = 0xFFFF800000000000
# `seccomp(2)`'s number, by `uname -m`.
SYS_SECCOMP = {"x86_64": 317, "aarch64": 277}
PR_SET_NO_NEW_PRIVS = 38
SECCOMP_SET_MODE_FILTER = 1
SECCOMP_RET_ALLOW = 0x7FFF0000
BPF_RET_K = 0x06


class SockFprog(ctypes.Structure):
    """`struct sock_fprog`."""

    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def exec_with_floor(argv):
    """Installs the one-instruction `ret ALLOW` filter on this process, then execs `argv`."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        sys.exit(f"prctl(PR_SET_NO_NEW_PRIVS): {os.strerror(ctypes.get_errno())}")
    insn = ctypes.create_string_buffer(struct.pack("=HBBI", BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW))
    prog = SockFprog(1, ctypes.addressof(insn))
    nr = SYS_SECCOMP.get(os.uname().machine)
    if nr is None:
        sys.exit(f"no seccomp(2) number known for {os.uname().machine}")
    if libc.syscall(nr, SECCOMP_SET_MODE_FILTER, 0, ctypes.byref(prog)) != 0:
        sys.exit(f"seccomp(SET_MODE_FILTER): {os.strerror(ctypes.get_errno())}")
    os.execv(argv[0], argv)


def variants(sandbox):
    """(name, command line) of each variant; the first two exec the workload from this script,
    so that both pass through the same steps before it."""
    here = os.path.abspath(__file__)
    policy = os.path.join(REPO, "benches", "policies", "find.policy")
    return [
        ("bare", [sys.executable, here, "--exec"] + WORKLOAD),
        ("the kernel's floor (`ret ALLOW`)", [sys.executable, here, "--floor"] + WORKLOAD),
        (
            "ours (realistic policy)",
            [sandbox, "run", "--policy", policy, "--ro", "/usr", "--"] + WORKLOAD,
        ),
    ]


def sampled(command, data):
    """Runs `command` under perf; returns the workload's samples, counted by function."""
    recorded = subprocess.run(
        ["perf", "record", "-q", "-e", "cpu-clock", "-F", str(HZ), "-o", data, "--"] + command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    # `find` exits 1 where a directory is unreadable (the sandbox's user meets some).
    if recorded.returncode not in (0, 1):
        shown = " ".join(command)
        sys.exit(f"{shown} under perf failed ({recorded.returncode}):\n{recorded.stderr}")
    out = subprocess.run(
        ["perf", "script", "-i", data, "-F", "comm,ip,sym"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    program = os.path.basename(WORKLOAD[0])
    counts = collections.Counter()
    # Each line: the process's name, the address, the function (absent or `[unknown]` where
    # no symbol names it).
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 2 or parts[0] != program:
            continue
        named = len(parts) >= 3 and parts[2] != "[unknown]"
        counts[parts[2] if named else unnamed(parts[1])] += 1
    return counts


def unnamed(address):
    """What a sample without a symbol is: code the kernel made (a JIT'd program: the kernel
    names none made from classic BPF, so every seccomp filter's code is here) or the
    program's."""
    return FILTER_CODE if int(address, 16) >= KERNEL_START else "[unknown, user]"


def main():
    if len(sys.argv) > 1 and sys.argv[1] in ("--exec", "--floor"):
        if sys.argv[1] == "--floor":
            exec_with_floor(sys.argv[2:])
        os.execv(sys.argv[2], sys.argv[2:])
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    if shutil.which("perf") is None:
        sys.exit("perf is not installed (Debian: apt-get install linux-perf)")
    if os.geteuid() != 0:
        sys.exit("run as root: perf must see the kernel's functions")
    build = ["cargo", "build", "--quiet", "--release", "--bin", "sandbox"]
    subprocess.run(build, cwd=REPO, check=True)
    sandbox = os.path.join(REPO, "target", "release", "sandbox")
    vs = variants(sandbox)
    totals = [collections.Counter() for _ in vs]
    with tempfile.TemporaryDirectory() as work:
        data = os.path.join(work, "perf.data")
        for _ in range(runs):
            for i, (_, command) in enumerate(vs):
                totals[i] += sampled(command, data)
    ms = lambda n: n * 1000 / HZ / runs
    print(f"{' '.join(WORKLOAD)}: {runs} runs of each variant, alternated; CPU time per run")
    heads = ("program", "seccomp entry", "filter code", "the rest")
    print(f"  {'variant':34} {heads[0]:>10} {heads[1]:>14} {heads[2]:>12} {heads[3]:>10}")
    for (name, _), counts in zip(vs, totals):
        entry = sum(n for f, n in counts.items() if f in SECCOMP_ENTRY)
        code = counts[FILTER_CODE]
        total = sum(counts.values())
        rest = total - entry - code
        cells = f"{ms(total):8.1f} ms {ms(entry):11.1f} ms {ms(code):9.1f} ms {ms(rest):7.1f} ms"
        print(f"  {name:34} {cells}")
    print(f"  (seccomp entry: {', '.join(sorted(SECCOMP_ENTRY))}; filter code: {FILTER_CODE})")
    for (a, was), (b, now) in zip(zip(vs, totals), zip(vs[1:], totals[1:])):
        grew = collections.Counter({f: now[f] - was[f] for f in set(now) | set(was)})
        most = [(f, d) for f, d in grew.most_common(8) if d > 0]
        print(f"most grown, {b[0]} against {a[0]}:")
        for f, d in most:
            print(f"  {ms(d):+7.2f} ms  {f}")


if __name__ == "__main__":
    main()
