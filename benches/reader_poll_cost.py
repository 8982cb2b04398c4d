#!/usr/bin/env python3
"""How the reader of a pipe changes a writer that fills it: bare `tar cf - /usr/include`,
its output read to the end either with blocking reads or with a poll() before each read,
in interleaved rounds. Prints the medians and the median of per-round ratios (poll / plain).

Usage: python3 benches/reader_poll_cost.py [ROUNDS]   (default 100)
"""
import os
import select
import statistics
import subprocess
import sys
import time

ARGV = ["/usr/bin/tar", "cf", "-", "/usr/include"]


def run(with_poll):
    """One run of ARGV, its output drained; returns the wall time in seconds."""
    start = time.perf_counter()
    child = subprocess.Popen(ARGV, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             env={}, cwd="/")
    fd = child.stdout.fileno()
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    while True:
        if with_poll:
            poller.poll()
        if not os.read(fd, 64 * 1024):
            break
    if child.wait() != 0:
        sys.exit(f"{ARGV} failed")
    return time.perf_counter() - start


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    plain, polled = [], []
    for r in range(rounds):
        # Alternate which goes first, so neither always follows the other.
        if r % 2 == 0:
            plain.append(run(False))
            polled.append(run(True))
        else:
            polled.append(run(True))
            plain.append(run(False))
    ratios = sorted(p / b for p, b in zip(polled, plain))
    n = len(ratios)
    print(f"{rounds} rounds: blocking reads {statistics.median(plain) * 1e3:.1f} ms, "
          f"poll before each read {statistics.median(polled) * 1e3:.1f} ms, "
          f"median per-round ratio {statistics.median(ratios):.3f} "
          f"(quartiles {ratios[n // 4]:.3f}-{ratios[3 * n // 4]:.3f})")


if __name__ == "__main__":
    main()
