#!/bin/sh
# Why the overhead benchmark binds /etc/ld.so.cache into its sandboxes: counts the file-name
# system calls of `python3 -c 'import json, email, http.client'`, and how many of them fail
# with ENOENT, bare and in our sandbox (the benchmark's python3 policy) without and with the
# loader's cache bound. Needs strace and a release build (`cargo build --release -p
# sandbox-runtime`); run from anywhere, as any user the sandbox runs for.
set -eu
repo=$(cd "$(dirname "$0")/.." && pwd)
sandbox="$repo/target/release/sandbox"
policy="$repo/benches/policies/python3-imports.policy"
code='import json, email, http.client'
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cd /

# The python3 process is the one that looks up its `encodings` package.
count() {
    pid=$(grep -m1 '/encodings' "$out/$1" | cut -d' ' -f1)
    if [ -z "$pid" ]; then
        echo "$2: no process looked up python3's encodings package; is python3 the one traced?" >&2
        exit 1
    fi
    echo "$2: $(grep -c "^$pid " "$out/$1") calls, $(grep "^$pid " "$out/$1" | grep -c ENOENT) failed with ENOENT"
}

binds="--ro /usr"
for d in /lib /lib64 /bin; do
    if [ -e "$d" ]; then binds="$binds --ro $d"; fi
done
strace -f -qq -e trace=%file -o "$out/bare" env -i /usr/bin/python3 -c "$code"
count bare "bare (env -i)"
# shellcheck disable=SC2086 # the binds are separate arguments
strace -f -qq -e trace=%file -o "$out/plain" "$sandbox" run --policy "$policy" $binds -- /usr/bin/python3 -c "$code"
count plain "sandbox without the cache"
# shellcheck disable=SC2086
strace -f -qq -e trace=%file -o "$out/cache" "$sandbox" run --policy "$policy" $binds --ro /etc/ld.so.cache -- /usr/bin/python3 -c "$code"
count cache "sandbox with the cache"
