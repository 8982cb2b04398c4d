#!/bin/sh
# What the host's mounts cost a start-up: a new mount namespace starts as a copy of the host's,
# which init detaches under its new root and the kernel frees after the end. Runs
# `examples/startups.rs COUNT --fork-server` (default 300) alternately as it is and in a mount
# namespace of its own (`unshare -m`) with EXTRA more tmpfs mounts (default 200), ROUNDS times
# (default 6), and prints each pair of medians. Needs root (for the extra mounts). Run from
# anywhere: benches/host_mounts_cost.sh [COUNT] [EXTRA] [ROUNDS]
set -eu
repo=$(cd "$(dirname "$0")/.." && pwd)
count=${1:-300}
extra=${2:-200}
rounds=${3:-6}
cd "$repo"
cargo build --quiet --release --example startups
bin="$repo/target/release/examples/startups"
dir=$(mktemp -d)
trap 'rmdir "$dir"' EXIT
echo "host mounts: $(wc -l < /proc/self/mountinfo); median of $count start-ups through the fork server"
i=0
while [ "$i" -lt "$rounds" ]; do
    plain=$("$bin" "$count" --fork-server | sed 's/.*median //')
    more=$(unshare -m --propagation private sh -c '
        j=0
        while [ "$j" -lt "$2" ]; do
            mkdir "$1/$j" && mount -t tmpfs -o size=4k none "$1/$j"
            j=$((j + 1))
        done
        "$3" "$4" --fork-server | sed "s/.*median //"
    ' sh "$dir" "$extra" "$bin" "$count")
    # The directories were made on the host's file system; the mounts went with the namespace.
    find "$dir" -mindepth 1 -maxdepth 1 -type d -exec rmdir {} +
    echo "as it is: $plain   with $extra more mounts: $more"
    i=$((i + 1))
done
