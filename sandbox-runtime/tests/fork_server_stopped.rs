//! A fork server that stops answering (here: stopped with SIGSTOP) is given up on after its
//! reply time-out: that launch fails saying so, nothing is left behind, and later sandboxes are
//! cloned directly.

mod common;

use sandbox_runtime::{start_fork_server, Status};
use std::time::{Duration, Instant};

#[test]
fn a_stopped_server_is_given_up_on() {
    let server = start_fork_server().expect("the fork server starts");
    // SAFETY: a signal to our own fork server.
    assert_eq!(
        unsafe { libc::kill(server as libc::pid_t, libc::SIGSTOP) },
        0
    );
    let started = Instant::now();
    let err = common::command("/bin/true").spawn().unwrap_err();
    let waited = started.elapsed();
    assert!(
        err.to_string()
            .contains("fork server ended during the launch"),
        "{err}"
    );
    assert!(
        waited >= Duration::from_secs(9) && waited < Duration::from_secs(30),
        "gave up after {waited:?}"
    );
    // Killed and reaped: not even a zombie is left.
    assert!(!common::process_exists(server));
    let out = common::command("/bin/echo").arg("direct").output().unwrap();
    assert_eq!(out.outcome.status, Status::Exited(0), "{}", out.outcome);
    assert_eq!(out.stdout, b"direct\n");
}
