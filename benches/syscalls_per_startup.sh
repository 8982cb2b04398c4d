#!/bin/sh
# What a sandbox's start-up costs the kernel, in counts rather than time (which this kind of
# machine moves by more than a small change saves): system calls and context switches per
# start-up of `/bin/true`, cloned directly and through the fork server, from
# `perf stat -a` over `examples/startups.rs` (COUNT start-ups each, default 300). The whole
# machine is counted, the fork server's spares included, so run it on an otherwise idle
# machine. Needs perf (Debian: linux-perf) and root or a perf_event_paranoid that allows
# system-wide tracepoints. Run from anywhere: benches/syscalls_per_startup.sh [COUNT]
set -eu
repo=$(cd "$(dirname "$0")/.." && pwd)
count=${1:-300}
cd "$repo"
cargo build --quiet --release --example startups
bin="$repo/target/release/examples/startups"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for mode in "" --fork-server; do
    perf stat -a -x, -o "$out" -e context-switches,raw_syscalls:sys_enter -- \
        "$bin" "$count" $mode
    awk -F, -v n="$count" '
        $3 == "context-switches" { cs = $1 }
        $3 == "raw_syscalls:sys_enter" { sc = $1 }
        END { printf "  per start-up: %.1f system calls, %.1f context switches\n", sc / n, cs / n }
    ' "$out"
done
