#!/usr/bin/env python3
"""Where a directly cloned start-up's time goes, step by step (x86_64, as root).

Records the kernel's raw_syscalls and sched_process_* events in a tracefs instance of its own
while `examples/startups.rs` starts /bin/true COUNT times back to back (default 40), then prints
for the median start-up the time of each step since the host's clone, and the system calls the
sandbox's init and the host made per start-up, by total time. Tracing adds about a microsecond to
each call, so the steps read long by that much times their calls; compare steps, not totals.

    sudo python3 benches/startup_phases.py [COUNT]
"""

import collections
import os
import re
import statistics
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRACEFS = "/sys/kernel/tracing"
EVENTS = [
    "raw_syscalls/sys_enter",
    "raw_syscalls/sys_exit",
    "sched/sched_process_fork",
    "sched/sched_process_exec",
    "sched/sched_process_exit",
]
# x86_64 numbers of the calls that mark the steps.
NR = {
    "read": 0,
    "write": 1,
    "recvmsg": 47,
    "clone": 56,
    "chdir": 80,
    "futex": 202,
    "newfstatat": 262,
    "pivot_root": 155,
    "wait4": 61,
    "exit_group": 231,
    "seccomp": 317,
    "execveat": 322,
}
LINE = re.compile(r"^\s*(.+?)-(\d+)\s+\[\d+\]\s+\S+\s+([\d.]+): (\w+): (.*)$")
# (label, key) in the order a start-up goes through them.
STEPS = [
    ("host's clone returns (namespaces, copy of the host)", "host_clone_exit"),
    ("init has its id maps (written by the host)", "maps"),
    ("init clones the sandboxee (init's mounts next)", "sandboxee_fork"),
    ("init has pivoted into the new root (mounts done)", "pivot"),
    ("the sandboxee sees the new root alone (its chdir)", "chdir"),
    ("sandboxee calls seccomp()", "seccomp"),
    ("filter installed", "seccomp_done"),
    ("sandboxee calls execveat", "execveat"),
    ("exec done (after the monitor's exec check)", "exec"),
    ("/bin/true calls exit_group", "true_exit_group"),
    ("init's wait4 returns", "init_wait"),
    ("init has sent its report of the end", "init_report"),
    ("the host has read it (the outcome)", "host_outcome"),
    ("init has exited (reaped off the caller's way)", "init_exit"),
    ("the next start-up's clone", "next_clone"),
]


def syscall_names():
    names = {}
    try:
        with open("/usr/include/x86_64-linux-gnu/asm/unistd_64.h") as f:
            for m in re.finditer(r"#define __NR_(\w+) (\d+)", f.read()):
                names[int(m.group(2))] = m.group(1)
    except OSError:
        pass
    return names


def record(count):
    subprocess.run(
        ["cargo", "build", "--quiet", "--release", "--example", "startups"], cwd=REPO, check=True
    )
    if not os.path.isdir(f"{TRACEFS}/instances"):
        mounted = subprocess.run(["mount", "-t", "tracefs", "nodev", TRACEFS]).returncode == 0
        if not mounted:
            sys.exit(f"tracefs is not mounted at {TRACEFS} and cannot be: no trace to read")
    inst = f"{TRACEFS}/instances/startup-phases-{os.getpid()}"
    os.mkdir(inst)
    try:
        for e in EVENTS:
            with open(f"{inst}/events/{e}/enable", "w") as f:
                f.write("1")
        with open(f"{inst}/buffer_size_kb", "w") as f:
            f.write("65536")
        with open(f"{inst}/tracing_on", "w") as f:
            f.write("1")
        subprocess.run(
            [f"{REPO}/target/release/examples/startups", str(count)], check=True
        )
        with open(f"{inst}/tracing_on", "w") as f:
            f.write("0")
        with open(f"{inst}/trace") as f:
            return f.read()
    finally:
        for e in EVENTS:
            with open(f"{inst}/events/{e}/enable", "w") as f:
                f.write("0")
        os.rmdir(inst)


def events(text):
    out = []
    for line in text.splitlines():
        m = LINE.match(line)
        if m:
            comm, pid, t, kind, rest = m.groups()
            out.append((float(t) * 1e6, int(pid), comm, kind, rest))
    # In the order the trace gives, not re-sorted: times are whole microseconds, and a sort would
    # reorder the events of one microsecond (a call's exit after the next call's entry).
    return out


def is_call(kind, rest, which, nr):
    return kind == which and rest.startswith(f"NR {NR[nr]} ")


def phases(ev):
    host = collections.Counter(p for _, p, c, _, _ in ev if c == "startups").most_common(1)[0][0]
    child = lambda rest: int(re.search(r"child_pid=(\d+)", rest).group(1))
    inits = {child(r): {"fork": t} for t, p, _, k, r in ev if k == "sched_process_fork" and p == host}
    owner = {}
    for t, p, _, k, r in ev:
        if k == "sched_process_fork" and p in inits:
            owner[child(r)] = p
            inits[p]["sandboxee_fork"] = t
    clones = [t for t, p, _, k, r in ev if p == host and is_call(k, r, "sys_enter", "clone")]
    first = lambda d, key, t: d.setdefault(key, t)
    for t, p, _, k, r in ev:
        if p == host and is_call(k, r, "sys_exit", "clone"):
            for d in inits.values():
                if d["fork"] <= t:
                    first(d, "host_clone_exit", t)
        if p in inits:
            d = inits[p]
            if is_call(k, r, "sys_exit", "read"):
                first(d, "maps", t)
            if is_call(k, r, "sys_exit", "pivot_root"):
                first(d, "pivot", t)
            if is_call(k, r, "sys_exit", "wait4"):
                first(d, "init_wait", t)
            if is_call(k, r, "sys_exit", "write") and "init_wait" in d:
                first(d, "init_report", t)
            if k == "sched_process_exit":
                d["init_exit"] = t
        if p in owner:
            d = inits[owner[p]]
            if is_call(k, r, "sys_enter", "chdir"):
                first(d, "chdir", t)
            if "chdir" not in d and is_call(k, r, "sys_exit", "futex"):
                d["last_wait_end"] = t
            if "chdir" not in d and is_call(k, r, "sys_enter", "newfstatat"):
                d["looks"] = d.get("looks", 0) + 1
            if is_call(k, r, "sys_enter", "seccomp"):
                first(d, "seccomp", t)
            if is_call(k, r, "sys_exit", "seccomp"):
                first(d, "seccomp_done", t)
            if is_call(k, r, "sys_enter", "execveat"):
                first(d, "execveat", t)
            if k == "sched_process_exec":
                d["exec"] = t
            if is_call(k, r, "sys_enter", "exit_group"):
                d["true_exit_group"] = t
    rows = []
    for d in inits.values():
        before = [c for c in clones if c <= d["fork"]]
        if not before:
            continue
        d["clone"] = before[-1]
        after = [c for c in clones if c > d["fork"]]
        if after:
            d["next_clone"] = after[0]
        read = [
            t
            for t, p, _, k, r in ev
            if p == host and is_call(k, r, "sys_exit", "recvmsg") and t >= d.get("init_report", 1e30)
        ]
        if read:
            d["host_outcome"] = read[0]
        rows.append(d)
    return host, rows


def by_syscall(ev, keep, starts):
    pending, total, count = {}, collections.Counter(), collections.Counter()
    for t, p, c, k, r in ev:
        if not keep(p, c):
            continue
        m = re.match(r"NR (-?\d+) ", r)
        if not m:
            continue
        nr = int(m.group(1))
        if k == "sys_enter":
            pending[p] = (nr, t)
        elif k == "sys_exit" and pending.get(p, (None,))[0] == nr:
            total[nr] += t - pending.pop(p)[1]
            count[nr] += 1
    return [(nr, total[nr] / starts, count[nr] / starts) for nr, _ in total.most_common(15)]


def lookup_after_pivot(rows):
    """From init's pivot to the sandboxee's first lookup, apart for the sandboxees that were
    already waiting at the pivot (woken by init) and those still on their first steps; and how
    many `stat`s of `/` and `/..` each made before it saw the new root alone."""
    seen = [d for d in rows if "pivot" in d and "chdir" in d]
    waiting = [d for d in seen if d.get("last_wait_end", 0) > d["pivot"]]
    late = [d for d in seen if d.get("last_wait_end", 0) <= d["pivot"]]
    print("from init's pivot to the sandboxee's chdir (µs, median and range):")
    for label, group in [("waiting at the pivot", waiting), ("still on its first steps", late)]:
        if group:
            gaps = sorted(d["chdir"] - d["pivot"] for d in group)
            print(f"  {label}: {len(group)} start-ups, {statistics.median(gaps):.0f} "
                  f"({gaps[0]:.0f}-{gaps[-1]:.0f})")
    looks = collections.Counter(d.get("looks", 0) for d in seen)
    print(f"  stats before the chdir: {dict(sorted(looks.items()))} (count: start-ups)")


def main():
    if os.geteuid() != 0:
        sys.exit("startup_phases.py needs root (tracefs)")
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    ev = events(record(count))
    host, rows = phases(ev)
    print(f"{len(rows)} start-ups; median µs since the host's clone, and each step's share")
    previous = 0.0
    for label, key in STEPS:
        values = [d[key] - d["clone"] for d in rows if key in d]
        if not values:
            print(f"  {label}: not seen")
            continue
        m = statistics.median(values)
        print(f"  {m:8.1f}  +{m - previous:7.1f}  {label}")
        previous = m
    lookup_after_pivot(rows)
    names = syscall_names()
    for who, keep in [
        ("init and the sandboxee before its exec (`sandbox-init`)", lambda p, c: c == "sandbox-init"),
        ("the host", lambda p, c: p == host),
    ]:
        print(f"system calls of {who}, per start-up (µs in all, calls):")
        for nr, us, calls in by_syscall(ev, keep, max(len(rows), 1)):
            print(f"  {names.get(nr, nr)!s:>18} {us:8.1f} µs {calls:6.1f}")


if __name__ == "__main__":
    main()
