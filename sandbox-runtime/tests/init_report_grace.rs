//! After a time-out the monitor kills the program and waits for init's report, but only for a
//! while: an init that does not report in time is killed, and the outcome comes anyway, with
//! nothing of the sandbox left.

mod common;

use sandbox_runtime::{test_hooks, Limits, Status, TimeLimit};
use std::time::Duration;

#[test]
fn an_init_that_does_not_report_in_time_is_killed() {
    // Every init of this binary (its only test) waits three seconds before its report.
    test_hooks::slow_init_report();
    let marker = "1000.6113";
    let out = common::command("/bin/sh")
        .args(["-c", &format!("sleep {marker} & sleep {marker}")])
        .limits(Limits {
            wall_time: Some(Duration::from_millis(300)),
            ..Limits::default()
        })
        .policy(&common::permissive())
        .use_fork_server(false)
        .status()
        .unwrap();
    assert_eq!(out.status, Status::Timeout(TimeLimit::Wall), "{out}");
    // The limit, the grace (250 ms) and slack for a loaded machine, well short of the time-out
    // plus init's three seconds.
    let w = out.wall_time;
    assert!(w >= Duration::from_millis(300), "{w:?}");
    assert!(w < Duration::from_secs(2), "{w:?}");
    assert_eq!(
        common::processes_with_argument(marker),
        Vec::<libc::pid_t>::new()
    );
    assert_eq!(common::children_once_reaped(), Vec::<String>::new());
}
