#!/usr/bin/env python3
"""Where `tar`'s after-effect comes from: how much slower a bare `tar cf - /usr/include`, its
output read by this script, runs after a pre-step and a pause (20 ms unless given, the
benchmark's) than after a bare `/bin/true`, for pre-steps that make namespaces (a `sandbox
run`, with and without `--net`; `unshare -Urmpf`) and two that make none (a process spinning for
3 ms; an extra `/usr/bin/env` before `/bin/true`), and for three placements of `tar` and its
reader: left to the scheduler, both pinned to CPU 0, and the reader on CPU 0 with `tar` on CPU
1. Each round runs
every (placement, pre-step) pair in a shuffled order; a ratio is `tar`'s time after the
pre-step over its time after `/bin/true` in the same round (median, and a bootstrap 95%
interval of the median). Also prints `tar`'s median system time and involuntary context
switches (from `wait4`), and in how many runs `tar` was on its reader's CPU at its first output.

Needs a 2-CPU machine or larger, `cc` (for the spinner), `unshare`, and the release `sandbox`
binary (`cargo build --release`); run as root, as the benchmark is.

Usage: python3 benches/after_effect.py [ROUNDS [PAUSE_MS]]   (defaults 150 and 20)
"""
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SANDBOX = os.path.join(REPO, "target", "release", "sandbox")
TAR = ["/usr/bin/tar", "cf", "-", "/usr/include"]
SPIN_C = r"""
#include <stdlib.h>
#include <time.h>
int main(int argc, char **argv) {
    long us = atol(argv[1]);
    struct timespec s, n;
    clock_gettime(CLOCK_MONOTONIC, &s);
    do clock_gettime(CLOCK_MONOTONIC, &n);
    while ((n.tv_sec - s.tv_sec) * 1000000L + (n.tv_nsec - s.tv_nsec) / 1000 < us);
    return 0;
}
"""
# Where `tar` and its reader run: (reader's CPUs, tar's CPUs), None for unpinned.
PLACEMENTS = {
    "left to the scheduler": None,
    "both on CPU 0": ({0}, {0}),
    "reader on CPU 0, tar on CPU 1": ({0}, {1}),
}


def pre_steps(work):
    """The pre-steps, by name; the first is the baseline."""
    policy = os.path.join(work, "allow.policy")
    with open(policy, "w") as f:
        f.write("default allow;\n")
    spin = os.path.join(work, "spin")
    subprocess.run(["cc", "-O2", "-o", spin, "-x", "c", "-"], input=SPIN_C.encode(), check=True)
    return {
        "/bin/true": ["/bin/true"],
        "sandbox run /bin/true": [SANDBOX, "run", "--policy", policy, "--", "/bin/true"],
        "sandbox run --net /bin/true": [SANDBOX, "run", "--net", "--policy", policy, "--",
                                        "/bin/true"],
        "unshare -Urmpf /bin/true": ["unshare", "-Urmpf", "/bin/true"],
        "a process spinning 3 ms": [spin, "3000"],
        "/usr/bin/env /bin/true": ["/usr/bin/env", "/bin/true"],
    }


def cpu_of(pid):
    """The CPU `pid` last ran on (`/proc/PID/stat`'s 39th field)."""
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[36])


def timed_tar(placement):
    """Runs `tar`, reading its output here; returns (seconds, system seconds, involuntary
    context switches, whether it was on this reader's CPU at its first output)."""
    everywhere = os.sched_getaffinity(0)
    if placement:
        os.sched_setaffinity(0, placement[0])
    r, w = os.pipe()
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        try:
            if placement:
                os.sched_setaffinity(0, placement[1])
            os.dup2(w, 1)
            null = os.open("/dev/null", os.O_WRONLY)
            os.dup2(null, 2)
            os.execv(TAR[0], TAR)
        finally:
            os._exit(127)
    os.close(w)
    together = os.read(r, 65536) != b"" and cpu_of(pid) == cpu_of("self")
    while os.read(r, 65536):
        pass
    os.close(r)
    _, status, usage = os.wait4(pid, 0)
    seconds = time.perf_counter() - start
    os.sched_setaffinity(0, everywhere)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"tar ended with {status:#x}")
    return seconds, usage.ru_stime, usage.ru_nivcsw, together


def median_interval(values, draws=2000):
    """The median of `values` and a bootstrap 95% interval of it."""
    rng = random.Random(1)
    medians = sorted(
        statistics.median(rng.choice(values) for _ in values) for _ in range(draws))
    return statistics.median(values), medians[int(draws * 0.025)], medians[int(draws * 0.975)]


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 150
    pause = (float(sys.argv[2]) if len(sys.argv) > 2 else 20) / 1000
    if len(os.sched_getaffinity(0)) < 2:
        sys.exit("needs at least 2 CPUs")
    if not os.access(SANDBOX, os.X_OK):
        sys.exit(f"{SANDBOX} missing: run `cargo build --release` first")
    with tempfile.TemporaryDirectory() as work:
        steps = pre_steps(work)
        pairs = [(p, s) for p in PLACEMENTS for s in steps]
        runs = {pair: [] for pair in pairs}
        for _ in range(rounds):
            random.shuffle(pairs)
            for placement, step in pairs:
                subprocess.run(steps[step], check=True)
                time.sleep(pause)
                runs[(placement, step)].append(timed_tar(PLACEMENTS[placement]))
    baseline = next(iter(steps))
    print(f"bare `{' '.join(TAR)}`, read here, {pause * 1000:.0f} ms after each pre-step; "
          f"{rounds} rounds")
    for placement in PLACEMENTS:
        print(f"{placement}:")
        base = runs[(placement, baseline)]
        for step in steps:
            mine = runs[(placement, step)]
            ratio, low, high = median_interval([a[0] / b[0] for a, b in zip(mine, base)])
            wall = statistics.median(r[0] for r in mine) * 1000
            system = statistics.median(r[1] for r in mine) * 1000
            switches = statistics.median(r[2] for r in mine)
            together = sum(r[3] for r in mine)
            print(f"  after {step:28} {wall:7.2f} ms  {ratio:.3f}x [{low:.3f}-{high:.3f}]"
                  f"  system {system:5.1f} ms  involuntary switches {switches:6.0f}"
                  f"  on the reader's CPU {together}/{len(mine)}")


if __name__ == "__main__":
    main()
