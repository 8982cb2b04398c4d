#!/usr/bin/env python3
"""What `unshare --fork` costs by itself against the namespaces it makes: `/bin/true` alone,
through `unshare --fork` with no namespace, and with each of util-linux's namespace flags the
start-up table uses, in interleaved rounds (the order shuffled in each). Prints each median.
Run as root, as the benchmark's `unshare` rows are.

Usage: python3 benches/unshare_cost.py [ROUNDS]   (default 60)
"""
import random
import statistics
import subprocess
import sys
import time

TRUE = ["/bin/true"]
VARIANTS = {
    "/bin/true alone": TRUE,
    "unshare --fork, no namespace": ["unshare", "--fork", *TRUE],
    "unshare -Urmpiu --fork": ["unshare", "-Urmpiu", "--fork", *TRUE],
    "unshare -Urmpiun --fork": ["unshare", "-Urmpiun", "--fork", *TRUE],
}


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 60
    times = {name: [] for name in VARIANTS}
    for _ in range(rounds):
        names = list(VARIANTS)
        random.shuffle(names)
        for name in names:
            start = time.perf_counter()
            if subprocess.run(VARIANTS[name]).returncode != 0:
                sys.exit(f"{VARIANTS[name]} failed")
            times[name].append(time.perf_counter() - start)
    for name, ts in times.items():
        print(f"{name:32s} {statistics.median(ts) * 1e3:6.2f} ms (median of {rounds})")


if __name__ == "__main__":
    main()
