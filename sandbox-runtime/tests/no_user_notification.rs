//! The fallback for kernels without seccomp user notification (before 5.0) or `pidfd_getfd`
//! (before 5.6), exercised on any kernel through a test hook: the policy's kills
//! stay kernel kills (reported as SIGSYS), errno rules still answer, and the runtime can still
//! exec under a policy that forbids exec, while the program cannot. Every test of this binary
//! runs in that mode.

mod common;

use sandbox_runtime::{Status, TimeLimit};

fn without_user_notification() {
    // Before any sandbox starts in this process, and never undone: every test of this binary
    // wants the same mode, and the runtime decides once.
    sandbox_runtime::test_hooks::simulate_no_user_notification();
}

/// Runs python3 `code` under `policy` and checks the kernel killed it for a forbidden call.
fn killed_by_the_kernel(policy: &sandbox_runtime::Policy, code: &str) {
    let out = common::command("/usr/bin/python3")
        .args(["-S", "-c", code])
        .policy(policy)
        .output()
        .unwrap();
    assert_eq!(
        out.outcome.status,
        Status::Signaled(libc::SIGSYS),
        "{} {}",
        out.outcome,
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_forbidden_call_is_killed_by_the_kernel() {
    without_user_notification();
    let policy = common::kill_only(&[("socket", 41)]);
    killed_by_the_kernel(&policy, "import socket; socket.socket()");
}

#[test]
fn the_runtime_still_execs_under_a_policy_that_forbids_exec() {
    without_user_notification();
    let policy = common::kill_only(&[("execve", 59), ("execveat", 322)]);
    let out = common::command("/bin/echo")
        .arg("started")
        .stdout(sandbox_runtime::Stdio::piped())
        .policy(&policy)
        .output()
        .unwrap();
    assert_eq!(out.outcome.status, Status::Exited(0), "{}", out.outcome);
    assert_eq!(out.stdout, b"started\n");
}

/// The runtime's exec passes by a secret drawn for the sandbox, which the filter itself checks:
/// the public magic grants the program nothing, even with no monitor to answer it.
#[test]
fn the_magic_exec_after_the_start_meets_the_policy() {
    without_user_notification();
    let policy = common::kill_only(&[("execve", 59), ("execveat", 322)]);
    killed_by_the_kernel(&policy, &common::magic_exec_snippet());
}

#[test]
fn errno_rules_still_answer() {
    without_user_notification();
    let policy = common::compiled("default allow;\nerrno(EACCES) socket;\n");
    let code =
        "import socket\ntry:\n    socket.socket()\nexcept PermissionError:\n    print('EACCES')";
    let out = common::command("/usr/bin/python3")
        .args(["-S", "-c", code])
        .stdout(sandbox_runtime::Stdio::piped())
        .policy(&policy)
        .output()
        .unwrap();
    assert_eq!(out.outcome.status, Status::Exited(0), "{}", out.outcome);
    assert_eq!(out.stdout, b"EACCES\n");
}

#[test]
fn learning_says_it_needs_user_notification() {
    without_user_notification();
    let err = common::command("/bin/true")
        .learn()
        .spawn()
        .expect_err("learning cannot work without user notification");
    assert!(err.to_string().contains("user notification"), "{err}");
}

/// Without user notification the monitor does not know the program's pid: a time-out kills
/// init, and with it, at once, everything in the sandbox.
#[test]
fn a_time_out_ends_the_whole_sandbox_at_once() {
    without_user_notification();
    let marker = "1000.4421";
    let out = common::command("/bin/sh")
        .args(["-c", &format!("sleep {marker} & sleep {marker}")])
        .limits(sandbox_runtime::Limits {
            wall_time: Some(std::time::Duration::from_millis(300)),
            ..sandbox_runtime::Limits::default()
        })
        .policy(&common::permissive())
        .stdout(sandbox_runtime::Stdio::Null)
        .stderr(sandbox_runtime::Stdio::Null)
        .status()
        .unwrap();
    assert_eq!(out.status, Status::Timeout(TimeLimit::Wall), "{out}");
    let w = out.wall_time;
    assert!(w < std::time::Duration::from_millis(1000), "{w:?}");
    assert_eq!(
        common::processes_with_argument(marker),
        Vec::<libc::pid_t>::new()
    );
}

/// A sandbox that can be handed host files (here a Unix socket) gets the set-id guard inside
/// its policy's program; without a monitor, that program still lets the runtime exec, refuses
/// set-id modes, and leaves the policy's kills to the kernel.
#[test]
fn the_set_id_guard_holds_in_the_policys_program() {
    without_user_notification();
    let policy = common::compiled("default allow;\nkill socket;\nerrno(EPERM) execve, execveat;\n");
    let code = "import os\n\
        fd = os.memfd_create('probe')\n\
        os.fchmod(fd, 0o755)\n\
        try:\n    os.fchmod(fd, 0o4755)\n    print('set', flush=True)\n\
        except PermissionError:\n    print('EPERM', flush=True)\n\
        import socket\nsocket.socket()\n";
    let (socket, _peer) = std::os::unix::net::UnixStream::pair().unwrap();
    let out = common::command("/usr/bin/python3")
        .args(["-S", "-c", code])
        .pass_fd(socket.into(), 5)
        .stdout(sandbox_runtime::Stdio::piped())
        .policy(&policy)
        .output()
        .unwrap();
    assert_eq!(
        out.outcome.status,
        Status::Signaled(libc::SIGSYS),
        "{}",
        out.outcome
    );
    assert_eq!(out.stdout, b"EPERM\n");
}
