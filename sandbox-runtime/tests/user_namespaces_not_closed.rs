//! Where init cannot close user namespaces in the sandbox (no `/proc/sys/user`, a read-only
//! `/proc/sys`, a security module refusing the write; here the `fail_closing_user_namespaces`
//! hook), a sandbox that does not allow them does not start, and says why; one that allows them
//! starts. Direct clones and the fork server alike.

mod common;

use sandbox_runtime::Status;

/// How `/bin/true` ends in a sandbox allowing user namespaces or not.
fn run(allow: bool, served: bool) -> Status {
    common::command("/bin/true")
        .allow_user_namespaces(allow)
        .use_fork_server(served)
        .output()
        .expect("the spawn itself succeeds; a failed step is reported as the outcome")
        .outcome
        .status
}

#[test]
fn a_sandbox_whose_user_namespaces_cannot_be_closed_does_not_start() {
    sandbox_runtime::test_hooks::fail_closing_user_namespaces();
    for served in [false, true] {
        if served {
            sandbox_runtime::start_fork_server().expect("the fork server runs");
        }
        match run(false, served) {
            Status::SetupError(e) => {
                assert!(
                    e.step.contains("close user namespaces"),
                    "served: {served}: {e}"
                );
                assert_eq!(e.errno, libc::ENOENT, "served: {served}: {e}");
            }
            s => panic!("served: {served}: started anyway: {s:?}"),
        }
        assert_eq!(run(true, served), Status::Exited(0), "served: {served}");
    }
}
