//! A monitor that unwinds on the caller's thread (`status()` through the fork server) must not
//! leave its sandbox running unwatched. A binary of its own: the panic is a process-wide test
//! hook, which another test's sandbox could take.

mod common;

use sandbox_runtime::{start_fork_server, test_hooks};
use std::time::{Duration, Instant};

/// Whether a process of this host has `tag` in its command line.
fn tagged_process_exists(tag: &str) -> bool {
    std::fs::read_dir("/proc").unwrap().flatten().any(|e| {
        std::fs::read(e.path().join("cmdline"))
            .is_ok_and(|c| c.split(|b| *b == 0).any(|arg| arg == tag.as_bytes()))
    })
}

/// Zombie children of this process (an init nobody reaped).
fn zombie_children() -> usize {
    let me = std::process::id().to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path().join("status")).ok())
        .filter(|s| {
            let field = |name: &str| s.lines().find_map(|l| l.strip_prefix(name)).map(str::trim);
            field("PPid:") == Some(me.as_str())
                && field("State:").is_some_and(|v| v.starts_with('Z'))
        })
        .count()
}

#[test]
fn a_monitor_that_panics_on_the_callers_thread_ends_its_sandbox() {
    start_fork_server().expect("the fork server starts");
    let tag = format!("unwind-tag-{}", std::process::id());
    test_hooks::monitor_panics_once();
    let result = std::panic::catch_unwind(|| {
        // `; :` keeps the shell (and its tagged command line) alive beside `sleep`.
        common::command("/bin/sh")
            .args(["-c", "sleep 30; :", &tag])
            .policy(&common::permissive())
            .status()
    });
    assert!(result.is_err(), "the hook did not make the monitor panic");
    let deadline = Instant::now() + Duration::from_secs(5);
    while tagged_process_exists(&tag) {
        assert!(
            Instant::now() < deadline,
            "the sandbox runs on after its monitor unwound"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(zombie_children(), 0, "an init was left unreaped");
}
