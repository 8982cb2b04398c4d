//! The runtime's release thread: where what is left of a sandbox once `status()` has its
//! outcome is done: init's reaping ([`crate::monitor::Aftermath`]), then what a directly
//! cloned sandbox kept until its end (see [`super::KeptUntilEnd`]).
//!
//! Init is still exiting when its report ends the watch (it frees its copy of the host and the
//! sandbox's namespaces); letting the kept part go closes the last reference to the sandbox's
//! mount namespace, whose teardown unmounts everything in it and waits for an expedited RCU
//! grace period, and frees the plan init was cloned with. On the caller's thread, that would
//! come between the sandbox's end and the return of `status()`; on a thread of its own, it
//! overlaps whatever the caller does next.
//! The thread is started at the first such sandbox and then lives as long as the process,
//! blocked on its channel while there is nothing to drop (as the fork server's parent thread
//! does). It only drops what it is sent.

use super::this_process::ThisProcess;
use crate::first_use::OnceBox;
use std::sync::mpsc::{self, Sender};

/// Something to drop on the release thread.
type Item = Box<dyn Send>;

/// Drops `item` on the release thread, started at the first call. If that thread cannot be
/// started, or this is a process forked since (which has a copy of the channel but not the
/// thread), `item` is dropped here, on the calling thread.
pub(super) fn later(item: impl Send + 'static) {
    // Two threads that start one each at once keep the first stored; the other's thread ends
    // when its sender is dropped.
    static RELEASER: OnceBox<Option<(ThisProcess, Sender<Item>)>> = OnceBox::new();
    let item: Item = Box::new(item);
    if let Some((owner, tx)) = RELEASER.get_or_init(|| Box::new(start())) {
        // Told apart by more than the pid, which a forked process can share (see
        // `super::this_process`).
        if owner.is_current() {
            // A send fails only if the thread has ended; the error holds the item, dropped here.
            let _ = tx.send(item);
        }
    }
}

/// Starts the release thread; with the process that owns it, `None` if it cannot be started.
fn start() -> Option<(ThisProcess, Sender<Item>)> {
    let (tx, rx) = mpsc::channel::<Item>();
    super::detached::spawn_detached("sandbox-release", 128 << 10, move || {
        rx.into_iter().for_each(drop)
    })
    .ok()?;
    Some((ThisProcess::mark(), tx))
}

#[cfg(test)]
mod tests {
    use super::later;
    use std::sync::mpsc;
    use std::time::Duration;

    /// Reports, when dropped, its number and the name of the thread that dropped it.
    struct Tell(usize, mpsc::Sender<(usize, Option<String>)>);

    impl Drop for Tell {
        fn drop(&mut self) {
            // The kernel's name: the release thread is not one `std::thread` started.
            let name = std::fs::read_to_string("/proc/thread-self/comm")
                .ok()
                .map(|n| n.trim().to_string());
            let _ = self.1.send((self.0, name));
        }
    }

    #[test]
    fn items_are_dropped_on_the_release_thread_in_order() {
        let (tx, rx) = mpsc::channel();
        for i in 0..3 {
            later(Tell(i, tx.clone()));
        }
        for i in 0..3 {
            let (n, dropped_by) = rx.recv_timeout(Duration::from_secs(5)).expect("dropped");
            assert_eq!(dropped_by.as_deref(), Some("sandbox-release"));
            assert_eq!(n, i, "dropped out of order");
        }
    }
}
