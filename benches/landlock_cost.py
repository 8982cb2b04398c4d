#!/usr/bin/env python3
"""What the Landlock domain that confines reopening costs a program that opens many files:
`find /usr -name x` in our sandbox (the `sandbox` tool, `benches/policies/find.policy`) with
its standard streams on `/dev/null`, which gets a domain of Landlock's scopes alone (ABI 6; on
an older kernel the light domain, which handles writing alone), against the same with standard
error on a regular file, which gets the whole one (see `sandbox-runtime/src/spawn/reopen.rs`);
bare `find` (empty environment, as in the sandbox) as a reference. Interleaved rounds, the order shuffled
in each; prints each median, and the median of the per-round ratios with a 95% interval (order
statistics of the ratios). Needs Landlock ABI 3 (Linux 6.2+) for the domain to exist at all.

Usage: cargo build --release -p sandbox-runtime --bin sandbox
       python3 benches/landlock_cost.py [ROUNDS]   (default 41)
"""
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SANDBOX = os.path.join(ROOT, "target", "release", "sandbox")
POLICY = os.path.join(ROOT, "benches", "policies", "find.policy")
FIND = ["/usr/bin/find", "/usr", "-name", "x"]
IN_SANDBOX = [SANDBOX, "run", "--policy", POLICY, "--ro", "/usr", "--", *FIND]


def run(argv, stderr):
    """Runs argv with stdin and stdout on /dev/null and stderr on `stderr`; its time."""
    with open("/dev/null", "r+b") as null:
        start = time.perf_counter()
        r = subprocess.run(argv, stdin=null, stdout=null, stderr=stderr, env={})
        took = time.perf_counter() - start
    # find exits 1 where a directory is unreadable, which the sandbox's user meets.
    if r.returncode not in (0, 1):
        sys.exit(f"{argv} failed with {r.returncode}")
    return took


def interval(ratios):
    """The median of `ratios` with a distribution-free 95% interval (order statistics)."""
    s = sorted(ratios)
    n = len(s)
    half = 1.96 * math.sqrt(n) / 2
    lo = max(0, math.floor(n / 2 - half))
    hi = min(n - 1, math.ceil(n / 2 + half))
    return statistics.median(s), s[lo], s[hi]


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 41
    if not os.access(SANDBOX, os.X_OK):
        sys.exit(f"{SANDBOX} is missing: cargo build --release -p sandbox-runtime --bin sandbox")
    with tempfile.TemporaryDirectory() as tmp:
        log = open(os.path.join(tmp, "stderr"), "wb")
        variants = {
            "bare": (FIND, subprocess.DEVNULL),
            "ours, streams on /dev/null (scopes alone)": (IN_SANDBOX, subprocess.DEVNULL),
            "ours, standard error on a file (whole domain)": (IN_SANDBOX, log),
        }
        times = {name: [] for name in variants}
        for _ in range(rounds):
            names = list(variants)
            random.shuffle(names)
            for name in names:
                argv, stderr = variants[name]
                times[name].append(run(argv, stderr))
    for name, ts in times.items():
        print(f"{name:42s} {statistics.median(ts) * 1e3:7.1f} ms (median of {rounds})")
    names = list(variants)
    pairs = [
        (names[2], names[1]),
        (names[1], names[0]),
        (names[2], names[0]),
    ]
    for a, b in pairs:
        m, lo, hi = interval([x / y for x, y in zip(times[a], times[b])])
        print(f"{a} / {b}: {m:.3f}x ({lo:.3f}-{hi:.3f})")


if __name__ == "__main__":
    main()
