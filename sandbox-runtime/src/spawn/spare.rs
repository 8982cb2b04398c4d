//! Sandboxes made ahead: the fork server keeps one init ready for the next request.
//!
//! Most of a start-up is namespace-wide work that does not depend on the program: cloning into new
//! namespaces, the id maps, `lo`, the hostname, the file system and the capability limits. Once the
//! sandbox it served last has ended (or has run for a second) and the host has been quiet for a
//! moment, or, when the host asks for the same configuration back to back, once that sandbox has
//! started its program, the fork server clones a *spare* init for the same configuration and lets
//! it do all of that (see [`super::server`]). The spare then waits on its channel. The next request
//! with the same namespace part ([`Request::namespace_key`]) is handed to it: the spare receives
//! the request and its descriptors and forks the sandboxee at once, its id maps being written
//! already; only when the host must first move it into a cgroup does it wait for the host to
//! release it, as a fresh init waits for its id maps. A request with another configuration gets a
//! freshly cloned init as before, and the spare is let go.
//!
//! A spare shows the host as it was when the spare was built. It is used only if each bind's
//! source on the host is still what the spare's bind shows: the same object (device and
//! inode) on a mount with the same locked flags (`ro`, `nosuid`, `nodev`, `noexec`, atime),
//! read by the spare right after each mount and by the server when the request comes. So a
//! file replaced on the host since (a new input under the same name, say) never reaches a
//! sandbox through an old spare, and a source the host has since remounted read-only is not
//! served writable.
//!
//! The spare is the host's child (`CLONE_PARENT`, like every init the server clones). The
//! server announces each spare's pid to the host as soon as it is made, so the next reply
//! finds the host knowing it: the host ends (kills and reaps) a spare that reply did not use,
//! and every spare it knows of if it gives the server up.

use super::capabilities;
use super::init;
use super::mounts::Bound;
use super::plan::{ChildFds, Plan};
use super::server::{self, StartPipe};
use super::steps::{Failure, Report, Step};
use super::sys;
use super::watch::Watched;
use super::wire::Request;
use crate::comms::Comms;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

/// How long the server waits for a spare to finish its set-up or take a request, before it
/// lets the spare go and clones a fresh init instead. Set-up takes about a millisecond.
const SPARE_TIMEOUT: Duration = Duration::from_secs(5);

/// What a spare tells the server once its set-up is done.
const READY: u8 = 1;
/// What a spare tells the server when its set-up failed (it then exits).
const FAILED: u8 = 0;

/// The server's side of a spare.
pub(crate) struct Spare {
    /// The spare's pid (the host's child).
    pub pid: libc::pid_t,
    /// Its pidfd and mount namespace, taken before its id maps were written, for the server to
    /// watch once a request takes the spare (see [`Spare::into_watched`]).
    watched: Option<Watched>,
    channel: Comms,
    /// [`Request::namespace_key`] of the request the spare was made for.
    key: Vec<u8>,
}

impl Spare {
    /// Clones a spare for the namespace part of `request` (a decoded copy the spare's plan is
    /// built from), writes its id maps and lets it start. Nobody is told why it failed: the
    /// next request gets a fresh init instead. A failure after the clone comes with the
    /// spare's pid, for the host to end.
    pub(crate) fn make(request: Request) -> Result<Spare, Option<libc::pid_t>> {
        let key = request.namespace_key();
        let (mut channel, child_end) = Comms::pair().map_err(|_| None)?;
        channel.set_timeout(Some(SPARE_TIMEOUT)).map_err(|_| None)?;
        // The spare's plan names its channel as both the sync and the report descriptor.
        let report = super::dup_above(child_end.as_raw_fd(), 3).map_err(|_| None)?;
        let fds = ChildFds {
            sync: child_end,
            report,
            stdio: [None, None, None],
            passed: Vec::new(),
        };
        let mut plan = Plan::assemble(request.parts, &fds).map_err(|_| None)?;
        let parent = libc::CLONE_PARENT as libc::c_ulong;
        let pid = super::netns::clone_for(&mut plan, |plan| init::clone(plan, parent, run))
            .map_err(|_| None)?;
        drop((plan, fds));
        let watched = Watched::new(pid);
        let maps = super::idmap::IdMaps::for_caller();
        let maps_written = maps.is_some_and(|maps| maps.write(pid).is_ok());
        if !maps_written || channel.send_u64(1).is_err() {
            return Err(Some(pid));
        }
        Ok(Spare {
            pid,
            watched,
            channel,
            key,
        })
    }

    /// Serves `request` (its bytes as received, and its descriptors) if this spare can: the
    /// same namespace part, a finished set-up (waited for), and every bind source still what
    /// the spare's bind shows (`key` is the request's [`Request::namespace_key`]). The spare
    /// also gets `started`, the write end of the launch's start pipe if it has one, which it
    /// holds until its sandboxee has exec'd. Returns the spare's pid, the descriptors closed
    /// (the spare has its own copies); or, when it cannot serve, the descriptors back for a
    /// fresh init, the spare being let go (the host, told by the reply, ends it).
    pub(crate) fn serve(
        &mut self,
        request: &Request,
        key: &[u8],
        bytes: &[u8],
        fds: Vec<OwnedFd>,
        started: Option<&OwnedFd>,
    ) -> Result<libc::pid_t, Vec<OwnedFd>> {
        if !self.fits(request, key) {
            return Err(fds);
        }
        let handed = server::hand_over(&mut self.channel, bytes, &fds, started).is_ok();
        if handed {
            Ok(self.pid)
        } else {
            Err(fds)
        }
    }

    /// What the server watches of this spare from now on (see [`super::watch`]): a spare that
    /// `served` keeps its channel open in it; one let go has its channel closed now, which
    /// ends it unless the host kills it first.
    pub(crate) fn into_watched(self, served: bool) -> Option<Watched> {
        let watched = self.watched?;
        Some(if served {
            watched.keeping(self.channel)
        } else {
            watched
        })
    }

    fn fits(&mut self, request: &Request, key: &[u8]) -> bool {
        if key != self.key {
            return false;
        }
        // Waits for the spare's set-up to end (it reports once).
        let ready = self.channel.recv_bytes().ok();
        let Some(bound) = ready.as_deref().and_then(decode_ready) else {
            return false;
        };
        let now = request.parts.mounts.sources_now();
        now.len() == bound.len() && now.iter().zip(&bound).all(|(n, b)| *n == Some(*b))
    }
}

/// The ready message: a status byte, then (device, inode, locked mount flags) per mount entry.
fn encode_ready(bound: &[Bound]) -> Vec<u8> {
    let mut b = Vec::with_capacity(1 + bound.len() * 24);
    b.push(READY);
    for e in bound {
        for word in [e.dev, e.ino, e.flags] {
            b.extend_from_slice(&word.to_ne_bytes());
        }
    }
    b
}

fn decode_ready(b: &[u8]) -> Option<Vec<Bound>> {
    let (&status, rest) = b.split_first()?;
    if status != READY || rest.len() % 24 != 0 {
        return None;
    }
    let word = |s: &[u8]| u64::from_ne_bytes(s.try_into().unwrap_or([0; 8]));
    Some(
        rest.chunks_exact(24)
            .map(|c| Bound {
                dev: word(&c[..8]),
                ino: word(&c[8..16]),
                flags: word(&c[16..]),
            })
            .collect(),
    )
}

/// The spare's main: never returns. It is a copy of the server, whose one other thread holds
/// no lock a spare needs (see [`super::netns::start_over_in_this_process`]), so unlike an init
/// cloned from the host it may allocate, until it has taken a request. Until then it is named
/// `sandbox-spare` (what `ps` shows of a spare waiting); from then on it is the request's init,
/// named `sandbox-init` as a freshly cloned one is, and allocates no more.
fn run(plan: &Plan) -> ! {
    init::set_name(c"sandbox-spare");
    // SAFETY: the plan's sync descriptor is this process's end of the channel, and nothing
    // else here owns it.
    let channel = unsafe { OwnedFd::from_raw_fd(plan.sync_fd) };
    if init::start(plan).is_err() {
        sys::exit(1)
    }
    let Ok(mut channel) = Comms::from_fd(channel) else {
        sys::exit(1)
    };
    // The server writes the id maps, then says so.
    if channel.recv_u64().is_err() {
        sys::exit(1)
    }
    let mut bound = vec![Bound::default(); plan.parts.mounts.ops.len()];
    let built = init::build_namespaces(plan, &mut bound)
        .and_then(|root| root.detach_now())
        .and_then(|()| capabilities::limit());
    if built.is_err() {
        let _ = channel.send_bytes(&[FAILED]);
        // Waits, as a ready spare does, for the request that lets it go, when the host ends and
        // reaps it: ended now, it would stay a zombie child of the host until then.
        let _ = server::receive(&mut channel, StartPipe::Follows);
        sys::exit(1)
    }
    if channel.send_bytes(&encode_ready(&bound)).is_err() {
        sys::exit(1)
    }
    // Wait for a request; the channel closing (the server let this spare go, or ended) ends it.
    let Ok(incoming) = server::receive(&mut channel, StartPipe::Follows) else {
        sys::exit(0)
    };
    drop(channel);
    let request = incoming.request;
    // Reports a failure on the report socket `report` (the one open at the time) and exits.
    let fail = |report: Option<&OwnedFd>, errno: i32| -> ! {
        let f = Failure {
            step: Step::ForkSandboxee,
            index: 0,
            errno,
        };
        if let Some(r) = report {
            sys::send_report(r.as_raw_fd(), Report::failure(f));
        }
        sys::exit(1)
    };
    // Each received descriptor is closed once placed; a failure is reported on the request's
    // report socket, placed or not.
    let fds = match server::place(&request, incoming.fds) {
        Ok(fds) => fds,
        Err(u) => fail(
            u.report.as_ref(),
            u.error.raw_os_error().unwrap_or(libc::EIO),
        ),
    };
    // Received at the lowest free number, which may be one the sandboxee's streams take.
    let started =
        incoming.started.map(
            |fd| match super::relocate(&fd, server::lowest_for_init(&request)) {
                Ok(fd) => fd,
                Err(e) => fail(Some(&fds.report), e.raw_os_error().unwrap_or(libc::EMFILE)),
            },
        );
    let mut real = match Plan::assemble(request.parts, &fds) {
        Ok(p) => p,
        Err(e) => fail(Some(&fds.report), e.raw_os_error().unwrap_or(libc::ENOMEM)),
    };
    if let Some(fd) = &started {
        real.keep_until_started(fd.as_raw_fd());
    }
    // From here on this is the request's init: it waits for the host to release it when the
    // host places it in a cgroup first (its id maps are written already), keeps only the
    // request's descriptors, and starts the sandboxee.
    init::set_init_name();
    let released = if request.joins_cgroup {
        init::wait_for_id_maps(real.sync_fd, real.host_pidfd)
    } else {
        Ok(())
    };
    let result = released
        .and_then(|()| init::close_inherited(&real))
        .and_then(|()| {
            // This process made the root, left the host's terminal and cleared its umask at its
            // start, for the spare's plan: the request's program gets all of it, as from a
            // freshly cloned init.
            real.init_start.take_from(&plan.init_start);
            init::fork_sandboxee(&real)
        });
    match result {
        Ok(pid) => init::reap(&real, pid),
        Err(f) => {
            sys::send_report(real.report_fd, Report::failure(f));
            sys::exit(1)
        }
    }
}

/// Ends a spare the server let go (or one of a server given up on): kills it and reaps it.
/// Killed, it ends at once, whatever it was doing.
pub(crate) fn end(pid: libc::pid_t) {
    // SAFETY: pid is our unreaped child (a spare), so the number is still its.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    super::reap_quietly(pid);
}
