//! A running sandbox's wall-time deadline, which the monitor keeps and the host may move while
//! the sandbox runs ([`crate::SandboxChild::set_time_limit`]): set, moved later or earlier, or
//! taken away. Moving it wakes the monitor, which then waits for the new one.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// No deadline (or one too far off to count).
const NONE: u64 = u64::MAX;

/// The deadline, as nanoseconds after the sandbox's start, and the eventfd that wakes the
/// monitor when it moves.
#[derive(Debug)]
pub(crate) struct Deadline {
    start: Instant,
    after_start_ns: AtomicU64,
    wake: OwnedFd,
}

impl Deadline {
    /// The deadline `limit` after `start`, or none.
    pub(crate) fn new(start: Instant, limit: Option<Duration>) -> io::Result<Deadline> {
        // SAFETY: eventfd with integer flags; the result is checked before use.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Deadline {
            start,
            after_start_ns: AtomicU64::new(nanos(limit)),
            // SAFETY: eventfd just returned this descriptor and nothing else owns it.
            wake: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    /// When the sandbox times out, if it does.
    pub(crate) fn at(&self) -> Option<Instant> {
        match self.after_start_ns.load(Ordering::SeqCst) {
            NONE => None,
            ns => self.start.checked_add(Duration::from_nanos(ns)),
        }
    }

    /// The limit in force, counted from the sandbox's start.
    pub(crate) fn limit(&self) -> Option<Duration> {
        match self.after_start_ns.load(Ordering::SeqCst) {
            NONE => None,
            ns => Some(Duration::from_nanos(ns)),
        }
    }

    /// Sets the deadline `limit` from now (none for `None`) and wakes the monitor.
    pub(crate) fn set_from_now(&self, limit: Option<Duration>) {
        let from_start = limit.and_then(|l| self.start.elapsed().checked_add(l));
        self.after_start_ns
            .store(nanos(from_start), Ordering::SeqCst);
        // SAFETY: writes 8 bytes from a live local to our eventfd. It cannot fail short of the
        // counter's overflow, which a wake-up already pending makes harmless.
        unsafe { libc::write(self.wake.as_raw_fd(), (&1u64 as *const u64).cast(), 8) };
    }

    /// The descriptor the monitor polls: readable once the deadline moved.
    pub(crate) fn wake_fd(&self) -> RawFd {
        self.wake.as_raw_fd()
    }

    /// Takes the wake-up, once the monitor has seen it.
    pub(crate) fn take_wake_up(&self) {
        let mut count = 0u64;
        // SAFETY: reads 8 bytes into a live local from our non-blocking eventfd.
        unsafe { libc::read(self.wake.as_raw_fd(), (&mut count as *mut u64).cast(), 8) };
    }
}

/// A duration in nanoseconds, [`NONE`] for none or one that does not fit.
fn nanos(d: Option<Duration>) -> u64 {
    d.and_then(|d| u64::try_from(d.as_nanos()).ok())
        .filter(|n| *n != NONE)
        .unwrap_or(NONE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_moved_deadline_counts_from_the_move_and_wakes_the_poller() {
        let start = Instant::now() - Duration::from_secs(5);
        let d = Deadline::new(start, Some(Duration::from_secs(1))).unwrap();
        assert_eq!(d.at(), Some(start + Duration::from_secs(1)));
        assert_eq!(crate::monitor::poll_one(d.wake_fd(), 0), 0);
        d.set_from_now(Some(Duration::from_secs(2)));
        let limit = d.limit().unwrap();
        assert!(
            limit >= Duration::from_secs(7) && limit < Duration::from_secs(8),
            "{limit:?}"
        );
        assert_ne!(crate::monitor::poll_one(d.wake_fd(), 0), 0);
        d.take_wake_up();
        assert_eq!(crate::monitor::poll_one(d.wake_fd(), 0), 0);
        d.set_from_now(None);
        assert_eq!((d.at(), d.limit()), (None, None));
        // Too far off to count is none, not a deadline that wraps around.
        d.set_from_now(Some(Duration::MAX));
        assert_eq!(d.at(), None);
    }
}
