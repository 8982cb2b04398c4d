//! `status()` watches the sandbox from the calling thread, through the fork server or cloned
//! directly: no monitor thread, and the calling thread's timer slack (which the monitor lowers
//! while it watches) as it was. A binary of its own, so that no other test's monitor thread is
//! about while a watcher looks for one.

mod common;

use sandbox_runtime::{start_fork_server, Status};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Whether a thread named like a monitor showed up while `run` ran.
fn monitor_thread_seen_during(run: impl FnOnce()) -> bool {
    let done = Arc::new(AtomicBool::new(false));
    let watcher = {
        let done = Arc::clone(&done);
        std::thread::spawn(move || {
            let mut seen = false;
            while !done.load(Ordering::SeqCst) && !seen {
                seen = std::fs::read_dir("/proc/self/task").unwrap().any(|t| {
                    std::fs::read_to_string(t.unwrap().path().join("comm"))
                        .is_ok_and(|c| c.starts_with("sandbox-monit"))
                });
                std::thread::sleep(Duration::from_millis(1));
            }
            seen
        })
    };
    run();
    done.store(true, Ordering::SeqCst);
    watcher.join().unwrap()
}

fn timer_slack() -> libc::c_int {
    // SAFETY: prctl with integer arguments; reads this thread's own setting.
    unsafe { libc::prctl(libc::PR_GET_TIMERSLACK, 0, 0, 0, 0) }
}

#[test]
fn status_starts_no_monitor_thread() {
    start_fork_server().expect("the fork server starts");
    let sleep = |fork_server: bool| {
        let status = common::command("/bin/sleep")
            .arg("0.2")
            .use_fork_server(fork_server)
            .status()
            .unwrap()
            .status;
        assert_eq!(status, Status::Exited(0));
    };
    for fork_server in [true, false] {
        // SAFETY: prctl with integer arguments; sets this thread's own setting.
        unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 123_456, 0, 0, 0) };
        assert!(
            !monitor_thread_seen_during(|| sleep(fork_server)),
            "fork server: {fork_server}"
        );
        assert_eq!(timer_slack(), 123_456, "fork server: {fork_server}");
    }
    // The watcher does see one where there is one: `spawn()` watches on a thread of its own.
    assert!(monitor_thread_seen_during(|| {
        let mut child = common::command("/bin/sleep")
            .arg("0.2")
            .use_fork_server(false)
            .spawn()
            .unwrap();
        assert_eq!(child.wait().status, Status::Exited(0));
    }));
}
