#!/usr/bin/env python3
"""Compares two commits' direct start-up time, alternating them run by run.

Builds `examples/startups.rs` at each commit (in a throwaway worktree, sharing the repository's
target directory), then runs the two binaries in turn, A B A B ... for PAIRS pairs, each run
starting /bin/true COUNT times back to back and printing its median; then the same number of
pairs in the order B A, so that neither build always runs first. Prints each build's mean and
median of those medians and, per pair, the median difference B - A and how many pairs B won.
This machine's speed drifts between runs minutes apart; alternating run by run puts the drift
on both builds alike, so a difference means something when one build wins most pairs in both
orders.

    python3 benches/ab_startups.py <commit-a> <commit-b> [PAIRS] [COUNT] [OPTION...]

PAIRS and COUNT default to 40 and 150; each OPTION (`--new-net`, `--fork-server`) is passed to
both builds, which must both know it: builds of `examples/startups.rs` before the one that added
`--new-net` ignore an option they do not know, later ones refuse it.

Run from the repository, on an otherwise idle machine, as a user who can run sandboxes.
"""

import os
import shutil
import statistics
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def build(commit, work, trees):
    """Builds the example at `commit` in a worktree under `work`, listed in `trees` as soon as
    it exists (so that it is removed even when the build fails); returns the binary's copy."""
    tree = os.path.join(work, commit)
    subprocess.run(["git", "-C", REPO, "worktree", "add", "--detach", "-q", tree, commit], check=True)
    trees.append(tree)
    env = dict(os.environ, CARGO_TARGET_DIR=os.path.join(REPO, "target"))
    subprocess.run(
        ["cargo", "build", "--quiet", "--release", "--example", "startups"],
        cwd=tree,
        env=env,
        check=True,
    )
    # Both builds have the same file name: keep this one before the next overwrites it.
    exe = os.path.join(work, f"startups-{commit}")
    shutil.copy(os.path.join(REPO, "target", "release", "examples", "startups"), exe)
    return exe


def median_us(exe, count, options):
    out = subprocess.run([exe, str(count)] + options, capture_output=True, text=True, check=True).stdout
    # "N start-ups cloned directly: median 2.91ms" (Rust's Debug of a Duration).
    value = out.rsplit("median ", 1)[1].strip()
    for unit, scale in (("ms", 1e3), ("µs", 1.0), ("ns", 1e-3), ("s", 1e6)):
        if value.endswith(unit):
            return float(value[: -len(unit)]) * scale
    sys.exit(f"cannot read the median in {out!r}")


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    options = [o for o in sys.argv[3:] if o.startswith("--")]
    numbers = [n for n in sys.argv[3:] if not n.startswith("--")]
    a, b = sys.argv[1], sys.argv[2]
    pairs = int(numbers[0]) if numbers else 40
    count = int(numbers[1]) if len(numbers) > 1 else 150
    work = tempfile.mkdtemp()
    trees = []
    try:
        exe_a = build(a, work, trees)
        exe_b = build(b, work, trees)
        for order in ((a, exe_a, b, exe_b), (b, exe_b, a, exe_a)):
            first, exe_first, second, exe_second = order
            times = {a: [], b: []}
            for _ in range(pairs):
                times[first].append(median_us(exe_first, count, options))
                times[second].append(median_us(exe_second, count, options))
            diffs = [y - x for x, y in zip(times[a], times[b])]
            print(
                f"order {first} then {second}, {pairs} pairs of {count} start-ups: "
                f"{a} mean {statistics.mean(times[a]):.0f} µs, median {statistics.median(times[a]):.0f}; "
                f"{b} mean {statistics.mean(times[b]):.0f} µs, median {statistics.median(times[b]):.0f}; "
                f"{b} - {a} median {statistics.median(diffs):+.0f} µs, "
                f"{b} faster in {sum(d < 0 for d in diffs)} of {pairs}"
            )
    finally:
        for tree in trees:
            subprocess.run(["git", "-C", REPO, "worktree", "remove", "--force", tree])
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
