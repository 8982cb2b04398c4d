//! One test per way a sandbox can end, with real programs.

mod common;

use sandbox_runtime::{Limits, SandboxCommand, SpawnError, Status, Stdio, TimeLimit, Violation};
use std::time::{Duration, Instant};

fn stderr(out: &sandbox_runtime::SandboxOutput) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn exit_code_is_reported() {
    let out = common::command("/bin/sh")
        .args(["-c", "exit 7"])
        .policy(&common::permissive())
        .output()
        .unwrap();
    assert_eq!(out.outcome.status, Status::Exited(7), "{}", stderr(&out));
    assert_eq!(out.outcome.to_json()["exit_code"], 7);
    assert_eq!(out.outcome.to_json()["status"], "ok");
}

/// Runs `script` in python under a policy that kills `socket`, and returns the run and its
/// violation (the test fails if it ended otherwise).
fn python_making_a_socket(script: &str) -> (sandbox_runtime::SandboxOutput, Violation) {
    let policy = common::kill_only(&[("socket", 41)]);
    let out = common::command("/usr/bin/python3")
        .args(["-S", "-c", script])
        .policy(&policy)
        .output()
        .unwrap();
    let Status::Violation(v) = &out.outcome.status else {
        panic!("{} / {}", out.outcome, stderr(&out));
    };
    assert_eq!(v.syscall, "socket");
    let v = v.clone();
    (out, v)
}

#[test]
fn forbidden_socket_is_a_violation_with_name_and_args() {
    let (out, v) = python_making_a_socket("import socket; socket.socket()");
    assert_eq!(v.nr, 41);
    assert_eq!(v.arch, "x86_64");
    assert_eq!(v.args[0], libc::AF_INET as u64);
    assert_eq!(v.args[1] & 0xff, libc::SOCK_STREAM as u64);
    assert!(v.decided_by.contains("kill socket"), "{}", v.decided_by);
    // Python's main thread: the process's own id.
    assert_eq!(Some(v.tid), v.pid);
    // Where: python calls the C library's `socket`, at an offset into that file.
    let location = v.location.as_deref().unwrap_or_default();
    assert!(location.contains("/libc.so.6+0x"), "{location}");
    // The one-line summary names the arguments: python asks for SOCK_STREAM | SOCK_CLOEXEC.
    let line = out.outcome.to_string();
    assert!(
        line.starts_with("policy violation: socket(AF_INET, SOCK_STREAM"),
        "{line}"
    );
    assert!(line.contains("[nr 41, x86_64]"), "{line}");
    let j = out.outcome.to_json();
    assert_eq!(j["status"], "violation");
    assert_eq!(j["violation"]["syscall"], "socket");
    assert_eq!(j["violation"]["location"], location);
}

/// A call from a thread other than the main one names its process as the pid, and the thread
/// beside it.
#[test]
fn a_violation_in_a_thread_names_its_process_and_the_thread() {
    let (out, v) = python_making_a_socket(
        "import socket, threading\n\
         t = threading.Thread(target=socket.socket)\nt.start()\nt.join()",
    );
    let pid = v.pid.expect("the caller's process");
    assert_ne!(v.tid, pid, "{v}");
    let line = v.to_string();
    let said = format!("by pid {pid} (thread {})", v.tid);
    assert!(line.contains(&said), "{line}");
    let j = out.outcome.to_json();
    assert_eq!(j["violation"]["pid"], pid);
    assert_eq!(j["violation"]["tid"], v.tid);
}

#[test]
fn exec_is_not_allowed_twice_by_the_magic_alone() {
    // The policy kills execve: the runtime's own exec still works, the program's does not.
    let policy = common::kill_only(&[("execve", 59), ("execveat", 322)]);
    let out = common::command("/bin/sh")
        .args(["-c", "/bin/true"])
        .policy(&policy)
        .output()
        .unwrap();
    let Status::Violation(v) = &out.outcome.status else {
        panic!("{}", out.outcome);
    };
    assert_eq!(v.syscall, "execve");
}

#[test]
fn signal_is_reported() {
    let out = common::command("/bin/sh")
        .args(["-c", "kill -SEGV $$"])
        .policy(&common::permissive())
        .output()
        .unwrap();
    assert_eq!(
        out.outcome.status,
        Status::Signaled(libc::SIGSEGV),
        "{}",
        stderr(&out)
    );
    assert_eq!(out.outcome.to_json()["signal"], libc::SIGSEGV);
}

#[test]
fn wall_time_limit_times_out() {
    let t = Instant::now();
    let out = common::command("/bin/sleep")
        .arg("10")
        .limits(Limits {
            wall_time: Some(Duration::from_secs(1)),
            ..Limits::default()
        })
        .policy(&common::permissive())
        .output()
        .unwrap();
    let elapsed = t.elapsed();
    assert_eq!(
        out.outcome.status,
        Status::Timeout(TimeLimit::Wall),
        "{}",
        stderr(&out)
    );
    // Ended at the limit, not at some coarse tick after it; the slack is for a loaded 2-CPU
    // machine running other tests at once.
    let w = out.outcome.wall_time;
    assert!(w >= Duration::from_secs(1), "{w:?}");
    assert!(w <= Duration::from_millis(1500), "{w:?}");
    assert!(elapsed <= Duration::from_millis(1600), "{elapsed:?}");
}

/// A Python program whose forked child burns 0.3 s of CPU and then, like its parent, sleeps.
const CHILD_BURNS_THEN_SLEEPS: &str = "import os, time
if os.fork() == 0:
    t = time.process_time()
    while time.process_time() - t < 0.3:
        pass
time.sleep(100)
";

#[test]
fn a_time_out_counts_the_cpu_time_of_every_process() {
    let out = common::command("/usr/bin/python3")
        .args(["-S", "-c", CHILD_BURNS_THEN_SLEEPS])
        .limits(Limits {
            wall_time: Some(Duration::from_secs(3)),
            ..Limits::default()
        })
        .policy(&common::permissive())
        .output()
        .unwrap();
    assert_eq!(
        out.outcome.status,
        Status::Timeout(TimeLimit::Wall),
        "{}",
        stderr(&out)
    );
    // The child was still running (asleep) at the time-out: counted only if what ended it
    // also waited for it.
    let cpu = out.outcome.cpu_time;
    assert!(cpu >= Duration::from_millis(300), "{cpu:?}");
}

/// A Python program whose forked child ptraces it (allowed to by `PR_SET_PTRACER`), says so,
/// burns CPU and never waits for it: the program's death then reaches its tracer, not init.
const TRACED_BY_A_CHILD_THAT_NEVER_WAITS: &str = "import ctypes, os, time
libc = ctypes.CDLL(None, use_errno=True)
r, w = os.pipe()
child = os.fork()
if child == 0:
    os.read(r, 1)
    if libc.ptrace(0x4206, os.getppid(), None, None) != 0:
        print('ptrace failed', ctypes.get_errno(), flush=True)
        os._exit(1)
    print('traced', flush=True)
    while True:
        pass
libc.prctl(0x59616d61, child, 0, 0, 0)
os.write(w, b'x')
time.sleep(100)
";

#[test]
fn a_time_out_ends_the_rest_at_once_even_when_the_programs_death_is_held_back() {
    // ptrace named, so that the prelude's guard does not kill it.
    let policy = common::compiled("default allow;\nallow ptrace;\n");
    let limit = Duration::from_secs(2);
    let out = common::command("/usr/bin/python3")
        .args(["-S", "-c", TRACED_BY_A_CHILD_THAT_NEVER_WAITS])
        .limits(Limits {
            wall_time: Some(limit),
            ..Limits::default()
        })
        .policy(&policy)
        .output()
        .unwrap();
    assert_eq!(
        out.outcome.status,
        Status::Timeout(TimeLimit::Wall),
        "{}",
        stderr(&out)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "traced\n");
    // Init killed the tracer at once and so saw the program die, reaped everything and counted
    // it: the tracer's busy loop, over a second on an idle machine, is in the CPU time. Waiting
    // for the program's death instead would have run out init's grace, and init's death would
    // have left it uncounted (about 2 ms counted, measured).
    let cpu = out.outcome.cpu_time;
    assert!(cpu >= Duration::from_millis(300), "{cpu:?}");
}

/// Init ends the sandbox early on the monitor's request only, which comes on a socket nothing
/// inside holds: signals from inside to init (pid 1), which has no handler for any, change
/// nothing, whether sent by `kill` or queued with a made-up sender of pid 0 (`rt_sigqueueinfo`).
#[test]
fn signals_from_inside_to_init_end_nothing() {
    let out = common::command("/bin/sh")
        .args([
            "-c",
            "for s in USR1 USR2 TERM INT HUP 64; do kill -$s 1; done; sleep 0.1; echo alive",
        ])
        .policy(&common::permissive())
        .output()
        .unwrap();
    assert_eq!(out.outcome.status, Status::Exited(0), "{}", stderr(&out));
    assert_eq!(out.stdout, b"alive\n");
    // siginfo: si_signo, si_errno, si_code (SI_QUEUE, -1), then si_pid 0 and si_uid 0;
    // rt_sigqueueinfo is 129 on x86_64, 138 on aarch64.
    let queued = "import ctypes, os, struct, time
nr = {'x86_64': 129, 'aarch64': 138}[os.uname().machine]
for sig in (10, 15, 64):
    info = ctypes.create_string_buffer(struct.pack('iii', sig, 0, -1) + bytes(116))
    assert ctypes.CDLL(None).syscall(nr, 1, sig, info) == 0
time.sleep(0.1)
print('queued')
";
    let out = common::command("/usr/bin/python3")
        .args(["-S", "-c", queued])
        .policy(&common::permissive())
        .output()
        .unwrap();
    assert_eq!(out.outcome.status, Status::Exited(0), "{}", stderr(&out));
    assert_eq!(out.stdout, b"queued\n");
}

#[test]
fn a_violation_counts_the_cpu_time_spent_before_it() {
    let policy = common::kill_only(&[("socket", 41)]);
    let burn_then_violate = "import socket, time
t = time.process_time()
while time.process_time() - t < 0.3:
    pass
socket.socket()
";
    let out = common::command("/usr/bin/python3")
        .args(["-S", "-c", burn_then_violate])
        .policy(&policy)
        .output()
        .unwrap();
    assert!(
        matches!(out.outcome.status, Status::Violation(_)),
        "{}",
        out.outcome
    );
    let cpu = out.outcome.cpu_time;
    assert!(cpu >= Duration::from_millis(300), "{cpu:?}");
}

/// A poll that times out leaves the program's standard input open: what is written after it
/// still reaches the program.
#[test]
fn a_poll_that_times_out_leaves_stdin_open() {
    use std::io::{Read, Write};
    let mut child = common::command("/bin/sh")
        .args(["-c", "read line; echo got:$line"])
        .stdin(Stdio::Piped)
        .stdout(Stdio::Piped)
        .policy(&common::permissive())
        .spawn()
        .unwrap();
    assert!(child.wait_timeout(Duration::from_millis(50)).is_none());
    child.stdin.as_mut().unwrap().write_all(b"hello\n").unwrap();
    let o = child.wait();
    assert_eq!(o.status, Status::Exited(0));
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert_eq!(out, "got:hello\n");
}

/// A command's run takes its passed descriptors (the host keeps no copy: a pipe's reader sees
/// the end with the sandbox's), and running it again without passing them again is refused,
/// not started without them.
#[test]
fn a_command_run_again_without_its_descriptors_is_refused() {
    use std::io::Read;
    let read_all = |r: std::os::fd::OwnedFd| {
        let mut told = String::new();
        std::fs::File::from(r).read_to_string(&mut told).unwrap();
        told
    };
    let (r, w) = nix::unistd::pipe().unwrap();
    let mut cmd = common::command("/bin/sh");
    cmd.args(["-c", "echo ran >&5"])
        .pass_fd(w, 5)
        .policy(&common::permissive());
    let out = cmd.output().unwrap();
    assert_eq!(out.outcome.status, Status::Exited(0), "{out:?}");
    assert_eq!(read_all(r), "ran\n");
    match cmd.output() {
        Err(sandbox_runtime::SpawnError::DescriptorsUsed(which)) => assert_eq!(which, "pass_fd"),
        other => panic!("a second run without its descriptor: {other:?}"),
    }
    let (r, w) = nix::unistd::pipe().unwrap();
    let out = cmd.pass_fd(w, 5).output().unwrap();
    assert_eq!(out.outcome.status, Status::Exited(0), "{out:?}");
    assert_eq!(read_all(r), "ran\n");
}

#[test]
fn kill_from_the_host() {
    let mut child = common::command("/bin/sleep")
        .arg("10")
        .stdout(Stdio::Null)
        .policy(&common::permissive())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    assert!(child.wait_timeout(Duration::from_millis(10)).is_none());
    child.kill().unwrap();
    let o = child.wait();
    assert_eq!(o.status, Status::Killed);
    assert!(o.wall_time < Duration::from_secs(5));
}

/// A run that fails before its sandbox exists leaves the command its descriptors: fixed, it
/// runs with them.
#[test]
fn a_run_refused_before_the_clone_keeps_the_descriptors() {
    use std::io::Read;
    let (r, w) = nix::unistd::pipe().unwrap();
    let mut cmd = common::command("/bin/sh");
    cmd.args(["-c", "echo ran >&5"])
        .pass_fd(w, 5)
        .current_dir("relative")
        .policy(&common::permissive());
    assert!(cmd.output().is_err());
    let out = cmd.current_dir("/").output().unwrap();
    assert_eq!(out.outcome.status, Status::Exited(0), "{out:?}");
    drop(cmd);
    let mut told = String::new();
    std::fs::File::from(r).read_to_string(&mut told).unwrap();
    assert_eq!(told, "ran\n");
}

/// What can be known wrong before any clone is an error from the spawn itself, naming it.
#[test]
fn an_empty_program_name_or_a_relative_working_directory_is_refused_up_front() {
    let e = sandbox_runtime::SandboxCommand::new("")
        .output()
        .unwrap_err();
    assert!(
        matches!(e, sandbox_runtime::SpawnError::NoProgramName),
        "{e}"
    );
    let e = common::command("/bin/true")
        .current_dir("relative")
        .output()
        .unwrap_err();
    assert!(
        matches!(e, sandbox_runtime::SpawnError::RelativeWorkingDirectory(_)),
        "{e}"
    );
    assert!(e.to_string().contains("`relative`"), "{e}");
}

#[test]
fn missing_bind_source_names_the_path() {
    let out = common::command("/bin/true")
        .mount_ro("/nonexistent-data-dir", "/data")
        .output()
        .unwrap();
    let Status::SetupError(e) = &out.outcome.status else {
        panic!("{}", out.outcome);
    };
    assert_eq!(e.errno, libc::ENOENT);
    assert!(
        e.to_string().starts_with(
            "bind /nonexistent-data-dir read-only at /data: No such file or directory"
        ),
        "{e}"
    );
    assert_eq!(out.outcome.to_json()["status"], "setup_error");
}

/// A bind source that is a symbolic link to nothing is a missing source, named as the caller
/// gave it, not a link where init, which follows none, looks (ELOOP); a loop of links stays
/// ELOOP.
#[test]
fn a_link_to_nothing_as_bind_source_is_a_missing_source() {
    let dir = common::ScratchDir::new("dangling-source");
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(dir.path().join("nothing"), &link).unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    std::os::unix::fs::symlink(&b, &a).unwrap();
    std::os::unix::fs::symlink(&a, &b).unwrap();
    for (source, errno, says) in [
        (&link, libc::ENOENT, "No such file or directory"),
        (&a, libc::ELOOP, "Too many levels of symbolic links"),
    ] {
        let out = common::command("/bin/true")
            .mount_ro(source, "/data")
            .output()
            .unwrap();
        let Status::SetupError(e) = &out.outcome.status else {
            panic!("{}", out.outcome);
        };
        assert_eq!(e.errno, errno, "{e}");
        let expected = format!("bind {} read-only at /data: {says}", source.display());
        assert!(e.to_string().starts_with(&expected), "{e}");
    }
}

#[test]
fn missing_program_is_a_setup_error() {
    let out = common::command("/bin/does-not-exist")
        .policy(&common::permissive())
        .output()
        .unwrap();
    let Status::SetupError(e) = &out.outcome.status else {
        panic!("{}", out.outcome);
    };
    assert_eq!(e.errno, libc::ENOENT);
    assert!(e.step.contains("/bin/does-not-exist"), "{e}");
}

#[test]
fn failed_exec_is_a_setup_error_even_when_write_is_killed() {
    // A directory cannot be executed: execveat fails after the filter is installed, and the
    // report goes through a filter that kills write.
    let policy = common::kill_only(&[("write", 1)]);
    let out = common::command("/usr").policy(&policy).output().unwrap();
    let Status::SetupError(e) = &out.outcome.status else {
        panic!("{}", out.outcome);
    };
    assert_eq!(e.errno, libc::EACCES, "{e}");
    assert!(e.step.starts_with("execute"), "{e}");
    // A directory under a bind that lets programs run: no word about noexec mounts.
    assert!(!e.cause.contains("noexec"), "{e}");
}

/// A program that the sandbox shows through a writable bind cannot run (writable binds are
/// noexec): the set-up error says which entry shows it and what to do.
#[test]
fn a_program_under_a_writable_bind_is_refused_with_the_entry_named() {
    let dir = std::env::temp_dir().join(format!("statuses-noexec-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy("/usr/bin/true", dir.join("true")).unwrap();
    let out = common::command("/w/true")
        .mount_rw(&dir, "/w")
        .policy(&common::permissive())
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let Status::SetupError(e) = &out.outcome.status else {
        panic!("{}", out.outcome);
    };
    assert_eq!(e.errno, libc::EACCES, "{e}");
    assert!(
        e.cause
            .contains(&format!("under `bind {} read-write at /w`", dir.display()))
            && e.cause.contains("noexec"),
        "{e}"
    );
}

#[test]
fn zero_limit_is_an_error_not_a_panic() {
    let r = SandboxCommand::new("/bin/true")
        .limits(Limits {
            open_files: Some(0),
            ..Limits::default()
        })
        .spawn();
    let e = r.unwrap_err();
    assert!(e.to_string().contains("open_files"), "{e}");
}

/// A pids limit above what any Linux can have is refused by name before anything is made
/// (a cgroup takes nothing above it, and the rlimit fallback's message would blame the host).
#[test]
fn a_pids_limit_above_the_kernels_bound_is_refused() {
    for pids in [4 * 1024 * 1024 + 1, u64::MAX - 1] {
        let e = SandboxCommand::new("/bin/true")
            .limits(Limits {
                pids: Some(pids),
                ..Limits::default()
            })
            .spawn()
            .unwrap_err();
        assert!(e.to_string().contains("`pids`"), "{e}");
        assert!(e.to_string().contains("4194304"), "{e}");
    }
}

/// An environment variable's name that `execve` would read differently (empty, or with `=` in
/// it, which would move the split between name and value) is refused before the spawn, by name.
#[test]
fn a_bad_environment_name_is_refused_by_name() {
    for (name, problem) in [("", "is empty"), ("LD_PRELOAD=/x.so X", "contains `=`")] {
        let e = SandboxCommand::new("/bin/true")
            .env(name, "v")
            .spawn()
            .unwrap_err();
        assert!(matches!(e, SpawnError::BadEnvName { .. }), "{e:?}");
        let text = e.to_string();
        assert!(
            text.contains(&format!("{name:?}")) && text.contains(problem),
            "{text}"
        );
    }
}

/// A host name longer than the kernel takes is refused before the spawn, with its length.
#[test]
fn a_host_name_over_64_bytes_is_refused() {
    let e = SandboxCommand::new("/bin/true")
        .hostname("h".repeat(65))
        .spawn()
        .unwrap_err();
    assert!(
        matches!(e, SpawnError::HostnameTooLong { len: 65, .. }),
        "{e:?}"
    );
    let out = common::command("/bin/true")
        .hostname("h".repeat(64))
        .policy(&common::permissive())
        .output()
        .unwrap();
    assert_eq!(out.outcome.status, Status::Exited(0), "{}", out.outcome);
}

/// A bind of a directory with other mounts under it fails in the kernel (it will not leave
/// out mounts it locked): the set-up error says why, not only EINVAL.
#[test]
fn a_bind_of_a_directory_with_mounts_under_it_says_why_it_fails() {
    let out = common::command("/bin/true")
        .mount_ro("/sys", "/s")
        .policy(&common::permissive())
        .output()
        .unwrap();
    let Status::SetupError(e) = &out.outcome.status else {
        panic!("{}", out.outcome);
    };
    assert_eq!(e.errno, libc::EINVAL, "{e}");
    assert!(e.cause.contains("other mounts under it"), "{e}");
}

/// Under an open-files limit that leaves no number for the seccomp listener, the filter's
/// install fails: a set-up error that says so, and the program never runs unfiltered.
#[test]
fn an_open_files_limit_with_no_room_for_the_listener_is_a_setup_error() {
    let out = common::command("/bin/sh")
        .args(["-c", "echo ran"])
        .policy(&common::permissive())
        .limits(Limits {
            open_files: Some(3),
            wall_time: Some(Duration::from_secs(10)),
            ..Limits::default()
        })
        .output()
        .unwrap();
    let Status::SetupError(e) = &out.outcome.status else {
        panic!("{} / {}", out.outcome, stderr(&out));
    };
    assert_eq!(e.errno, libc::EMFILE, "{e}");
    assert!(e.step.contains("seccomp filter"), "{e}");
    assert!(e.cause.contains("open-files limit"), "{e}");
    assert!(out.stdout.is_empty(), "the program ran: {:?}", out.stdout);
}

/// SIGXCPU the program sends itself, long before its CPU limit, is a signal, not a time-out.
#[test]
fn a_sigxcpu_the_program_sends_itself_is_no_time_out() {
    let out = common::command("/bin/sh")
        .args(["-c", "kill -XCPU $$"])
        .limits(Limits {
            cpu_time: Some(Duration::from_secs(1)),
            ..Limits::default()
        })
        .output()
        .unwrap();
    assert_eq!(
        out.outcome.status,
        Status::Signaled(libc::SIGXCPU),
        "{}",
        stderr(&out)
    );
}

/// Children the program forked and reaped burn `each` seconds of CPU apiece, `n` of them (more
/// in all than the program's 1 s limit, which is per process), then the program sends itself
/// `signal`; returns the outcome.
fn after_children_burnt_cpu(n: usize, each: f64, signal: &str) -> sandbox_runtime::Outcome {
    let script = format!(
        "import os, signal, time
def burn():
    t = time.process_time()
    while time.process_time() - t < {each}:
        pass
    os._exit(0)
for _ in range({n}):
    if os.fork() == 0:
        burn()
for _ in range({n}):
    os.wait()
os.kill(os.getpid(), signal.{signal})"
    );
    python_with_a_cpu_limit(&script, None)
}

/// The outcome of Python `script` under a CPU limit of 1 s (and `memory`, if any), with the
/// permissive policy.
fn python_with_a_cpu_limit(script: &str, memory: Option<u64>) -> sandbox_runtime::Outcome {
    python_with_cpu_limit_of(Duration::from_secs(1), script, memory)
}

/// The same under a CPU limit of `cpu`.
fn python_with_cpu_limit_of(
    cpu: Duration,
    script: &str,
    memory: Option<u64>,
) -> sandbox_runtime::Outcome {
    common::command("/usr/bin/python3")
        .args(["-S", "-c", script])
        .limits(Limits {
            cpu_time: Some(cpu),
            memory,
            wall_time: Some(Duration::from_secs(20)),
            ..Limits::default()
        })
        .policy(&common::permissive())
        .output()
        .unwrap()
        .outcome
}

/// A SIGKILL the program sent itself, not its CPU limit's, though the children it reaped used
/// more than its hard limit in all: the limit counts the program's own time, not theirs.
#[test]
fn a_sigkill_after_children_burnt_cpu_is_no_time_out() {
    let out = after_children_burnt_cpu(3, 0.8, "SIGKILL");
    assert_eq!(out.status, Status::Signaled(libc::SIGKILL), "{out}");
    // The sandbox as a whole did go over the limit: the total alone cannot tell.
    assert!(out.cpu_time >= Duration::from_millis(2200), "{out}");
}

/// The same with SIGXCPU, the soft limit's signal, after children used the limit in all.
#[test]
fn a_sigxcpu_after_children_burnt_cpu_is_no_time_out() {
    let out = after_children_burnt_cpu(2, 0.5, "SIGXCPU");
    assert_eq!(out.status, Status::Signaled(libc::SIGXCPU), "{out}");
    assert!(out.cpu_time >= Duration::from_millis(900), "{out}");
}

/// A child runs out of memory (the OOM killer's, under a cgroup; a failed allocation, without
/// one), then the program ignores SIGXCPU and spins to its hard CPU limit: a time-out all the
/// same, whatever else the OOM killer took.
#[test]
fn the_programs_cpu_limit_after_a_childs_oom_kill_is_a_time_out() {
    let script = "import os, signal
if os.fork() == 0:
    b = bytearray(400 * 1024 * 1024)
    b[::4096] = b'x' * len(b[::4096])
    os._exit(0)
os.wait()
signal.signal(signal.SIGXCPU, signal.SIG_IGN)
while True:
    pass";
    let outcome = python_with_a_cpu_limit(script, Some(64 << 20));
    assert_eq!(outcome.status, Status::Timeout(TimeLimit::Cpu), "{outcome}");
    assert!(outcome.wall_time < Duration::from_secs(10), "{outcome}");
}

/// A program and its child burn 0.6 s of CPU each (more than the CPU limit of 1 s in all, not
/// each), then the program runs out of memory: the OOM killer's SIGKILL (where a cgroup holds
/// the memory) or the allocation's failure, never a time-out.
#[test]
fn running_out_of_memory_under_a_cpu_limit_is_no_time_out() {
    let script = "import os, time
child = os.fork()
t = time.process_time()
while time.process_time() - t < 0.6:
    pass
if child == 0:
    os._exit(0)
os.wait()
b = bytearray(400 * 1024 * 1024)
b[::4096] = b'x' * len(b[::4096])";
    let outcome = python_with_a_cpu_limit(script, Some(64 << 20));
    assert_ran_out_of_memory(&outcome);
}

/// That `outcome` is a Python program's end for want of memory: the OOM killer's SIGKILL where
/// a cgroup holds the memory and its OOM killer struck, else the allocation's `MemoryError`.
fn assert_ran_out_of_memory(outcome: &sandbox_runtime::Outcome) {
    let by = outcome.enforced_by("memory");
    if by == Some(sandbox_runtime::Enforcement::Cgroup) && outcome.oom_killed {
        assert_eq!(outcome.status, Status::Signaled(libc::SIGKILL), "{outcome}");
    } else {
        assert_eq!(outcome.status, Status::Exited(1), "{outcome}");
    }
}

/// The program alone burns 2.3 s of a 3 s CPU limit (past half its hard limit of 4 s, short of
/// the soft one), then runs out of memory: the OOM killer's SIGKILL (where a cgroup holds the
/// memory) or the allocation's failure, never a time-out.
#[test]
fn running_out_of_memory_short_of_the_cpu_limit_is_no_time_out() {
    let script = "import time
t = time.process_time()
while time.process_time() - t < 2.3:
    pass
b = bytearray(400 * 1024 * 1024)
b[::4096] = b'x' * len(b[::4096])";
    let outcome = python_with_cpu_limit_of(Duration::from_secs(3), script, Some(64 << 20));
    assert_ran_out_of_memory(&outcome);
    assert!(outcome.cpu_time >= Duration::from_millis(2300), "{outcome}");
}

#[test]
fn cpu_time_limit_times_out() {
    let out = common::command("/bin/sh")
        .args(["-c", "while :; do :; done"])
        .limits(Limits {
            cpu_time: Some(Duration::from_secs(1)),
            wall_time: Some(Duration::from_secs(10)),
            ..Limits::default()
        })
        .output()
        .unwrap();
    assert_eq!(
        out.outcome.status,
        Status::Timeout(TimeLimit::Cpu),
        "{}",
        stderr(&out)
    );
    // The kernel's count, sampled at ticks, may run ahead of the exact one reported.
    assert!(out.outcome.cpu_time >= Duration::from_millis(500));
    assert!(out.outcome.wall_time < Duration::from_secs(5));
}

/// The wall-time limit of a running sandbox can be set from now, later, earlier or away: the
/// monitor waits for the deadline in force, and the outcome reports the limit in force at the
/// end, counted from the start.
#[test]
fn a_running_sandboxs_time_limit_can_be_moved() {
    let sleeper = |limit: Option<Duration>| {
        common::command("/bin/sleep")
            .arg("1")
            .limits(Limits {
                wall_time: limit,
                ..Limits::default()
            })
            .policy(&common::permissive())
            .spawn()
            .unwrap()
    };
    let wall = |o: &sandbox_runtime::Outcome| o.enforced_by("wall_time");
    // Later: a 300 ms limit moved to 3 s from now lets the second's sleep end on its own.
    let mut later = sleeper(Some(Duration::from_millis(300)));
    later.set_time_limit(Some(Duration::from_secs(3)));
    let out = later.wait();
    assert_eq!(out.status, Status::Exited(0), "{out}");
    let kept = out
        .enforced_limits
        .iter()
        .find(|e| e.limit == "wall_time")
        .map(|e| e.value);
    assert!(
        kept.is_some_and(|ms| (3000..4000).contains(&ms)),
        "{kept:?}"
    );
    // Away: no limit is left, nor reported.
    let mut away = sleeper(Some(Duration::from_millis(300)));
    away.set_time_limit(None);
    let out = away.wait();
    assert_eq!(out.status, Status::Exited(0), "{out}");
    assert_eq!(wall(&out), None, "{out}");
    // Earlier, from none, through the handle another thread holds: the monitor, asleep with no
    // deadline, wakes for the new one.
    let mut earlier = sleeper(None);
    let handle = earlier.killer();
    std::thread::spawn(move || handle.set_time_limit(Some(Duration::from_millis(200))));
    let t = Instant::now();
    let out = earlier.wait();
    assert_eq!(out.status, Status::Timeout(TimeLimit::Wall), "{out}");
    assert!(
        t.elapsed() < Duration::from_millis(900),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(
        wall(&out),
        Some(sandbox_runtime::Enforcement::Monitor),
        "{out}"
    );
}
