//! Init detaches the host root beside the sandboxee's own steps; the program never runs before
//! that is done, however long it takes. Its own binary: the hook that slows the detach down is
//! process-wide.

mod common;

use sandbox_runtime::{test_hooks, Status};
use std::time::Duration;

#[test]
fn the_program_starts_only_once_the_host_root_is_detached() {
    test_hooks::slow_host_root_detach();
    let out = common::command("/bin/cat")
        .arg("/proc/self/mountinfo")
        .policy(&common::permissive())
        .output()
        .unwrap();
    assert_eq!(out.outcome.status, Status::Exited(0), "{}", out.outcome);
    let mountinfo = String::from_utf8(out.stdout).unwrap();
    // Field 5 is the mount point: the new root once; the host root stacked on it would be a
    // second, with the host's own mounts under it.
    let roots = mountinfo
        .lines()
        .filter(|l| l.split(' ').nth(4) == Some("/"))
        .count();
    assert_eq!(roots, 1, "{mountinfo}");
    assert!(
        !mountinfo
            .lines()
            .any(|l| l.split(' ').nth(4) == Some("/sys")),
        "{mountinfo}"
    );
    // The program waited for the slowed detach.
    assert!(
        out.outcome.wall_time >= Duration::from_millis(100),
        "{}",
        out.outcome
    );
}
