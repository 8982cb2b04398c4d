//! The sandboxee sees for itself when init's detach of the host root has taken it out of reach,
//! without waiting for init's call to return (which then waits out the kernel's grace period).
//! Its own binary: the hook that holds init's word back is process-wide.

mod common;

use sandbox_runtime::{test_hooks, Status};

#[test]
fn the_program_does_not_wait_for_the_detach_to_return() {
    test_hooks::late_host_root_detach_word();
    // How long after init's start (in clock ticks, field 22 of its stat) the program runs, and
    // the mount table, both as the program sees them.
    let script = format!("{}; cat /proc/self/mountinfo", common::INIT_START_SNIPPET);
    let mut cmd = common::command("/bin/sh");
    cmd.args(["-c", &script]);
    let out = cmd.policy(&common::permissive()).output().unwrap();
    assert_eq!(out.outcome.status, Status::Exited(0), "{}", out.outcome);
    let text = String::from_utf8(out.stdout).unwrap();
    let (times, mountinfo) = text.split_once('\n').unwrap();
    // The host root is gone all the same: one mount at `/`, and none of the host's under it.
    assert_eq!(common::mounts_at(mountinfo, "/"), 1, "{mountinfo}");
    assert_eq!(common::mounts_at(mountinfo, "/sys"), 0, "{mountinfo}");
    // Init holds its word back for a second after the detach: a sandboxee that waited for it
    // would run the program that much after init's start.
    let since_init = common::seconds_since_init_started(times);
    assert!(
        since_init < 0.5,
        "the program ran {since_init} s after init started"
    );
}
