//! A running sandbox's wall-time deadline, which the monitor keeps and the host may move while
//! the sandbox runs ([`crate::SandboxChild::set_time_limit`]): set, moved later or earlier, or
//! taken away. Moving it wakes the monitor, which then waits for the new one. Once the deadline
//! has passed, or the sandbox has ended, the monitor freezes it: the limit the outcome reports is
//! the one in force then, whatever the host sets afterwards.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The bit that marks the deadline frozen.
const FROZEN: u64 = 1 << 63;

/// No deadline.
const NONE: u64 = FROZEN - 1;

/// The longest limit a deadline holds, in nanoseconds (some 292 years): what
/// [`crate::Limits::validate`] lets through.
pub(crate) const MOST_NANOS: u64 = NONE - 1;

/// The deadline, as nanoseconds after the sandbox's start (with [`FROZEN`] set once it may no
/// longer move), and the eventfd that wakes the monitor when it moves.
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

    /// The sandbox's start, which the deadline and the outcome's wall time count from.
    pub(crate) fn start(&self) -> Instant {
        self.start
    }

    /// When the sandbox times out, if it does.
    pub(crate) fn at(&self) -> Option<Instant> {
        self.limit().and_then(|l| self.start.checked_add(l))
    }

    /// The limit in force, counted from the sandbox's start.
    pub(crate) fn limit(&self) -> Option<Duration> {
        match self.after_start_ns.load(Ordering::SeqCst) & !FROZEN {
            NONE => None,
            ns => Some(Duration::from_nanos(ns)),
        }
    }

    /// Sets the deadline `limit` from now (none for `None`, or for one too far off to hold) and
    /// wakes the monitor; nothing once the deadline is frozen.
    pub(crate) fn set_from_now(&self, limit: Option<Duration>) {
        let from_start = limit.and_then(|l| self.start.elapsed().checked_add(l));
        let set = self
            .after_start_ns
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |now| {
                (now & FROZEN == 0).then(|| nanos(from_start))
            });
        if set.is_err() {
            return;
        }
        // SAFETY: writes 8 bytes from a live local to our eventfd. It cannot fail short of the
        // counter's overflow, which a wake-up already pending makes harmless.
        unsafe { libc::write(self.wake.as_raw_fd(), (&1u64 as *const u64).cast(), 8) };
    }

    /// Whether the deadline has passed by `now`; if so, it is frozen in the same step, so that
    /// the host cannot move it between the monitor's look and the time-out.
    pub(crate) fn time_out_if_due(&self, now: Instant) -> bool {
        self.after_start_ns
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |ns| {
                let due = ns & FROZEN == 0
                    && ns != NONE
                    && self
                        .start
                        .checked_add(Duration::from_nanos(ns))
                        .is_some_and(|at| at <= now);
                due.then_some(ns | FROZEN)
            })
            .is_ok()
    }

    /// Freezes the deadline as it stands (the sandbox has ended).
    pub(crate) fn freeze(&self) {
        self.after_start_ns.fetch_or(FROZEN, Ordering::SeqCst);
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

/// A duration in nanoseconds, [`NONE`] for none or one longer than [`MOST_NANOS`].
fn nanos(d: Option<Duration>) -> u64 {
    d.and_then(|d| u64::try_from(d.as_nanos()).ok())
        .filter(|n| *n <= MOST_NANOS)
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

    #[test]
    fn a_deadline_that_passed_or_ended_stays_as_it_was() {
        let start = Instant::now();
        let d = Deadline::new(start, Some(Duration::from_millis(10))).unwrap();
        assert!(!d.time_out_if_due(start + Duration::from_millis(9)));
        assert!(d.time_out_if_due(start + Duration::from_millis(10)));
        // Frozen: neither moved nor due again.
        d.set_from_now(None);
        assert_eq!(d.limit(), Some(Duration::from_millis(10)));
        assert!(!d.time_out_if_due(start + Duration::from_secs(1)));
        let ended = Deadline::new(start, None).unwrap();
        ended.freeze();
        ended.set_from_now(Some(Duration::from_secs(1)));
        assert_eq!(ended.limit(), None);
    }
}
