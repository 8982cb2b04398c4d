#!/bin/sh
# Compares two commits on one section of the sandbox benchmark, alternating them: builds
# `benches/sandbox.rs` at each commit (in a throwaway worktree, sharing the repository's target
# directory so that dependencies build once, and keeping a copy of each binary), then runs the
# two binaries in turn, A B A B ..., with `SANDBOX_BENCH_ONLY=<section>`, each
# from its own tree. This machine's speed drifts between runs minutes apart, so a difference
# between builds means something only when it exceeds the spread between one build's runs.
#
#   benches/ab_builds.sh <commit-a> <commit-b> <section> [pairs]   (pairs: default 2)
#
# Run from the repository, on an otherwise idle machine; `split` needs root (it reads the
# kernel's trace). Prints each run's header line and rows, labelled with its commit.
set -eu
if [ $# -lt 3 ]; then
    echo "usage: $0 <commit-a> <commit-b> <section> [pairs]" >&2
    exit 2
fi
a=$1 b=$2 section=$3 pairs=${4:-2}
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
cleanup() {
    for c in a b; do
        git -C "$repo" worktree remove --force "$work/$c" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

for c in a b; do
    eval "rev=\$$c"
    git -C "$repo" worktree add --detach -q "$work/$c" "$rev"
    # cargo names the binary it built on its "Executable" line.
    built=$(cd "$work/$c" && CARGO_TARGET_DIR="$repo/target" \
        cargo bench -p sandbox-suite --bench sandbox --no-run 2>&1 |
        sed -n 's/.*Executable benches\/sandbox.rs (\(.*\))$/\1/p')
    if [ -z "$built" ]; then
        echo "building the benchmark at $rev failed" >&2
        exit 1
    fi
    # Both builds have the same file name: keep this one before the next overwrites it.
    cp "$built" "$work/bench-$c"
    eval "exe_$c=\$work/bench-\$c"
done

i=1
while [ "$i" -le "$pairs" ]; do
    for c in a b; do
        eval "rev=\$$c exe=\$exe_$c"
        echo "=== $rev, run $i, $(date +%T), load average $(cut -d' ' -f1 /proc/loadavg)"
        (cd "$work/$c" && SANDBOX_BENCH_ONLY="$section" "$exe" --bench)
    done
    i=$((i + 1))
done
