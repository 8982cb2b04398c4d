//! Telling the process that set something up from a process forked from it, whatever its pid.
//!
//! A process the host forks (with `fork`, or any fork-like clone) gets a copy of the runtime's
//! state: the fork server's channel, a network namespace made ahead. Its pid differs from the
//! host's, except where pid namespaces make them equal: a host that is pid 1 of its namespace
//! (a container's entry point) whose child makes a pid namespace of its own and forks again has
//! a grandchild that is pid 1 too. A byte of a page mapped `MADV_WIPEONFORK` tells them apart:
//! the kernel gives every fork-like child that page zeroed.

use std::sync::atomic::{AtomicU8, Ordering};

/// The process that made this, as opposed to any process forked from it.
pub(crate) struct ThisProcess {
    pid: libc::pid_t,
    /// 1 here, 0 in a forked process: a byte of a page mapped `MADV_WIPEONFORK`. `None` where
    /// the kernel has no such pages (before Linux 4.14): the pid alone tells then.
    mark: Option<&'static AtomicU8>,
}

const PAGE: usize = 4096;

impl ThisProcess {
    /// Marks the calling process (one page, mapped for the rest of its life).
    pub(crate) fn mark() -> ThisProcess {
        ThisProcess {
            // SAFETY: getpid has no arguments and cannot fail.
            pid: unsafe { libc::getpid() },
            mark: wiped_on_fork(),
        }
    }

    /// Whether the caller is the marked process, not one forked from it.
    pub(crate) fn is_current(&self) -> bool {
        // SAFETY: getpid has no arguments and cannot fail.
        let pid = unsafe { libc::getpid() };
        pid == self.pid && self.mark.is_none_or(|m| m.load(Ordering::Relaxed) == 1)
    }
}

/// A byte set to 1 in a new page mapped `MADV_WIPEONFORK`; `None` if the kernel refuses.
fn wiped_on_fork() -> Option<&'static AtomicU8> {
    // SAFETY: a new private anonymous page, no address asked for.
    let page = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            PAGE,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if page == libc::MAP_FAILED {
        return None;
    }
    // SAFETY: the page just mapped; madvise only changes what a fork copies of it.
    if unsafe { libc::madvise(page, PAGE, libc::MADV_WIPEONFORK) } != 0 {
        // SAFETY: the page just mapped, used by nothing.
        unsafe { libc::munmap(page, PAGE) };
        return None;
    }
    // SAFETY: the page stays mapped for the rest of the process's life, zeroed, aligned, and
    // used only as this one atomic byte.
    let mark: &'static AtomicU8 = unsafe { &*page.cast::<AtomicU8>() };
    mark.store(1, Ordering::Relaxed);
    Some(mark)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// In a forked child the mark reads 0, so the child is told apart even where its pid could
    /// equal the parent's (checked here by giving the child's own pid to a copy of the mark).
    #[test]
    fn a_forked_process_sees_the_mark_wiped() {
        let here = ThisProcess::mark();
        assert!(
            here.mark.is_some(),
            "this kernel maps no MADV_WIPEONFORK pages"
        );
        assert!(here.is_current());
        // SAFETY: the child only reads memory, calls getpid and leaves with _exit.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            let same_pid = ThisProcess {
                // SAFETY: getpid has no arguments and cannot fail.
                pid: unsafe { libc::getpid() },
                mark: here.mark,
            };
            let told = !here.is_current() && !same_pid.is_current();
            // SAFETY: ends the child without running anything of the parent's.
            unsafe { libc::_exit(i32::from(!told)) };
        }
        assert!(pid > 0, "fork: {}", std::io::Error::last_os_error());
        let mut status = 0;
        // SAFETY: waits for our own child, writing its status to a live int.
        assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
        assert!(libc::WIFEXITED(status), "{status:#x}");
        assert_eq!(
            libc::WEXITSTATUS(status),
            0,
            "the forked child passed as the parent"
        );
        assert!(here.is_current(), "the parent's mark changed");
    }
}
