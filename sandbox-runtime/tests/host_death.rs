//! A sandbox ends with its host, and with nothing less. Killed, the host cannot watch it or
//! enforce its limits any more, so its init must not run on. A sandbox from the fork server
//! ends through init's parent-death signal, and the kernel clears that signal when init changes
//! its ids (as host root, from 0 to the sandbox's 65534): init must set it again after. Run
//! unprivileged, the ids do not change on the host and the kernel keeps the signal: the tests
//! pass there either way, and show that defect only as root (as CI runs them first). A sandbox
//! cloned directly watches the host's pidfd instead, since the kernel sends the parent-death
//! signal when the cloning *thread* ends: a sandbox spawned by a worker thread that then retires
//! must run on while the host does. A binary of its own, since each test forks a host.

mod common;

use sandbox_runtime::{start_fork_server, Limits, Status, Stdio, TimeLimit};
use std::io::{Read, Write};
use std::time::{Duration, Instant};

/// The processes of this machine with `tag` in their command line.
fn tagged_process_exists(tag: &str) -> bool {
    !common::processes_with_argument(tag).is_empty()
}

/// The forked host: killed and reaped when dropped, so that a failing test leaves no host
/// behind (its sandbox then ends with it, or is killed by [`sandbox_outlives_its_host`]).
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

/// How the host lets go of its sandbox.
#[derive(Clone, Copy, Debug, PartialEq)]
enum HostEnd {
    /// Killed with SIGKILL.
    Killed,
    /// Runs another program (`execve`): the same process, without the runtime that watched the
    /// sandbox.
    Execs,
    /// Forks a child that runs on without exec'ing (holding copies of the host's descriptors),
    /// then runs another program.
    ExecsBesideAForkedChild,
}

/// Forks a host that starts a sandbox running a shell tagged with `tag` (through a fork server
/// it starts first, if `fork_server`; on a thread that ends right after, if `on_a_thread`),
/// ends that host as `end` says once the sandbox runs, and returns whether anything of the
/// sandbox is still running 5 s later.
fn sandbox_outlives_its_host(
    end: HostEnd,
    fork_server: bool,
    on_a_thread: bool,
    tag: &str,
) -> bool {
    let (mut r, mut w) = common::pipe();
    let (mut go_r, mut go_w) = common::pipe();
    // SAFETY: the child allocates (which glibc's fork makes safe), starts one sandbox, and
    // never returns into the test harness.
    let host = unsafe { libc::fork() };
    assert!(host >= 0);
    if host == 0 {
        drop(r);
        if fork_server {
            start_fork_server().expect("the fork server starts");
        }
        let tag = tag.to_owned();
        let spawn = move || {
            common::command("/bin/sh")
                .args(["-c", "sleep 60; :", &tag])
                .use_fork_server(fork_server)
                .spawn()
        };
        let child = if on_a_thread {
            std::thread::spawn(spawn).join().unwrap()
        } else {
            spawn()
        };
        let _ = w.write_all(if child.is_ok() { b"y" } else { b"n" });
        let mut go = [0u8];
        let execs = matches!(end, HostEnd::Execs | HostEnd::ExecsBesideAForkedChild);
        if execs && go_r.read_exact(&mut go).is_ok() {
            if end == HostEnd::ExecsBesideAForkedChild {
                // SAFETY: the child only sleeps and exits (async-signal-safe calls), outliving
                // the test's wait for the sandbox's end.
                if unsafe { libc::fork() } == 0 {
                    // SAFETY: sleep with an integer argument, async-signal-safe.
                    unsafe { libc::sleep(8) };
                    // SAFETY: ends the child without running anything of the host's.
                    unsafe { libc::_exit(0) };
                }
            }
            let sleep = c"/bin/sleep";
            let argv = [sleep.as_ptr(), c"60".as_ptr(), std::ptr::null()];
            // SAFETY: a NUL-terminated array of NUL-terminated strings that outlive the call.
            unsafe { libc::execv(sleep.as_ptr(), argv.as_ptr()) };
        }
        loop {
            std::thread::sleep(Duration::from_secs(1));
        }
    }
    drop((w, go_r));
    let host = Host(host);
    let mut started = [0u8];
    r.read_exact(&mut started).unwrap();
    assert_eq!(&started, b"y", "the host could not start its sandbox");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !tagged_process_exists(tag) {
        assert!(Instant::now() < deadline, "the sandbox never ran");
        std::thread::sleep(Duration::from_millis(10));
    }
    // Still running while the host is (after its spawning thread ended, if it was on one).
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        tagged_process_exists(tag),
        "the sandbox ended before its host"
    );
    match end {
        HostEnd::Killed => drop(host),
        HostEnd::Execs | HostEnd::ExecsBesideAForkedChild => go_w.write_all(b"g").unwrap(),
    }
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

/// Fails unless the sandbox of a host forked as [`sandbox_outlives_its_host`] says ends with it.
fn assert_ends_with_its_host(end: HostEnd, fork_server: bool, on_a_thread: bool) {
    let pid = std::process::id();
    let tag = format!("host-{end:?}-{fork_server}-{on_a_thread}-{pid}");
    let outlived = sandbox_outlives_its_host(end, fork_server, on_a_thread, &tag);
    let what = match end {
        HostEnd::Killed => "after its host was killed",
        HostEnd::Execs => "unwatched, after its host ran another program",
        HostEnd::ExecsBesideAForkedChild => {
            "unwatched, after its host ran another program beside a child it forked"
        }
    };
    assert!(!outlived, "the sandbox runs on {what}");
}

#[test]
fn a_directly_cloned_sandbox_ends_with_its_killed_host() {
    assert_ends_with_its_host(HostEnd::Killed, false, false);
}

#[test]
fn a_sandbox_cloned_by_a_thread_that_ended_ends_with_its_killed_host() {
    assert_ends_with_its_host(HostEnd::Killed, false, true);
}

/// The thread that spawns a sandbox may end at once (a pool's worker, say); the sandbox runs to
/// its own end, its output and status intact, and is watched all the while: its wall-time limit
/// still ends a second one that would run on.
#[test]
fn a_sandbox_outlives_the_thread_that_spawned_it_but_not_its_limits() {
    let spawn_on_a_thread = |script: &'static str, wall: Duration| {
        std::thread::spawn(move || {
            let mut c = common::command("/bin/sh");
            c.args(["-c", script]).stdout(Stdio::Piped).limits(Limits {
                wall_time: Some(wall),
                ..Limits::default()
            });
            c.spawn().expect("the sandbox starts")
        })
        .join()
        .unwrap()
    };
    let finishing = spawn_on_a_thread("sleep 0.5; echo done; exit 7", Duration::from_secs(30));
    let endless = spawn_on_a_thread("sleep 60", Duration::from_millis(800));
    let out = finishing.wait_with_output();
    assert_eq!(out.outcome.status, Status::Exited(7), "{}", out.outcome);
    assert_eq!(out.stdout, b"done\n");
    let mut endless = endless;
    let outcome = endless.wait();
    assert_eq!(
        outcome.status,
        Status::Timeout(TimeLimit::Wall),
        "{outcome}"
    );
}

#[test]
fn a_sandbox_from_the_fork_server_ends_with_its_killed_host() {
    assert_ends_with_its_host(HostEnd::Killed, true, false);
}

/// A host that runs another program has lost the runtime that watched its sandbox (the monitor
/// thread, the report socket's end): the sandbox ends, though the process lives on.
#[test]
fn a_directly_cloned_sandbox_ends_when_its_host_execs() {
    assert_ends_with_its_host(HostEnd::Execs, false, false);
}

#[test]
fn a_sandbox_from_the_fork_server_ends_when_its_host_execs() {
    assert_ends_with_its_host(HostEnd::Execs, true, false);
}

/// A child the host forked and that runs on without exec'ing holds no copy of the host's end
/// of the report socket, so it does not keep the sandbox running once the host has exec'd.
/// (Through the fork server, init's death signal from the runtime's thread, which the exec
/// ends, covers this too; cloned directly, init has only the report socket's hang-up.)
#[test]
fn a_directly_cloned_sandbox_ends_when_its_host_execs_beside_a_forked_child() {
    assert_ends_with_its_host(HostEnd::ExecsBesideAForkedChild, false, false);
}

#[test]
fn a_sandbox_from_the_fork_server_ends_when_its_host_execs_beside_a_forked_child() {
    assert_ends_with_its_host(HostEnd::ExecsBesideAForkedChild, true, false);
}
