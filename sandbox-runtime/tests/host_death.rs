//! A sandbox ends with its host: killed, the host cannot watch it or enforce its limits any
//! more, so its init must not run on. Init's parent-death signal is what ends it, and the
//! kernel clears that signal when init changes its ids (as host root, from 0 to the sandbox's
//! 65534): init must set it again after. A binary of its own, since each test forks a host.
//! Run unprivileged, the ids do not change on the host and the kernel keeps the signal: the
//! tests pass there either way, and show the defect only as root (as CI runs them first).

mod common;

use sandbox_runtime::start_fork_server;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

/// The processes of this machine with `tag` in their command line.
fn tagged_process_exists(tag: &str) -> bool {
    !common::processes_with_argument(tag).is_empty()
}

/// The forked host: killed and reaped when dropped, so that a failing test leaves no host
/// behind (its sandbox then ends with it, or is killed by [`sandbox_outlives_a_killed_host`]).
struct Host(libc::pid_t);

impl Drop for Host {
    fn drop(&mut self) {
        let mut status = 0;
        // SAFETY: our child, not reaped yet (an error is harmless if it was).
        unsafe {
            libc::kill(self.0, libc::SIGKILL);
            libc::waitpid(self.0, &mut status, 0);
        }
    }
}

/// Forks a host that starts a sandbox running a shell tagged with `tag` (through a fork server
/// it starts first, if `fork_server`), kills that host once the sandbox runs, and returns
/// whether anything of the sandbox is still running 5 s later.
fn sandbox_outlives_a_killed_host(fork_server: bool, tag: &str) -> bool {
    let (mut r, mut w) = common::pipe();
    // SAFETY: the child allocates (which glibc's fork makes safe), starts one sandbox, and
    // never returns into the test harness.
    let host = unsafe { libc::fork() };
    assert!(host >= 0);
    if host == 0 {
        drop(r);
        if fork_server {
            start_fork_server().expect("the fork server starts");
        }
        let child = common::command("/bin/sh")
            .args(["-c", "sleep 60; :", tag])
            .use_fork_server(fork_server)
            .spawn();
        let _ = w.write_all(if child.is_ok() { b"y" } else { b"n" });
        loop {
            std::thread::sleep(Duration::from_secs(1));
        }
    }
    drop(w);
    let host = Host(host);
    let mut started = [0u8];
    r.read_exact(&mut started).unwrap();
    assert_eq!(&started, b"y", "the host could not start its sandbox");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !tagged_process_exists(tag) {
        assert!(Instant::now() < deadline, "the sandbox never ran");
        std::thread::sleep(Duration::from_millis(10));
    }
    drop(host);
    let deadline = Instant::now() + Duration::from_secs(5);
    while tagged_process_exists(tag) {
        if Instant::now() > deadline {
            // Ended here, so that the failing test leaves nothing running.
            for pid in common::processes_with_argument(tag) {
                // SAFETY: kill with integer arguments.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

#[test]
fn a_directly_cloned_sandbox_ends_with_its_killed_host() {
    let tag = format!("host-death-direct-{}", std::process::id());
    let outlived = sandbox_outlives_a_killed_host(false, &tag);
    assert!(!outlived, "the sandbox runs on after its host was killed");
}

#[test]
fn a_sandbox_from_the_fork_server_ends_with_its_killed_host() {
    let tag = format!("host-death-server-{}", std::process::id());
    let outlived = sandbox_outlives_a_killed_host(true, &tag);
    assert!(!outlived, "the sandbox runs on after its host was killed");
}
