//! Environment switches that only this crate's tests use, compiled in only with the
//! `test-hooks` feature (which the tests turn on through a dev-dependency on this crate). A
//! build without the feature reads neither variable, so nobody who can set the host's
//! environment can turn a sandbox's protections off.
//!
//! The tests name the variables through these constants, so a test build without the feature
//! fails to compile instead of testing the wrong thing.

/// Present in the host's environment, makes the runtime behave as on a kernel without seccomp
/// user notification or `pidfd_getfd` (before 5.6), so that the fallback can be tested on any
/// kernel. Read once, at the first sandbox.
pub const NO_USER_NOTIF_ENV: &str = "SANDBOX_NO_USER_NOTIF";

/// Set to `1` in the environment of the process that starts the fork server, makes the server
/// kill itself right after cloning its first init, before replying: a launch the server dies
/// during must leave nothing behind.
pub const FORK_SERVER_DIE_AFTER_CLONE_ENV: &str = "SANDBOX_FORK_SERVER_TEST_DIE_AFTER_CLONE";

/// Whether the variable `name` is set in this process's environment.
pub(crate) fn set(name: &str) -> bool {
    std::env::var_os(name).is_some()
}
