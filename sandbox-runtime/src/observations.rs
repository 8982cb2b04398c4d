//! The channel observed calls travel on, from the monitor to the host: bounded in how many wait
//! untaken ([`OBSERVATIONS_PENDING_MOST`]), growing only with what waits, and never blocking
//! the monitor, which counts what it could not pass on instead.

use crate::observe::Observation;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvError, RecvTimeoutError, Sender, TryRecvError};
use std::sync::Arc;
use std::time::Duration;

/// The most observations of one sandbox that wait for the host to take them
/// ([`crate::SandboxChild::observations`]); the monitor counts those it drops beyond
/// ([`crate::Outcome::observations_dropped`]), so a host that takes none holds a bounded amount
/// of memory (about 6 MiB at most), whatever the program does.
pub const OBSERVATIONS_PENDING_MOST: usize = 65_536;

/// A new channel: the monitor's end and the host's.
pub(crate) fn channel() -> (ObservationSender, Observations) {
    let (tx, rx) = mpsc::channel();
    let shared = Arc::new(Shared::default());
    (
        ObservationSender {
            tx,
            shared: Arc::clone(&shared),
        },
        Observations { rx, shared },
    )
}

/// What both ends see.
#[derive(Debug, Default)]
struct Shared {
    /// Sent and not yet taken.
    pending: AtomicUsize,
    /// Whether the host let go of its end (it takes none from then on).
    gone: AtomicBool,
}

/// The monitor's end.
pub(crate) struct ObservationSender {
    tx: Sender<Observation>,
    shared: Arc<Shared>,
}

impl ObservationSender {
    /// Passes `o` on, unless [`OBSERVATIONS_PENDING_MOST`] wait already: then returns `false`
    /// (dropped for want of room). A host that let go of its end takes none, and is told of
    /// none: that is no drop. Never blocks.
    pub(crate) fn offer(&self, o: Observation) -> bool {
        let shared = &self.shared;
        if shared.gone.load(Ordering::Acquire) {
            return true;
        }
        // The monitor is the one sender: nothing else adds between the look and the add.
        if shared.pending.load(Ordering::Acquire) >= OBSERVATIONS_PENDING_MOST {
            return false;
        }
        shared.pending.fetch_add(1, Ordering::AcqRel);
        if self.tx.send(o).is_err() {
            shared.pending.fetch_sub(1, Ordering::AcqRel);
        }
        true
    }
}

/// The calls the monitor observed in one sandbox, as they come; the channel ends when the
/// sandbox has ended. Read them while the program runs: at most [`OBSERVATIONS_PENDING_MOST`]
/// wait to be taken.
#[derive(Debug)]
pub struct Observations {
    rx: Receiver<Observation>,
    shared: Arc<Shared>,
}

impl Observations {
    /// The next observation, waiting for it; an error once the sandbox has ended and every
    /// observation was taken.
    pub fn recv(&self) -> Result<Observation, RecvError> {
        self.rx.recv().inspect(|_| self.taken())
    }

    /// The next observation if one waits.
    pub fn try_recv(&self) -> Result<Observation, TryRecvError> {
        self.rx.try_recv().inspect(|_| self.taken())
    }

    /// The next observation, waiting at most `timeout` for it.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Observation, RecvTimeoutError> {
        self.rx.recv_timeout(timeout).inspect(|_| self.taken())
    }

    /// Every observation to the sandbox's end, waiting for each.
    pub fn iter(&self) -> impl Iterator<Item = Observation> + '_ {
        std::iter::from_fn(|| self.recv().ok())
    }

    /// The observations that wait now, without waiting for more.
    pub fn try_iter(&self) -> impl Iterator<Item = Observation> + '_ {
        std::iter::from_fn(|| self.try_recv().ok())
    }

    fn taken(&self) {
        self.shared.pending.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Drop for Observations {
    fn drop(&mut self) {
        self.shared.gone.store(true, Ordering::Release);
    }
}

impl IntoIterator for Observations {
    type Item = Observation;
    type IntoIter = IntoIter;

    /// Every observation to the sandbox's end, waiting for each.
    fn into_iter(self) -> IntoIter {
        IntoIter(self)
    }
}

/// The iterator of [`Observations::into_iter`].
#[derive(Debug)]
pub struct IntoIter(Observations);

impl Iterator for IntoIter {
    type Item = Observation;

    fn next(&mut self) -> Option<Observation> {
        self.0.recv().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sandbox_policy::Arch;

    fn observation(nr: u32) -> Observation {
        Observation {
            nr,
            arch: Arch::X86_64,
            args: [0; 6],
            pid: 2,
            decided_by: None,
            refused: None,
        }
    }

    #[test]
    fn what_waits_is_bounded_and_taking_makes_room_again() {
        let (tx, rx) = channel();
        for nr in 0..OBSERVATIONS_PENDING_MOST {
            assert!(tx.offer(observation(nr as u32)), "{nr}");
        }
        assert!(!tx.offer(observation(0)), "one past the bound was kept");
        assert_eq!(rx.try_recv().unwrap().nr, 0);
        assert!(tx.offer(observation(7)), "taking one made no room");
        assert!(!tx.offer(observation(8)));
        assert_eq!(rx.try_iter().count(), OBSERVATIONS_PENDING_MOST);
        drop(tx);
        assert!(rx.recv().is_err());
    }

    #[test]
    fn a_host_that_let_go_is_told_of_no_drop() {
        let (tx, rx) = channel();
        drop(rx);
        for nr in 0..OBSERVATIONS_PENDING_MOST + 10 {
            assert!(tx.offer(observation(nr as u32)));
        }
        // Also when it let go with the channel full.
        let (tx, rx) = channel();
        for nr in 0..OBSERVATIONS_PENDING_MOST {
            assert!(tx.offer(observation(nr as u32)));
        }
        assert!(!tx.offer(observation(0)));
        drop(rx);
        assert!(
            tx.offer(observation(1)),
            "a drop counted for a host that let go"
        );
    }
}
