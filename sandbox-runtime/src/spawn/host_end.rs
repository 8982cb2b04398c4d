//! The host's end of a sandbox's report socket, which no process the host forks keeps.
//!
//! Init ends the sandbox once every copy of the host's end is closed (see `init::reap`): the
//! host died, or ran another program (the end is close-on-exec), or its monitor unwound. A
//! process the host forked and that has not exec'd would hold a copy on, and with it the
//! sandbox, unwatched and without its limits, until it exits. So each host end is listed here
//! while open, and a `pthread_atfork` child handler replaces every listed end in a forked child
//! with `/dev/null`, keeping the descriptor number taken: the child's copies of the host's
//! objects may still close that number later, and must not close another file that took it.
//!
//! Only forks that run the atfork handlers are covered (glibc's `fork`, which
//! `std::process::Command` uses when it does not `posix_spawn`); `posix_spawn` and `vfork`
//! children exec or exit at once, and the runtime's own raw clones close what they do not need.
//! A fork by another thread while a sandbox is being spawned, between the socket's creation and
//! its listing, may still leave that one child a copy, which then holds the sandbox until the
//! child exits or execs, as every forked child did before.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering};

/// How many host ends can be listed at once. An end that finds no free slot is still used, only
/// not replaced in forked children (the sandbox then waits for them as before).
const SLOTS: usize = 4096;

/// The listed ends; -1 marks a free slot.
static LISTED: [AtomicI32; SLOTS] = [const { AtomicI32::new(-1) }; SLOTS];

/// One past the highest slot ever taken: how far a forked child looks.
static IN_USE: AtomicUsize = AtomicUsize::new(0);

/// Registers the fork handler, once per process. A flag, not a `Once`: a process forked while
/// another thread registers would find a `Once` running for ever and its first spawn would wait
/// on it; here the second caller goes on (a fork before the registration ends is not covered,
/// like one before the listing).
fn prepare() {
    static REGISTERED: AtomicBool = AtomicBool::new(false);
    if REGISTERED.swap(true, Ordering::SeqCst) {
        return;
    }
    // SAFETY: registers a handler that is async-signal-safe (atomic loads, `open`, `dup3`,
    // `close`).
    unsafe { libc::pthread_atfork(None, None, Some(in_forked_child)) };
}

/// Runs in the child of every `fork`: replaces each listed end with `/dev/null`, opened here
/// (so the host holds no descriptor for it, and none the host could have closed since). Only
/// atomic loads and async-signal-safe calls, as a child of a multi-threaded process may run.
extern "C" fn in_forked_child() {
    let in_use = IN_USE.load(Ordering::SeqCst).min(SLOTS);
    let mut null = -1;
    for slot in &LISTED[..in_use] {
        let fd = slot.load(Ordering::SeqCst);
        if fd < 0 {
            continue;
        }
        if null < 0 {
            // SAFETY: a NUL-terminated literal; closed below. A listed end is open in this
            // child (listed before the fork, closed only after it left the list), so the new
            // descriptor never has a listed number.
            null = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
            if null < 0 {
                return; // nothing to put in their place: the child keeps its copies
            }
        }
        // SAFETY: dup3 with integer arguments, both open in this child.
        unsafe { libc::dup3(null, fd, libc::O_CLOEXEC) };
    }
    if null >= 0 {
        // SAFETY: the descriptor opened above, used by nothing else.
        unsafe { libc::close(null) };
    }
}

/// The host's end of a report socket, replaced in the host's forked children while it is open.
pub(crate) struct HostEnd {
    fd: OwnedFd,
    slot: Option<usize>,
}

impl HostEnd {
    /// Lists `fd` so that forked children do not keep it.
    pub(crate) fn new(fd: OwnedFd) -> HostEnd {
        prepare();
        let raw = fd.as_raw_fd();
        let slot = LISTED.iter().position(|s| {
            s.compare_exchange(-1, raw, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
        });
        if let Some(taken) = slot {
            IN_USE.fetch_max(taken + 1, Ordering::SeqCst);
        }
        HostEnd { fd, slot }
    }
}

impl AsFd for HostEnd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for HostEnd {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl Drop for HostEnd {
    fn drop(&mut self) {
        // Off the list before the descriptor closes (with `fd`'s own drop, after this), so
        // that a fork in between never replaces a file that has since taken the number.
        if let Some(slot) = self.slot {
            LISTED[slot].store(-1, Ordering::SeqCst);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::HostEnd;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

    /// A socket pair's two ends.
    fn socket_pair() -> (OwnedFd, OwnedFd) {
        let mut fds = [0; 2];
        // SAFETY: socketpair writes two descriptors into the live array.
        let r = unsafe {
            libc::socketpair(
                libc::AF_UNIX,
                libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
                0,
                fds.as_mut_ptr(),
            )
        };
        assert_eq!(r, 0);
        // SAFETY: both are new descriptors owned by nothing else.
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
    }

    /// Whether `fd`, in this process, is a socket.
    fn is_socket(fd: i32) -> bool {
        // SAFETY: stat is plain old data; zero is a valid value for it.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: fstat fills the live struct.
        unsafe { libc::fstat(fd, &mut st) == 0 && st.st_mode & libc::S_IFMT == libc::S_IFSOCK }
    }

    #[test]
    fn a_forked_child_keeps_no_listed_end_but_keeps_its_number_taken() {
        let (host, _init) = socket_pair();
        let (unlisted, _other) = socket_pair();
        let end = HostEnd::new(host);
        let (listed_fd, unlisted_fd) = (end.as_raw_fd(), unlisted.as_raw_fd());
        // SAFETY: the child makes only async-signal-safe calls (fstat, _exit).
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            let ok = !is_socket(listed_fd) && is_socket(unlisted_fd);
            // SAFETY: fcntl with integer arguments.
            let taken = unsafe { libc::fcntl(listed_fd, libc::F_GETFD) } >= 0;
            // SAFETY: ends the child at once, without running the harness's code.
            unsafe { libc::_exit(if ok && taken { 0 } else { 1 }) };
        }
        let mut status = 0;
        // SAFETY: waits for the child just forked.
        assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
        assert_eq!(
            status, 0,
            "the child kept the listed end, or lost its number, or the other"
        );
        assert!(is_socket(listed_fd), "the host's own end was touched");
    }
}
