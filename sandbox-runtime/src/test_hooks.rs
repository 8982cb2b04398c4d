//! Switches that only this crate's tests use, compiled in only with the `test-hooks` feature
//! (which the tests turn on through a dev-dependency on this crate).
//!
//! They are functions the tests call, not environment variables: cargo turns the feature on for
//! every artifact of a command that builds tests (`cargo test`, `cargo bench`), including the
//! `sandbox` binary it leaves in `target/`, and a switch read from the environment would let
//! whoever sets that binary's environment weaken its sandboxes. Nothing outside the tests calls
//! these, so even such a build behaves like any other.

use std::sync::atomic::{AtomicBool, Ordering};

static NO_USER_NOTIF: AtomicBool = AtomicBool::new(false);
static FORK_SERVER_DIE_AFTER_CLONE: AtomicBool = AtomicBool::new(false);
static MONITOR_PANIC: AtomicBool = AtomicBool::new(false);
static SLOW_HOST_ROOT_DETACH: AtomicBool = AtomicBool::new(false);
static LATE_HOST_ROOT_DETACH_WORD: AtomicBool = AtomicBool::new(false);
static MISPREDICT_LISTENER: AtomicBool = AtomicBool::new(false);
static SLOW_INIT_REPORT: AtomicBool = AtomicBool::new(false);
static KEEP_CONTROLLING_TERMINAL: AtomicBool = AtomicBool::new(false);
static FAIL_CLOSING_USER_NAMESPACES: AtomicBool = AtomicBool::new(false);

/// From the next sandbox on, behave as on a kernel without seccomp user notification or
/// `pidfd_getfd` (before 5.6), so that the fallback can be tested on any kernel. Call it before
/// the first sandbox: the runtime decides once.
pub fn simulate_no_user_notification() {
    NO_USER_NOTIF.store(true, Ordering::SeqCst);
}

/// Makes a fork server started after this call kill itself right after cloning its first init,
/// before replying: a launch the server dies during must leave nothing behind.
pub fn fork_server_die_after_clone() {
    FORK_SERVER_DIE_AFTER_CLONE.store(true, Ordering::SeqCst);
}

/// Makes the next monitor to see its sandbox's program exec'd panic: a monitor that unwinds
/// must not leave the sandbox running unwatched.
pub fn monitor_panics_once() {
    MONITOR_PANIC.store(true, Ordering::SeqCst);
}

/// Whether [`monitor_panics_once`] was called since the last time this said so. A plain load
/// first: the monitor asks on every wake-up after the exec, in every build with the feature
/// (the benchmarks' too), and a swap is a locked write each time.
pub(crate) fn take_monitor_panic() -> bool {
    MONITOR_PANIC.load(Ordering::Relaxed) && MONITOR_PANIC.swap(false, Ordering::SeqCst)
}

/// Makes each init cloned after this call wait a tenth of a second before it detaches the host
/// root beside the sandboxee's steps: the program must still never run before the detach.
pub fn slow_host_root_detach() {
    SLOW_HOST_ROOT_DETACH.store(true, Ordering::SeqCst);
}

/// Makes each init cloned after this call hold back for a second its word that its detach of the
/// host root has returned: the sandboxee sees the detach done for itself, and its program must
/// not wait for that word.
pub fn late_host_root_detach_word() {
    LATE_HOST_ROOT_DETACH_WORD.store(true, Ordering::SeqCst);
}

/// Whether [`late_host_root_detach_word`] was called.
pub(crate) fn late_detach_word() -> bool {
    LATE_HOST_ROOT_DETACH_WORD.load(Ordering::SeqCst)
}

/// Makes each sandboxee cloned after this call tell the monitor a wrong number for its seccomp
/// listener (one above the right one): a wrong prediction must end the start with an error
/// that names it, not leave the monitor looking for the listener until its grace runs out.
pub fn mispredict_listener() {
    MISPREDICT_LISTENER.store(true, Ordering::SeqCst);
}

/// Whether [`mispredict_listener`] was called.
pub(crate) fn mispredicts_listener() -> bool {
    MISPREDICT_LISTENER.load(Ordering::SeqCst)
}

/// Makes each init cloned after this call wait three seconds before it reports the end of its
/// sandbox: after a time-out, the monitor must kill it once its grace runs out rather than
/// wait for the report.
pub fn slow_init_report() {
    SLOW_INIT_REPORT.store(true, Ordering::SeqCst);
}

/// Whether [`slow_init_report`] was called.
pub(crate) fn slow_report() -> bool {
    SLOW_INIT_REPORT.load(Ordering::SeqCst)
}

/// Whether [`slow_host_root_detach`] was called.
pub(crate) fn slow_detach() -> bool {
    SLOW_HOST_ROOT_DETACH.load(Ordering::SeqCst)
}

/// Whether [`simulate_no_user_notification`] was called.
pub(crate) fn no_user_notification() -> bool {
    NO_USER_NOTIF.load(Ordering::SeqCst)
}

/// Whether [`fork_server_die_after_clone`] was called.
pub(crate) fn die_after_clone() -> bool {
    FORK_SERVER_DIE_AFTER_CLONE.load(Ordering::SeqCst)
}

/// Makes each init cloned after this call (a fork server's too, when called before the server
/// starts) keep the host's controlling terminal rather than give it up, as where `/dev/tty`
/// cannot be opened: the sandboxee must then leave it by a session of its own.
pub fn keep_controlling_terminal() {
    KEEP_CONTROLLING_TERMINAL.store(true, Ordering::SeqCst);
}

/// Whether [`keep_controlling_terminal`] was called.
pub(crate) fn keeps_controlling_terminal() -> bool {
    KEEP_CONTROLLING_TERMINAL.load(Ordering::SeqCst)
}

/// Makes each init cloned after this call (a fork server's too, when called before the server
/// starts) fail to close user namespaces, as on a host without `/proc/sys/user`: a sandbox that
/// does not allow them must then not start.
pub fn fail_closing_user_namespaces() {
    FAIL_CLOSING_USER_NAMESPACES.store(true, Ordering::SeqCst);
}

/// Whether [`fail_closing_user_namespaces`] was called.
pub(crate) fn fails_closing_user_namespaces() -> bool {
    FAIL_CLOSING_USER_NAMESPACES.load(Ordering::SeqCst)
}
