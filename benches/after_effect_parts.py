#!/usr/bin/env python3
"""Which part of a sandbox's run leaves `tar` its after-effect (see `after_effect.py`), in two
sections, each timing a bare `tar cf - /usr/include`, read by this script, 20 ms after a
pre-step, against the same after a baseline pre-step in the same round (median ratio and a
bootstrap 95% interval, as `after_effect.py` gives them):

- ends: pre-steps that start 100 ms before their end (their program sleeps 0.1 s), so that
  only what their end leaves reaches `tar`; baseline a bare `sleep 0.1`. A `sandbox run`, with
  and without `--net`; `unshare` making every namespace a sandbox has, with the mounts it makes
  (a tmpfs, `proc`, five device binds) and a shell as pid 1, all torn down at its end; a
  process that joins a new session keyring and applies a Landlock ruleset and a seccomp
  filter, as a sandbox's init and program do; a process with two threads waiting on its child,
  as `sandbox run` does.
- work: after `sandbox run /bin/true` against after `/bin/true`, three kinds of work: `tar`
  into a pipe read here (the benchmark's), `tar` into a file on `/dev/shm` (the same reads, no
  reader), and a loop of arithmetic without system calls.

Needs a 2-CPU machine or larger, `cc`, `unshare` (util-linux) and the release `sandbox` binary
(`cargo build --release`); run as root, as the benchmark is.

Usage: python3 benches/after_effect_parts.py [ROUNDS]   (default 60)
"""
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time

import after_effect

PAUSE = 0.02
HELPER_C = r"""
#define _GNU_SOURCE
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/landlock.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int child_pidfd;

static void *wait_on_child(void *unused) {
    siginfo_t info;
    waitid(P_PIDFD, child_pidfd, &info, WEXITED | WNOWAIT);
    return unused;
}

static void *block(void *unused) {
    pause();
    return unused;
}

/* confine PROG...: a new session keyring, a Landlock ruleset, a seccomp filter, then exec. */
static int confine(char **argv) {
    struct landlock_ruleset_attr attr = {.handled_access_fs = LANDLOCK_ACCESS_FS_MAKE_SOCK};
    struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 999, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog program = {sizeof filter / sizeof filter[0], filter};
    int ruleset;
    if (syscall(SYS_keyctl, 1, (char *)0) < 0) { perror("keyctl"); return 1; }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) { perror("no_new_privs"); return 1; }
    ruleset = syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0);
    if (ruleset < 0 || syscall(SYS_landlock_restrict_self, ruleset, 0) < 0) {
        perror("landlock");
        return 1;
    }
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &program) < 0) {
        perror("seccomp");
        return 1;
    }
    execv(argv[0], argv);
    perror("exec");
    return 1;
}

/* threads PROG...: two threads, one waiting on the child, the main one reaping it. */
static int threads(char **argv) {
    pthread_t thread;
    siginfo_t info;
    pid_t pid;
    if (pthread_create(&thread, 0, block, 0) != 0) return 1;
    pid = fork();
    if (pid < 0) { perror("fork"); return 1; }
    if (pid == 0) { execv(argv[0], argv); _exit(127); }
    child_pidfd = syscall(SYS_pidfd_open, pid, 0);
    if (child_pidfd < 0) { perror("pidfd_open"); return 1; }
    if (pthread_create(&thread, 0, wait_on_child, 0) != 0) return 1;
    if (waitid(P_PIDFD, child_pidfd, &info, WEXITED) < 0) { perror("waitid"); return 1; }
    return info.si_status;
}

/* compute N: N steps of a linear congruential generator, no system call; prints nanoseconds. */
static int compute(long n) {
    struct timespec a, b;
    volatile unsigned long x = 1;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (long i = 0; i < n; i++) x = x * 6364136223846793005UL + 1442695040888963407UL;
    clock_gettime(CLOCK_MONOTONIC, &b);
    printf("%ld\n", (b.tv_sec - a.tv_sec) * 1000000000L + (b.tv_nsec - a.tv_nsec));
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 3 && strcmp(argv[1], "confine") == 0) return confine(argv + 2);
    if (argc >= 3 && strcmp(argv[1], "threads") == 0) return threads(argv + 2);
    if (argc == 3 && strcmp(argv[1], "compute") == 0) return compute(atol(argv[2]));
    fprintf(stderr, "usage: helper confine|threads PROG... | compute N\n");
    return 2;
}
"""
# What a sandbox's mount namespace holds, made in `unshare`'s: a tmpfs root with `proc` and
# five device binds (see the README's "Mounts").
UNSHARE_MOUNTS = (
    "mount -t tmpfs none /mnt && mkdir /mnt/dev /mnt/proc && "
    "for f in null zero full random urandom; do "
    "touch /mnt/dev/$f && mount --bind /dev/$f /mnt/dev/$f || exit 1; done && "
    "mount -t proc proc /mnt/proc && /bin/sleep 0.1 && true")
# Iterations of `compute`: about 100 ms on a 2020s CPU, as long as `tar`.
COMPUTE_STEPS = "100000000"


def helper(work):
    """Builds the helper program; returns its path."""
    path = os.path.join(work, "helper")
    subprocess.run(["cc", "-O2", "-pthread", "-o", path, "-x", "c", "-"],
                   input=HELPER_C.encode(), check=True)
    return path


def timed(argv):
    """Runs `argv` to its end, output to /dev/null; its wall time in seconds."""
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def compute_time(helper_path):
    """The helper's own timing of its loop, in seconds."""
    out = subprocess.run([helper_path, "compute", COMPUTE_STEPS], capture_output=True,
                         check=True, text=True).stdout
    return int(out) / 1e9


def interleave(rounds, pairs, pre, work):
    """Runs each (pre-step, work) pair once a round, in a shuffled order: the pre-step, the
    pause, then the timed work. Returns each pair's times."""
    runs = {pair: [] for pair in pairs}
    order = list(pairs)
    for _ in range(rounds):
        random.shuffle(order)
        for pair in order:
            subprocess.run(pre[pair[0]], check=True, stdout=subprocess.DEVNULL)
            time.sleep(PAUSE)
            runs[pair].append(work[pair[1]]())
    return runs


def show(title, runs, baseline, rows):
    """Prints each row's median time and its ratio over `baseline` in the same round."""
    print(title)
    for row in rows:
        mine, base = runs[row], runs[baseline]
        ratio, low, high = after_effect.median_interval([a / b for a, b in zip(mine, base)])
        print(f"  {' / '.join(row):58} {statistics.median(mine) * 1000:7.2f} ms  "
              f"{ratio:.3f}x [{low:.3f}-{high:.3f}]")


def main():
    arg = sys.argv[1] if len(sys.argv) > 1 else "60"
    if not arg.isdigit() or int(arg) < 6:
        sys.exit(f"ROUNDS must be a number of at least 6, not {arg!r}")
    rounds = int(arg)
    if len(os.sched_getaffinity(0)) < 2:
        sys.exit("needs at least 2 CPUs")
    if not os.access(after_effect.SANDBOX, os.X_OK):
        sys.exit(f"{after_effect.SANDBOX} missing: run `cargo build --release` first")
    with tempfile.TemporaryDirectory() as work:
        policy = os.path.join(work, "allow.policy")
        with open(policy, "w") as f:
            f.write("default allow;\n")
        helper_path = helper(work)
        sandbox = [after_effect.SANDBOX, "run", "--policy", policy]
        sleep = ["/bin/sleep", "0.1"]
        pre = {
            "sleep 0.1": sleep,
            "sandbox run sleep 0.1": sandbox + ["--"] + sleep,
            "sandbox run --net sleep 0.1": sandbox + ["--net", "--"] + sleep,
            "unshare, every namespace and mount":
                ["unshare", "-Urmpfiun", "--cgroup", "sh", "-c", UNSHARE_MOUNTS],
            "keyring, Landlock, seccomp, sleep 0.1": [helper_path, "confine"] + sleep,
            "two threads waiting on sleep 0.1": [helper_path, "threads"] + sleep,
            "/bin/true": ["/bin/true"],
            "sandbox run /bin/true": sandbox + ["--", "/bin/true"],
        }
        shm = "/dev/shm/after_effect_parts.tar"
        work_kinds = {
            "tar | reader": lambda: after_effect.timed_tar(None)[0],
            "tar into a file": lambda: timed(["/usr/bin/tar", "cf", shm, "/usr/include"]),
            "arithmetic": lambda: compute_time(helper_path),
        }
        ends = [(p, "tar | reader") for p in list(pre)[:6]]
        kinds = [(p, w) for p in ("/bin/true", "sandbox run /bin/true") for w in work_kinds]
        try:
            runs = interleave(rounds, ends + kinds, pre, work_kinds)
        finally:
            if os.path.exists(shm):
                os.unlink(shm)
    print(f"{rounds} rounds, each timed run {PAUSE * 1000:.0f} ms after its pre-step")
    show("ends (pre-steps that start 100 ms before their end):", runs, ends[0], ends[1:])
    for kind in work_kinds:
        show(f"work: {kind}:", runs, ("/bin/true", kind), [("sandbox run /bin/true", kind)])


if __name__ == "__main__":
    main()
