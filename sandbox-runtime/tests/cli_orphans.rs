//! The `sandbox` command leaves nothing for its parent to reap: the sandbox's init may still be
//! exiting when the outcome comes, and the command waits for it before it exits.
//!
//! This process makes itself the reaper of its descendants' orphans, so it is the only test of
//! its binary.

mod cli_common;

use cli_common::{sandbox, ScratchDir};

#[test]
fn run_leaves_no_orphan_to_its_parents_reaper() {
    // SAFETY: prctl with integer arguments.
    let r = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    assert_eq!(r, 0, "{}", std::io::Error::last_os_error());
    let s = ScratchDir::new("orphans");
    let policy = s.write(
        "true.policy",
        "default kill;\nuse dynamic_startup, malloc, exit;\n",
    );
    for i in 0..20 {
        let out = sandbox()
            .args(["run", "--policy", &policy, "--", "/bin/true"])
            .output()
            .expect("run sandbox");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // An orphan of the command became this process's child as the command exited, before
        // `output` could reap the command.
        // SAFETY: no status or rusage asked for.
        let r = unsafe {
            libc::wait4(
                -1,
                std::ptr::null_mut(),
                libc::WNOHANG | libc::__WALL,
                std::ptr::null_mut(),
            )
        };
        let errno = std::io::Error::last_os_error().raw_os_error();
        assert!(
            r < 0 && errno == Some(libc::ECHILD),
            "run {i}: the command left a process to its parent ({r})"
        );
    }
}
