#!/usr/bin/env python3
"""Where the CPU time of back-to-back start-ups goes, process by process (as root, with perf).

Samples every CPU (`perf record -a -g`, 2 kHz) while `examples/startups.rs` starts /bin/true
COUNT times back to back (default 1000; `--fork-server` to start them through the fork server,
`--bare` to start /bin/true bare with std's `Command` (`posix_spawn`), to set beside the sandbox),
then prints per start-up the CPU time of each process (the host, init with the sandboxee before
its exec, the program, the runtime's release thread, idle) and of what a fork-like clone of the
host costs: the copy of the host's page tables at the clone, the copy-on-write faults the host
takes after it, and init's teardown of its copy at its exit. Sampling slows everything by about
a third: compare rows of one run, not figures of other benchmarks.

    python3 benches/startup_cpu.py [COUNT] [--fork-server | --bare]
"""

import collections
import os
import shutil
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HZ = 2000
PROCESSES = [
    ("startups", "the host (the benchmark's thread that spawns)"),
    ("sandbox-init", "init, and the sandboxee before its exec"),
    ("true", "the program, /bin/true, from its exec"),
    ("sandbox-release", "the runtime's release thread (reaps init, drops its mounts)"),
    ("sandbox-fork-se", "the fork server"),
    ("early-init", "each init before it names itself (bare: each child before its exec)"),
    ("swapper", "idle"),
]
# (process, kernel functions on the stack, all of them, joined by " < ", what it is)
PARTS = [
    ("startups", "copy_namespaces", "host: the clone's new namespaces"),
    ("startups", "dup_mmap", "host: the clone's copy of the host's page tables"),
    ("startups", "do_wp_page", "host: copy-on-write faults (pages shared with an init)"),
    ("startups", "on_each_cpu_cond_mask < do_wp_page", "host: those faults' TLB shootdowns"),
    ("sandbox-release", "do_wp_page", "release thread: copy-on-write faults"),
    (
        "sandbox-release",
        "on_each_cpu_cond_mask < do_wp_page",
        "release thread: those faults' TLB shootdowns",
    ),
    ("sandbox-init", "do_wp_page", "init and sandboxee: copy-on-write faults"),
    ("sandbox-init", "exit_mmap", "init: teardown of its copy of the host at its exit"),
    ("true", "do_exit", "program: its exit"),
    ("true", "exit_mmap", "program: teardown of its memory at its exit"),
    ("sandbox-init", "__x64_sys_execveat", "sandboxee: its exec"),
    ("sandbox-fork-se", "dup_mmap", "fork server: the clone's copy of its page tables"),
    ("sandbox-fork-se", "copy_namespaces", "fork server: the clone's new namespaces"),
]


def samples(path):
    """Returns (process name, [function, innermost first]) for each sample of `perf script`.
    Each init (bare, each /bin/true) keeps the host's name until it names itself (execs): a
    process of that name other than the host is `early-init` here."""
    out = subprocess.run(
        ["perf", "script", "-i", path, "-F", "comm,pid,ip,sym"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found, comm, pid, stack = [], None, None, []
    for line in out.splitlines() + [""]:
        if not line.strip():
            if comm is not None:
                found.append((comm, pid, stack))
            comm, stack = None, []
        elif not line[0].isspace():
            comm, pid = line.split()[:2]
        else:
            parts = line.split()
            if len(parts) >= 2:
                stack.append(parts[1])
    # The host is the process with the release thread; bare, it has none, and is the process
    # of that name with the most samples (a /bin/true shows up before its exec under it too).
    hosts = collections.Counter(p for c, p, _ in found if c == "sandbox-release")
    hosts = hosts or collections.Counter(p for c, p, _ in found if c == "startups")
    host = hosts.most_common(1)[0][0] if hosts else None
    rename = lambda c, p: "early-init" if c == "startups" and p != host else c
    return [(rename(c, p), stack) for c, p, stack in found]


def main():
    modes = [a for a in sys.argv[1:] if a in ("--fork-server", "--bare")]
    args = [a for a in sys.argv[1:] if a not in modes]
    count = int(args[0]) if args else 1000
    if shutil.which("perf") is None:
        sys.exit("perf is not installed (Debian: apt-get install linux-perf): nothing to sample with")
    subprocess.run(
        ["cargo", "build", "--quiet", "--release", "--example", "startups"], cwd=REPO, check=True
    )
    program = [f"{REPO}/target/release/examples/startups", str(count)]
    program += modes[:1]
    with tempfile.TemporaryDirectory() as work:
        data = os.path.join(work, "perf.data")
        recorded = subprocess.run(
            ["perf", "record", "-q", "-F", str(HZ), "-a", "-g", "-o", data, "--"] + program,
            capture_output=True,
            text=True,
        )
        if recorded.returncode != 0:
            sys.exit(f"perf record failed:\n{recorded.stderr}")
        print(recorded.stdout.strip())
        per_process = collections.Counter()
        per_part = collections.Counter()
        for comm, stack in samples(data):
            per_process[comm] += 1
            for who, function, _ in PARTS:
                if comm == who and all(f in stack for f in function.split(" < ")):
                    per_part[(who, function)] += 1
    us = lambda n: n * 1e6 / HZ / count
    total = sum(per_process.values())
    print(f"CPU time per start-up, both CPUs together: {us(total):.0f} µs (sampled at {HZ} Hz)")
    for comm, what in PROCESSES:
        if per_process[comm]:
            print(f"  {us(per_process[comm]):7.0f} µs  {what}")
    known = {c for c, _ in PROCESSES}
    rest = sum(n for c, n in per_process.items() if c not in known)
    others = collections.Counter({c: n for c, n in per_process.items() if c not in known})
    most = ", ".join(f"{c} {us(n):.0f}" for c, n in others.most_common(3))
    print(f"  {us(rest):7.0f} µs  everything else ({most})")
    print("of which:")
    for who, function, what in PARTS:
        if per_part[(who, function)]:
            print(f"  {us(per_part[(who, function)]):7.0f} µs  {what} ({function})")


if __name__ == "__main__":
    main()
