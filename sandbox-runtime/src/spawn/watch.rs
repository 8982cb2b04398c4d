//! What the fork server keeps of each sandbox it launched until that sandbox ends: its init's
//! pidfd, a reference to its mount namespace, and for a spare the channel it was handed the
//! request on.
//!
//! The last reference to a mount namespace unmounts everything in it, and that waits for an
//! expedited RCU grace period: about 0.2 ms on the test machine, in the exit of whichever process
//! drops it. Held by init alone, that is init's exit, which the host's `wait` waits for when the
//! sandbox is killed (an end init reports itself does not wait for its exit). The
//! server takes a reference of its own when it clones init (init is then still waiting for its
//! id maps, so the kernel lets a process of the same user open it) and drops it once init's
//! pidfd says init has ended: the teardown then runs in the server, after the host has reaped
//! init. No process is left in the namespace by then (init was pid 1 of the sandbox's pid
//! namespace), so keeping it a little longer gives nobody anything to enter.
//!
//! The pidfd also tells the server when the sandbox it launched last has ended, which is when
//! it makes a spare unless the host asks back to back (see [`super::server`]); the server
//! remembers when it last saw one end, to tell whether a request came back to back.

use super::sys;
use crate::comms::Comms;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

/// At most this many sandboxes are watched at once (two or three descriptors each). Beyond it,
/// a sandbox is not watched: its init tears its mounts down itself, as without the server.
const MAX_WATCHED: usize = 64;

/// One launched sandbox: its init's pid and pidfd, and its mount namespace when the reference
/// could be taken.
pub(super) struct Watched {
    pid: libc::pid_t,
    init: OwnedFd,
    /// Never read: held until this is dropped.
    _mounts: Option<OwnedFd>,
    /// A served spare's channel (see [`Watched::keeping`]); never read.
    _channel: Option<Comms>,
}

impl Watched {
    /// Starts watching `pid`, a just-cloned init that has not been released yet (it waits for
    /// its id maps), so that it is still dumpable and nobody can have reaped it. `None` if its
    /// pidfd cannot be opened; the mount namespace is optional.
    pub(super) fn new(pid: libc::pid_t) -> Option<Watched> {
        let init = super::pidfd_open(pid).ok()?;
        Some(Watched {
            pid,
            _mounts: super::mount_namespace(pid, &init),
            init,
            _channel: None,
        })
    }

    /// Keeps `channel`, a served spare's, open until the sandbox ends. Closed at once, while the
    /// descriptors just handed over on it are still on their way (the spare has not read them
    /// yet), it would have the kernel queue its collector of in-flight descriptors, whose
    /// worker took the CPU from the server before its reply (a trace showed about 90 µs). By
    /// the end, the spare has long read them and closed its side.
    pub(super) fn keeping(self, channel: Comms) -> Watched {
        Watched {
            _channel: Some(channel),
            ..self
        }
    }

    /// Whether this holds a reference to the sandbox's mount namespace.
    #[cfg(test)]
    pub(super) fn holds_mounts(&self) -> bool {
        self._mounts.is_some()
    }
}

/// What ended a [`Launched::wait`].
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Woken {
    /// The channel is readable (a request, or its end), or polling failed: read it next.
    Request,
    /// At least one watched sandbox ended, and was let go.
    Ended,
    /// The time passed.
    TimedOut,
}

/// The sandboxes the server launched that have not ended yet (as far as it has looked).
#[derive(Default)]
pub(super) struct Launched {
    watched: Vec<Watched>,
    /// When the server last saw a watched sandbox end.
    last_end: Option<Instant>,
}

impl Launched {
    /// Watches `w` from now on, unless [`MAX_WATCHED`] are watched already (then `w` is
    /// dropped: its init keeps the only reference, as without the server).
    pub(super) fn add(&mut self, w: Watched) {
        if self.watched.len() < MAX_WATCHED {
            self.watched.push(w);
        }
    }

    /// Whether `pid` is watched and has not been seen to end.
    pub(super) fn is_running(&self, pid: libc::pid_t) -> bool {
        self.watched.iter().any(|w| w.pid == pid)
    }

    /// When the server last saw a watched sandbox end.
    pub(super) fn last_end(&self) -> Option<Instant> {
        self.last_end
    }

    /// How many sandboxes are watched.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.watched.len()
    }

    /// Waits until `channel` is readable, a watched sandbox ends, or `time` (`None`: no limit)
    /// passes. Every sandbox seen to have ended is let go, and its mounts with it; but when a
    /// request is waiting, it comes first, and the ended ones are let go at the next wait.
    pub(super) fn wait(&mut self, channel: RawFd, time: Option<Duration>) -> Woken {
        let deadline = time.map(|t| Instant::now() + t);
        // Without a start pipe to watch, `poll` always says why it woke.
        self.poll(channel, None, deadline)
            .unwrap_or(Woken::TimedOut)
    }

    /// Waits until the read end `started` of a sandbox's start pipe hangs up (see
    /// [`super::plan::Plan::keep_until_started`]) or `time` passes, letting go the sandboxes
    /// that end meanwhile: `true` then, `false` as soon as `channel` is readable.
    pub(super) fn wait_for_start(
        &mut self,
        channel: RawFd,
        started: RawFd,
        time: Duration,
    ) -> bool {
        let deadline = Some(Instant::now() + time);
        loop {
            match self.poll(channel, Some(started), deadline) {
                None | Some(Woken::TimedOut) => return true,
                Some(Woken::Request) => return false,
                Some(Woken::Ended) => {}
            }
        }
    }

    /// One wait of [`Launched::wait`], also watching `started`: `None` once it hangs up.
    fn poll(
        &mut self,
        channel: RawFd,
        started: Option<RawFd>,
        deadline: Option<Instant>,
    ) -> Option<Woken> {
        let slot = |fd: RawFd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        let mut polled: Vec<libc::pollfd> = std::iter::once(slot(channel))
            .chain(started.map(slot))
            .chain(self.watched.iter().map(|w| slot(w.init.as_raw_fd())))
            .collect();
        let first_watched = 1 + usize::from(started.is_some());
        loop {
            let ms = deadline.map_or(-1, |d| {
                // Rounded up: a wait shorter than a millisecond must not become a spin.
                let left = d.saturating_duration_since(Instant::now()).as_micros();
                libc::c_int::try_from(left.div_ceil(1000)).unwrap_or(libc::c_int::MAX)
            });
            // SAFETY: polled is a live array of polled.len() pollfds.
            let r = unsafe { libc::poll(polled.as_mut_ptr(), polled.len() as libc::nfds_t, ms) };
            if r < 0 && sys::errno() == libc::EINTR {
                continue;
            }
            if r < 0 || polled[0].revents != 0 {
                return Some(Woken::Request);
            }
            if r == 0 {
                return Some(Woken::TimedOut);
            }
            if started.is_some() && polled[1].revents != 0 {
                return None;
            }
            let mut ended = polled[first_watched..].iter().map(|p| p.revents != 0);
            self.watched.retain(|_| !ended.next().unwrap_or(false));
            self.last_end = Some(Instant::now());
            return Some(Woken::Ended);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A child that runs until its stdin closes.
    fn child() -> std::process::Child {
        std::process::Command::new("/bin/cat")
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    }

    #[test]
    fn a_sandbox_is_let_go_when_it_ends_and_a_request_comes_first() {
        let (ours, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
        let mut launched = Launched::default();
        let mut a = child();
        let b = child();
        for c in [&a, &b] {
            let w = Watched::new(c.id() as libc::pid_t).unwrap();
            assert!(w.holds_mounts());
            launched.add(w);
        }
        let short = Some(Duration::from_millis(20));
        assert_eq!(launched.wait(ours.as_raw_fd(), short), Woken::TimedOut);
        drop(a.stdin.take());
        a.wait().unwrap();
        // A request waiting beside an end comes first; the end is seen at the next wait.
        std::io::Write::write_all(&mut &theirs, b"x").unwrap();
        assert_eq!(launched.wait(ours.as_raw_fd(), short), Woken::Request);
        assert_eq!(launched.len(), 2);
        std::io::Read::read_exact(&mut &ours, &mut [0u8]).unwrap();
        assert_eq!(launched.wait(ours.as_raw_fd(), None), Woken::Ended);
        assert!(!launched.is_running(a.id() as libc::pid_t));
        assert!(launched.is_running(b.id() as libc::pid_t));
        let mut b = b;
        drop(b.stdin.take());
        b.wait().unwrap();
        assert_eq!(launched.wait(ours.as_raw_fd(), None), Woken::Ended);
        assert_eq!(launched.len(), 0);
    }

    #[test]
    fn no_more_than_the_maximum_is_watched() {
        let mut launched = Launched::default();
        let me = std::process::id() as libc::pid_t;
        for _ in 0..MAX_WATCHED + 3 {
            launched.add(Watched::new(me).unwrap());
        }
        assert_eq!(launched.len(), MAX_WATCHED);
    }
}
