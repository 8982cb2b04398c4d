//! Init detaches the host root beside the sandboxee's own steps; the program never runs before
//! that is done, however long it takes. Its own binary: the hook that slows the detach down is
//! process-wide.

mod common;

use sandbox_runtime::{test_hooks, SandboxCommand, SandboxOutput, Status};
use std::time::Duration;

#[test]
fn the_program_starts_only_once_the_host_root_is_detached() {
    // The mount table, then how long after init's start (in clock ticks, field 22 of its stat)
    // the program runs, both as the program sees them.
    let script = format!(
        "cat /proc/self/mountinfo; echo --; {}",
        common::INIT_START_SNIPPET
    );
    let mut cmd = common::command("/bin/sh");
    cmd.args(["-c", &script]);
    let out = run_with_a_slow_detach(cmd);
    let text = String::from_utf8(out.stdout).unwrap();
    let (mountinfo, times) = text.split_once("--\n").unwrap();
    // Field 5 is the mount point: the new root once; the host root stacked on it would be a
    // second, with the host's own mounts under it.
    let roots = common::mounts_at(mountinfo, "/");
    assert_eq!(roots, 1, "{mountinfo}");
    assert_eq!(common::mounts_at(mountinfo, "/sys"), 0, "{mountinfo}");
    // The run took the slowed detach's time; init sleeps it itself, so this alone holds
    // whatever the sandboxee does.
    assert!(
        out.outcome.wall_time >= Duration::from_millis(100),
        "{}",
        out.outcome
    );
    // The program itself ran only after it: a sandboxee that did not wait would exec within
    // milliseconds of init's start.
    let since_init = common::seconds_since_init_started(times);
    assert!(
        since_init >= 0.09,
        "the program ran {since_init} s after init started"
    );
}

/// `..` from the new root steps onto what is mounted on it: the host root, until init detaches
/// it. The sandboxee looks no path up before that, its working directory included.
#[test]
fn a_working_directory_above_the_root_is_the_new_root() {
    let mut cmd = common::command("/bin/sh");
    cmd.args(["-c", "ls -a .; echo --; ls -a /"])
        .current_dir("/..");
    let out = run_with_a_slow_detach(cmd);
    let text = String::from_utf8(out.stdout).unwrap();
    let (here, root) = text.split_once("--\n").unwrap();
    assert_eq!(
        here, root,
        "the working directory is not the sandbox's root"
    );
}

/// Runs `cmd` under a permissive policy with init's detach of the host root slowed down, and
/// checks that the program exited 0.
fn run_with_a_slow_detach(mut cmd: SandboxCommand) -> SandboxOutput {
    test_hooks::slow_host_root_detach();
    let out = cmd.policy(&common::permissive()).output().unwrap();
    assert_eq!(out.outcome.status, Status::Exited(0), "{}", out.outcome);
    out
}
