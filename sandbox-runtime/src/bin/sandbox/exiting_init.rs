//! The sandbox's init, which may still be exiting when the outcome comes (see
//! `SandboxCommand::status`): the command waits for it before it exits, so that it leaves no
//! orphan for its parent's reaper (a container whose first process reaps nothing would keep
//! one per run). Only that init is waited for: a command exec'd by a process that had children
//! inherits them, and must not wait for those.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::OnceLock;

/// The init of the one sandbox this command runs, once it is started.
static INIT: OnceLock<Init> = OnceLock::new();

/// Init's pid, and a pidfd of it taken while it was an unreaped child, so that no other process
/// can have its number (`None` before Linux 5.3).
struct Init {
    pid: libc::pid_t,
    pidfd: Option<OwnedFd>,
}

/// Remembers the sandbox's init, `pid` (the started child's id), for [`wait`].
pub fn remember(pid: u32) {
    let pid = pid as libc::pid_t;
    // SAFETY: pidfd_open with integer arguments.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    // SAFETY: fd, when valid, is a new descriptor, ours alone.
    let pidfd = (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd as libc::c_int) });
    let _ = INIT.set(Init { pid, pidfd });
}

/// Waits until the remembered init has been reaped, here or by the runtime's own thread
/// (whichever comes first; the other then finds it gone). Returns at once if none was started.
pub fn wait() {
    let Some(init) = INIT.get() else {
        return;
    };
    if let Some(fd) = &init.pidfd {
        loop {
            // SAFETY: siginfo_t is plain old data; zero is a valid value for it.
            let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
            // SAFETY: a live pidfd of ours and a live siginfo_t.
            let r = unsafe {
                libc::waitid(
                    libc::P_PIDFD,
                    fd.as_raw_fd() as libc::id_t,
                    &mut info,
                    libc::WEXITED | libc::__WALL,
                )
            };
            match std::io::Error::last_os_error().raw_os_error() {
                _ if r == 0 => return,
                Some(libc::EINTR) => continue,
                Some(libc::EINVAL) => break, // no P_PIDFD (Linux 5.3): by the pid
                _ => return,                 // ECHILD: reaped already
            }
        }
    }
    wait_pid(init.pid);
}

/// Waits for child `pid` (gone already: ECHILD), retrying when a signal interrupts the wait.
fn wait_pid(pid: libc::pid_t) {
    // SAFETY: no status or rusage asked for.
    while unsafe {
        libc::wait4(
            pid,
            std::ptr::null_mut(),
            libc::__WALL,
            std::ptr::null_mut(),
        )
    } < 0
        && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR)
    {}
}
