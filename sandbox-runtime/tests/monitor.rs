//! The monitor's harder cases: the runtime's magic exec reused by the program, foreign-ABI
//! calls, limits through cgroups or rlimits, and nothing left behind afterwards.

mod cgroup_dirs;
mod common;

use sandbox_runtime::{Enforcement, Limits, Status, Stdio, TimeLimit};
use std::time::{Duration, Instant};

#[test]
fn the_magic_exec_grants_nothing_after_the_start() {
    let policy = common::kill_only(&[("execveat", 322)]);
    let out = common::command("/usr/bin/python3")
        .args(["-S", "-c", &common::magic_exec_snippet()])
        .policy(&policy)
        .output()
        .unwrap();
    let Status::Violation(v) = &out.outcome.status else {
        panic!("{} {}", out.outcome, String::from_utf8_lossy(&out.stderr));
    };
    assert_eq!(v.syscall, "execveat");
    assert!(v.decided_by.contains("kill execveat"), "{}", v.decided_by);
}

#[test]
fn the_magic_exec_is_allowed_when_the_policy_allows_execveat() {
    let out = common::command("/usr/bin/python3")
        .args(["-S", "-c", &common::magic_exec_snippet()])
        .policy(&common::permissive())
        .output()
        .unwrap();
    common::assert_exited_0(&out);
}

/// The sandboxee tells the monitor its filter is in place by closing a pipe. A policy under
/// which that `close` fails (or goes to the monitor, which cannot answer before it has the
/// listener) must only slow the start, with the monitor then looking for the listener on its
/// own timer: no hang, no set-up error.
#[test]
fn the_start_does_not_depend_on_close_being_allowed() {
    let policy = common::compiled("default allow;\nerrno(EPERM) close;\n");
    for policy in [policy, common::kill_only(&[("close", 3)])] {
        let out = common::command("/bin/true")
            .policy(&policy)
            .limits(Limits {
                wall_time: Some(Duration::from_secs(20)),
                ..Limits::default()
            })
            .output()
            .unwrap();
        // The program ran: under `errno(EPERM) close` the loader gives up on its first close
        // (exit 127), under `kill close` that close is a violation.
        match &out.outcome.status {
            Status::Exited(127) => {
                assert!(String::from_utf8_lossy(&out.stderr).contains("cannot close"));
            }
            Status::Violation(v) => assert_eq!(v.syscall, "close"),
            s => panic!("{s:?} {}", String::from_utf8_lossy(&out.stderr)),
        }
    }
}

#[test]
fn int_0x80_is_an_i386_violation() {
    // mov eax, 20 (i386 getpid); int 0x80; ret
    let code = "import mmap, ctypes; \
        m = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC); \
        m.write(b'\\xb8\\x14\\x00\\x00\\x00\\xcd\\x80\\xc3'); \
        a = ctypes.addressof(ctypes.c_char.from_buffer(m)); \
        ctypes.CFUNCTYPE(ctypes.c_int)(a)()";
    let out = common::command("/usr/bin/python3")
        .args(["-S", "-c", code])
        .policy(&common::permissive())
        .output()
        .unwrap();
    let Status::Violation(v) = &out.outcome.status else {
        panic!("{} {}", out.outcome, String::from_utf8_lossy(&out.stderr));
    };
    assert_eq!(v.arch, "i386");
    assert_eq!(v.nr, 20);
    assert_eq!(v.syscall, "getpid");
    assert!(v.decided_by.contains("architecture"), "{}", v.decided_by);
}

#[test]
fn program_with_libraries_runs_without_other_mounts() {
    let out = sandbox_runtime::SandboxCommand::new("/bin/ls")
        .arg("/")
        .add_program_with_libraries("/bin/ls")
        .policy(&common::permissive())
        .output()
        .unwrap();
    common::assert_exited_0(&out);
    let listing = String::from_utf8(out.stdout).unwrap();
    assert!(
        listing.contains("proc") && listing.contains("dev"),
        "{listing}"
    );
}

#[test]
fn memory_limit_is_enforced_and_reported() {
    let out = common::command("/usr/bin/python3")
        .args([
            "-S",
            "-c",
            "b = bytearray(400 * 1024 * 1024); print(len(b))",
        ])
        .limits(Limits {
            memory: Some(128 << 20),
            wall_time: Some(Duration::from_secs(20)),
            ..Limits::default()
        })
        .policy(&common::permissive())
        .output()
        .unwrap();
    assert!(!out.outcome.status.success(), "{}", out.outcome);
    let mem = out
        .outcome
        .enforced_limits
        .iter()
        .find(|e| e.limit == "memory")
        .expect("memory limit recorded");
    match mem.by {
        // The OOM killer or an allocation failure, depending on the cgroup's swap accounting.
        Enforcement::Cgroup => {
            assert!(
                out.outcome.oom_killed || out.outcome.status == Status::Exited(1),
                "{}",
                out.outcome
            );
            // It ran into the limit: the sandbox's peak is the limit, give or take.
            let peak = out
                .outcome
                .memory_peak_kb
                .expect("the cgroup's peak is reported");
            assert!((64 << 10..=129 << 10).contains(&peak), "{}", out.outcome);
        }
        _ => {
            assert_eq!(out.outcome.status, Status::Exited(1), "{}", out.outcome);
            assert_eq!(out.outcome.memory_peak_kb, None);
        }
    }
}

/// A memory limit too small for the sandbox to start is the kernel's OOM kill, said as such:
/// never a kill "from outside", which would blame someone else (init, in the group too, may be
/// the process the OOM killer takes).
#[test]
fn a_memory_limit_too_small_to_start_is_an_oom_kill_not_a_kill_from_outside() {
    for _ in 0..3 {
        let out = common::command("/bin/true")
            .limits(Limits {
                memory: Some(100 << 10),
                wall_time: Some(Duration::from_secs(20)),
                ..Limits::default()
            })
            .policy(&common::permissive())
            .output()
            .unwrap();
        let status = &out.outcome.status;
        assert_ne!(status, &Status::Killed, "{}", out.outcome);
        let by = out
            .outcome
            .enforced_limits
            .iter()
            .find(|e| e.limit == "memory");
        // Under the cgroup, the OOM killer's SIGKILL; or a set-up step that the kernel refused
        // memory first (ENOMEM), before any OOM kill.
        let refused = matches!(status, Status::SetupError(e) if e.errno == libc::ENOMEM);
        if by.is_some_and(|e| e.by == Enforcement::Cgroup) && !refused {
            assert!(out.outcome.oom_killed, "{}", out.outcome);
            assert_eq!(status, &Status::Signaled(libc::SIGKILL), "{}", out.outcome);
        }
    }
}

/// Two processes holding 48 MiB each at the same time: each one's own peak (`max_rss_kb`) is
/// about 48 MiB, the sandbox's (known through its cgroup) at least 96 MiB. The two meet over
/// pipes while both hold their memory, so the overlap does not depend on timing.
#[test]
fn the_sandbox_memory_peak_counts_every_process_at_once() {
    let script = "import os
child_has, parent_has = os.pipe(), os.pipe()
pid = os.fork()
b = bytearray(48 << 20)
b[::4096] = b'x' * len(b[::4096])
if pid == 0:
    os.write(child_has[1], b'1')
    os.read(parent_has[0], 1)
    os._exit(0)
os.read(child_has[0], 1)
os.write(parent_has[1], b'1')
os.waitpid(pid, 0)";
    let out = common::command("/usr/bin/python3")
        .args(["-S", "-c", script])
        .limits(Limits {
            memory: Some(512 << 20),
            wall_time: Some(Duration::from_secs(20)),
            ..Limits::default()
        })
        .policy(&common::permissive())
        .output()
        .unwrap();
    assert_eq!(
        out.outcome.status,
        Status::Exited(0),
        "{}: {}",
        out.outcome,
        String::from_utf8_lossy(&out.stderr)
    );
    let by = out.outcome.enforced_by("memory");
    assert!(out.outcome.max_rss_kb >= 48 << 10, "{}", out.outcome);
    match by {
        Some(Enforcement::Cgroup) => {
            let peak = out
                .outcome
                .memory_peak_kb
                .expect("the cgroup's peak is reported");
            assert!(peak >= 96 << 10, "{}", out.outcome);
            assert!(peak > out.outcome.max_rss_kb, "{}", out.outcome);
        }
        // Unprivileged here: no cgroup, so no sandbox-wide figure, and nothing made up.
        _ => assert_eq!(out.outcome.memory_peak_kb, None, "{}", out.outcome),
    }
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

#[test]
fn nothing_leaks_after_timeouts_violations_kills_and_crashes() {
    // Warm up lazily-opened descriptors (e.g. the notify support probe).
    let _ = common::command("/bin/true")
        .policy(&common::permissive())
        .output();
    let before = open_fds();
    for _ in 0..3 {
        let out = common::command("/bin/sleep")
            .arg("5")
            .limits(Limits {
                wall_time: Some(Duration::from_millis(100)),
                ..Limits::default()
            })
            .policy(&common::permissive())
            .output()
            .unwrap();
        assert_eq!(out.outcome.status, Status::Timeout(TimeLimit::Wall));
        let out = common::command("/usr/bin/python3")
            .args(["-S", "-c", "import socket; socket.socket()"])
            .policy(&common::kill_only(&[("socket", 41)]))
            .output()
            .unwrap();
        assert!(matches!(out.outcome.status, Status::Violation(_)));
        let out = common::command("/bin/sh")
            .args(["-c", "kill -SEGV $$"])
            .output()
            .unwrap();
        assert_eq!(out.outcome.status, Status::Signaled(libc::SIGSEGV));
        let mut c = common::command("/bin/sh")
            .args(["-c", "sleep 5 & sleep 5"])
            .stdout(Stdio::Piped)
            .spawn()
            .unwrap();
        c.kill().unwrap();
        assert_eq!(c.wait().status, Status::Killed);
    }
    // Other tests run in parallel threads of this process: allow their descriptors to come
    // and go, but not to pile up.
    let after = open_fds();
    assert!(
        after <= before + 8,
        "descriptors: {before} before, {after} after"
    );
    std::thread::sleep(Duration::from_millis(50));
    let left = common::children();
    assert!(left.len() < 4, "children: {left:?}");
}

/// A time-out or a violation kills the program and leaves the rest of the sandbox to init (so
/// that their CPU time is counted): still, no process of the sandbox runs once the outcome is
/// out, also orphans that left their parent and processes forking while the kill goes on.
#[test]
fn nothing_of_the_sandbox_runs_after_a_time_out_or_a_violation() {
    let marker = "1000.7331";
    // Forking on until the end, a few hundred times a second at most, so that the machine is
    // not swamped for the tests running beside this one.
    let storm = format!(
        "(setsid sleep {marker} &); sleep {marker} & \
         while :; do sh -c 'sleep {marker} & (sleep {marker} &)'; sleep 0.002; done"
    );
    // No output pipes, which the storm's processes would hold: the outcome must not wait for
    // their end.
    let timed_out = common::command("/bin/sh")
        .args(["-c", &storm])
        .limits(Limits {
            wall_time: Some(Duration::from_millis(500)),
            ..Limits::default()
        })
        .policy(&common::permissive())
        .stdout(Stdio::Null)
        .stderr(Stdio::Null)
        .status()
        .unwrap();
    assert_eq!(timed_out.status, Status::Timeout(TimeLimit::Wall));
    assert_eq!(
        common::processes_with_argument(marker),
        Vec::<libc::pid_t>::new()
    );
    let violated = common::command("/bin/sh")
        .args(["-c", &format!("({storm}) & sleep 0.3; mkdir /violation")])
        .policy(&common::kill_only(&[("mkdir", 83)]))
        .stdout(Stdio::Null)
        .stderr(Stdio::Null)
        .status()
        .unwrap();
    let Status::Violation(v) = &violated.status else {
        panic!("{violated}");
    };
    assert_eq!(v.syscall, "mkdir");
    assert_eq!(
        common::processes_with_argument(marker),
        Vec::<libc::pid_t>::new()
    );
}

/// Whether this process holds a descriptor for namespace `ns` (a `mnt:[...]` link).
fn holds(ns: &str) -> bool {
    common::fd_links(std::process::id()).iter().any(|l| l == ns)
}

/// Fails unless this process lets namespace `ns` go within 5 s.
fn assert_let_go_soon(ns: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while holds(ns) {
        assert!(
            Instant::now() < deadline,
            "{ns} is still held after the end"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Cloned directly, a sandbox's mount namespace is held by the host while the sandbox runs (its
/// monitor lets it go after the outcome, so that the kernel's teardown of the mounts is not on
/// the way to `wait`), and let go after the end, not kept. The namespace is named from inside:
/// from outside, an unprivileged host may not read an exec'd sandbox's links.
#[test]
fn the_mount_namespace_is_held_while_the_sandbox_runs_and_let_go_after_the_end() {
    let mut c = common::command("/bin/sh")
        .args(["-c", "readlink /proc/self/ns/mnt; exec cat >/dev/null"])
        .use_fork_server(false)
        .stdin(Stdio::Piped)
        .stdout(Stdio::Piped)
        .spawn()
        .unwrap();
    let mut ns = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(c.stdout.as_mut().unwrap()),
        &mut ns,
    )
    .unwrap();
    let ns = ns.trim().to_string();
    assert!(ns.starts_with("mnt:["), "{ns:?}");
    assert!(holds(&ns), "the monitor holds no reference to {ns}");
    drop(c.stdin.take());
    assert_eq!(c.wait().status, Status::Exited(0));
    assert_let_go_soon(&ns);
}

/// `status()` of a directly cloned sandbox watches it from the calling thread and hands what it
/// kept to the runtime's release thread: the reference to its mount namespace is let go after
/// the end all the same.
#[test]
fn status_lets_the_mount_namespace_go_after_the_end() {
    let (read, write) = std::io::pipe().unwrap();
    let outcome = common::command("/bin/sh")
        .args(["-c", "readlink /proc/self/ns/mnt"])
        .use_fork_server(false)
        .stdout(Stdio::Fd(write.into()))
        .status()
        .unwrap();
    assert_eq!(outcome.status, Status::Exited(0));
    let ns = std::io::read_to_string(read).unwrap().trim().to_string();
    assert!(ns.starts_with("mnt:["), "{ns:?}");
    assert_let_go_soon(&ns);
}

/// A wall-time limit too far off to add to the start would be no deadline at all, while the
/// outcome listed it as enforced: it is refused as too large, as an unbounded CPU limit is,
/// before anything runs.
#[test]
fn a_wall_time_limit_beyond_the_clock_is_refused() {
    let err = common::command("/bin/true")
        .limits(Limits {
            wall_time: Some(Duration::MAX),
            ..Limits::default()
        })
        .output()
        .unwrap_err();
    assert!(
        matches!(
            err,
            sandbox_runtime::SpawnError::Limit(sandbox_runtime::LimitError::TooLarge("wall_time"))
        ),
        "{err}"
    );
}

/// A sandbox's cgroup is gone when its outcome comes, though init may still be exiting then:
/// a host that exits at once must not leave it behind.
#[test]
fn the_cgroup_is_removed_before_the_outcome() {
    let mut child = common::command("/bin/cat")
        .stdin(Stdio::Piped)
        .stdout(Stdio::Null)
        .limits(Limits {
            memory: Some(256 << 20),
            pids: Some(64),
            ..Limits::default()
        })
        .policy(&common::permissive())
        .spawn()
        .unwrap();
    let dirs = cgroup_dirs::of(child.id());
    let outcome = child.wait();
    assert_eq!(outcome.status, Status::Exited(0), "{outcome}");
    let by_cgroup = outcome
        .enforced_limits
        .iter()
        .any(|e| e.by == Enforcement::Cgroup);
    // Without the privilege to make groups (the unprivileged run), rlimits stand in; as root
    // the groups must be there, or this test would check nothing.
    assert_eq!(by_cgroup, !dirs.is_empty(), "{outcome} {dirs:?}");
    // SAFETY: no arguments.
    if unsafe { libc::geteuid() } == 0 {
        assert!(
            by_cgroup,
            "as root, no cgroup enforced the limits: {outcome}"
        );
    }
    let left: Vec<_> = dirs.iter().filter(|d| d.exists()).collect();
    assert!(left.is_empty(), "still there: {left:?}");
}

/// A host that reads the program's output before it takes any observation keeps at most
/// `OBSERVATIONS_PENDING_MOST` of them in memory; the outcome counts the rest, exactly.
#[test]
fn observations_not_taken_are_bounded_and_the_rest_counted() {
    use sandbox_runtime::{SyscallMode, OBSERVATIONS_PENDING_MOST};
    use std::io::Read;
    let calls = OBSERVATIONS_PENDING_MOST + 20_000;
    let policy = common::kill_only(&[("getppid", 110)]);
    let mut child = common::command("/usr/bin/python3")
        .args([
            "-S",
            "-c",
            &format!("import os\nfor _ in range({calls}): os.getppid()\nprint('done')"),
        ])
        .policy(&policy)
        .syscall_mode(SyscallMode::LogViolations)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut printed = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut printed)
        .unwrap();
    assert_eq!(printed, "done\n");
    // Every call was observed before the program printed: taken now, they are all there is.
    let kept = child
        .observations()
        .unwrap()
        .try_iter()
        .filter(|o| o.nr == 110)
        .count();
    let out = child.wait();
    assert_eq!(out.status, Status::Exited(0), "{out}");
    assert_eq!(kept, OBSERVATIONS_PENDING_MOST, "{out}");
    assert_eq!(out.observations_dropped, (calls - kept) as u64, "{out}");
}

/// A program that forks until a fork fails: under a cgroup's pids limit the outcome says the
/// limit was hit; under the rlimit that stands in without one, it cannot know, and says not.
#[test]
fn a_pids_limit_hit_is_reported_where_a_cgroup_holds_it() {
    // The children sleep until the program's end ends them.
    let script = "import os, time
n = 0
try:
    while True:
        if os.fork() == 0:
            time.sleep(60)
            os._exit(0)
        n += 1
except OSError:
    print(n)";
    for limit in [6u64, 64] {
        let out = common::command("/usr/bin/python3")
            .args(["-S", "-c", script])
            .limits(Limits {
                pids: Some(limit),
                wall_time: Some(Duration::from_secs(20)),
                ..Limits::default()
            })
            .policy(&common::permissive())
            .output()
            .unwrap();
        assert_eq!(out.outcome.status, Status::Exited(0), "{}", out.outcome);
        // Init and the program take two of the limit; the children the rest.
        let forked: u64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
        assert_eq!(forked, limit - 2, "{}", out.outcome);
        let by = out.outcome.enforced_by("pids");
        assert_eq!(
            out.outcome.pids_limit_hit,
            by == Some(Enforcement::Cgroup),
            "{}",
            out.outcome
        );
    }
}
