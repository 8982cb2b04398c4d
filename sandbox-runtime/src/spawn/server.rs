//! The fork server: a small copy of the host, made early, from which sandboxes are cloned.
//!
//! Without it, the sandbox's init is a fork-like clone of the host process itself, so each
//! start-up copies the host's page tables, each idle sandbox keeps a copy-on-write image of the
//! host, and the program's peak memory as the kernel counts it includes the host's resident
//! set (the exec happens in a copy of it). A host that calls [`start_fork_server`] while it is
//! still small (first thing in `main`, before threads and big allocations) gets a server
//! process of that size; every later [`SandboxCommand::spawn`](crate::SandboxCommand::spawn)
//! sends its prepared plan there ([`super::wire`]) with its descriptors (over a
//! [`Comms`] channel), and the server clones the sandbox's init with `CLONE_PARENT`, so init
//! is still the host's child: the host writes its id maps (the server wrote a spare's), watches
//! it and reaps it as before.
//!
//! The server serves one request at a time: no other thread than the one that makes network
//! namespaces ahead (see [`super::netns`]), no output, no environment, no descriptor but its
//! channel (its channel to a spare; for each sandbox it launched that still runs, that
//! sandbox's pidfd and mount namespace, which it keeps so that the mounts are torn down in the
//! server rather than in init's exit: see [`super::watch`]; while it waits for the start of the
//! sandbox it launched last, that sandbox's start pipe; and its maker's own network namespace
//! and the one made ahead). Once the sandbox it
//! launched last has ended (or has run for a second) and no other request has come for a few
//! milliseconds, it makes the next sandbox's init ahead of time for the same configuration, a
//! *spare* ([`super::spare`]), which the next matching request takes instead of a fresh clone.
//! When the host asks for the same configuration again back to back, it makes the spare as
//! soon as the sandbox just launched has started its program (its init closes the write end of
//! a *start pipe* then), or has been setting up for a second. It ends when the host's end of
//! the channel closes, and with the host process (`PR_SET_PDEATHSIG` on a runtime thread that
//! never ends).
//! It keeps the credentials it started with: when the caller's effective uid or gid differs,
//! when the caller is a process the host forked later (whatever its pid: see
//! [`super::this_process`]), or when the server is gone (or stopped answering for
//! [`REPLY_TIMEOUT`], after which it is killed), spawning clones directly.

use super::plan::{ChildFds, Plan};
use super::spare::{self, Spare};
use super::this_process::ThisProcess;
use super::watch::{Launched, Watched, Woken};
use super::wire::Request;
use super::{init, relocate, steps, sys};
use crate::comms::{Comms, CommsError};
use crate::first_use::OnceBox;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::mpsc::Sender;
use std::sync::Mutex;
use std::time::Duration;

/// The host's side of a running fork server.
struct Server {
    pid: libc::pid_t,
    /// The server's pidfd, so that giving up on it kills the server even if some other code of
    /// the host reaped it meanwhile and its pid went to another process.
    pidfd: OwnedFd,
    /// The process that started the server: a child the host forks later shares the channel,
    /// and must not use it, whatever its pid (see [`super::this_process`]).
    host: ThisProcess,
    /// The effective ids the server (and so every init it clones) runs with.
    uid: libc::uid_t,
    gid: libc::gid_t,
    /// The server's soft open-files limit: the host's when it started the server.
    open_files: u64,
    /// The channel and what the host knows of the server's spares, used one launch at a time.
    link: Mutex<Link>,
    /// Keeps the server's parent thread waiting: dropped (only with a server that lost the race
    /// to be the process's one, see [`start_fork_server`]), it lets that thread end.
    _parent: Sender<()>,
}

/// The host's end of the conversation with the server.
struct Link {
    /// `None` once the server is known to be gone.
    channel: Option<Comms>,
    /// Spares the server announced since its last reply (the host's children, see
    /// [`super::spare`]): the next request takes each, to serve it or to let it go, and the
    /// host ends those let go when the reply comes, or all of them when it gives the server
    /// up.
    spares: Vec<libc::pid_t>,
}

impl Server {
    /// Gives the server up: kills it (it may be stuck in a half-read request) through its
    /// pidfd and reaps it (ECHILD if other code of the host already did), then ends every
    /// spare it made, including those it announced after the last reply.
    fn abandon(&self, link: &mut Link) {
        let _ = crate::monitor::kill(&self.pidfd);
        super::reap_quietly(self.pid);
        if let Some(mut c) = link.channel.take() {
            // The server is dead: what it sent is buffered, then the channel ends.
            while let Ok(Message::SpareMade(pid)) = Message::recv(&mut c) {
                link.spares.push(pid);
            }
        }
        for pid in link.spares.drain(..) {
            spare::end(pid);
        }
    }

    /// Ends a server that will never be used (another thread's was stored first): kills and
    /// reaps it, and lets its parent thread end.
    fn discard(self) {
        let mut link = self.link.lock().unwrap_or_else(|e| e.into_inner());
        self.abandon(&mut link);
    }
}

/// The server, or `None` if starting it failed (it is not tried again). Lock-free (see
/// [`crate::first_use`]): a process forked while another thread of its parent was starting the
/// server finds none and may start its own.
static SERVER: OnceBox<Option<Server>> = OnceBox::new();

/// How long one send to or reply from the server may take before the server is given up on
/// (killed, reaped, and sandboxes cloned directly). A launch takes about a millisecond.
const REPLY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Starts the fork server, if it is not running yet; later sandboxes are cloned from it.
///
/// Call it first thing in `main`: the server is a copy of the process as it is at this call,
/// and each sandbox's set-up process is a copy of the server. It is safe to call later, and from
/// a multi-threaded process (the server only allocates and makes system calls, and glibc's
/// `fork` leaves glibc's `malloc` usable in it whatever other threads held), but the server
/// then keeps whatever the process had grown to. A host whose `#[global_allocator]` is another
/// must use one that does the same across `fork` (jemalloc does), or call this before its other
/// threads start. The server, and every sandbox started while it
/// runs, ends with the host process (the server's parent is a thread of the runtime's own that
/// never ends; without the server, init watches the host's pidfd to the same end). Returns the
/// server's pid, or an error if it could not start or has ended (it is not started again).
/// Threads that call this at once, before any server is up, may each start one: the first
/// stored is the process's, and the others are ended before their calls return.
///
/// The server keeps what the process had at this call: capabilities, limits, namespaces, a
/// seccomp filter or `no_new_privs` of its own, its umask (which its sandboxes' programs get). Only a change of effective uid or gid is
/// noticed (spawning then clones directly); a host that drops other privileges later should
/// drop them before starting the server.
///
/// Once the sandbox it started last has ended (or has run for a second), and no request has
/// come for 5 ms since, the server makes the next one's namespaces, id maps and file system
/// ahead of time for the same configuration (mounts, hostname, network), so a host that starts
/// sandboxes now and then gets most of the start-up done before it asks, and a sandbox that
/// runs alone and ends within a second never has that work going on beside it. A host that asks
/// for the same configuration again within 5 ms of the end of the sandbox before (or while it
/// runs) leaves no such pause: the server then makes the next one as soon as the sandbox it
/// just launched has started its program (or has been setting up for a second), beside that
/// program's run. Such a spare is used only if every bind source on the host is still the
/// object the spare shows, on a mount with the same flags (a file or directory replaced since
/// under the same name, or remounted read-only, gets a fresh sandbox). Only the last
/// configuration has a spare: a request with another one gets a fresh clone, as without the
/// server's help. A spare waiting for a request keeps what it binds in use (the space of a
/// deleted source file, a file system the host unmounts) and has made its mount points inside
/// writable binds already; it is a child of the host process (as every init the server clones),
/// so a host that reaps any child (`waitpid(-1)`) or ignores `SIGCHLD` takes spares from the
/// runtime as it would take inits.
///
/// The server also keeps a reference to the mount namespace of each sandbox it launched (up to
/// 64 at once), and lets it go once that sandbox has ended: the kernel's teardown of the
/// sandbox's mounts, about 0.2 ms on the test machine, then happens in the server just after `wait`
/// returns instead of before. Until then, what the sandbox bound stays in use, as it does
/// while the sandbox runs.
pub fn start_fork_server() -> io::Result<u32> {
    let server = match SERVER.get() {
        Some(server) => server,
        None => {
            let (launched, result) = match launch_server() {
                Ok(server) => (Some(server), Ok(())),
                Err(e) => (None, Err(e)),
            };
            match SERVER.set(Box::new(launched)) {
                Ok(()) => result?,
                // Another thread started one first: this one's is not needed.
                Err(lost) => lost.map_or((), Server::discard),
            }
            // Set just now, by this thread or another.
            SERVER.get().unwrap_or(&None)
        }
    };
    let Some(server) = server else {
        return Err(io::Error::other(
            "an earlier start of the fork server failed",
        ));
    };
    // A process forked from the host has a copy of the link but not the server (and maybe a
    // lock some other thread of the host held at the fork): it clones directly, as `launch`
    // has it do, without touching the link.
    if !server.host.is_current() {
        return Err(io::Error::other(
            "the fork server belongs to the process this one was forked from; this process \
             clones its sandboxes directly",
        ));
    }
    let running = server
        .link
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .channel
        .is_some();
    if !running {
        return Err(io::Error::other(
            "the fork server has ended; sandboxes are cloned directly",
        ));
    }
    Ok(server.pid as u32)
}

/// Forks the server from a thread of its own that then sleeps for the rest of the process's
/// life. The kernel sends a parent-death signal when the parent *thread* ends; the server, and
/// every init it clones with `CLONE_PARENT`, has this thread as its parent, so sandboxes end
/// with the host process, not with whichever thread happened to start them.
fn launch_server() -> io::Result<Server> {
    let (host, server_end) = Comms::pair()?;
    // A server that stops answering (stopped, or stuck) is given up on rather than waited for.
    host.set_timeout(Some(REPLY_TIMEOUT))?;
    // Only a test can make the server die on purpose (see `crate::test_hooks`).
    #[cfg(feature = "test-hooks")]
    let die_after_clone = crate::test_hooks::die_after_clone();
    #[cfg(not(feature = "test-hooks"))]
    let die_after_clone = false;
    let (tx, rx) = std::sync::mpsc::channel();
    let (keep_parent, parent_kept) = std::sync::mpsc::channel::<()>();
    // Looked up before the fork: a lookup another thread had under way at the fork would leave
    // the server a copy of it half done, for its first clone to wait on for ever.
    super::init::prepare_clone();
    // The server keeps the limit it is forked with, whatever the host sets later.
    let open_files = super::open_files_limit();
    // The server runs on a copy of this thread's stack, and so does each init it clones: room
    // for both (untouched pages cost nothing). Not a `std::thread`, whose locks the server
    // would copy, maybe held by another thread of the host (see `super::detached`).
    super::detached::spawn_detached("sandbox-fork-server-parent", 1 << 20, move || {
        // The server starts as a copy of the host, its signal handlers included, until
        // `serve` resets them: none of them runs there with every signal blocked.
        let blocked = sys::SignalsBlocked::now();
        // SAFETY: no arguments. glibc's fork makes glibc's malloc usable in the child even
        // when other threads held its locks (a host whose global allocator is another
        // must have it do the same: the server allocates); the child touches no other
        // lock (see `serve`).
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            serve(server_end, die_after_clone);
        }
        drop(blocked);
        if pid < 0 {
            // No server: this thread has nothing to be the parent of.
            let _ = tx.send(Err(io::Error::last_os_error()));
            return;
        }
        let _ = tx.send(Ok(pid));
        drop(server_end);
        // Returns only once the server is discarded (its sender dropped).
        let _ = parent_kept.recv();
    })?;
    let pid = rx
        .recv()
        .map_err(|_| io::Error::other("the fork server's parent thread ended"))??;
    let pidfd = match super::pidfd_open(pid) {
        Ok(fd) => fd,
        Err(e) => {
            // SAFETY: pid is our child, not yet reaped.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            super::reap_quietly(pid);
            return Err(e);
        }
    };
    // SAFETY: no arguments.
    let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
    Ok(Server {
        pid,
        pidfd,
        open_files,
        host: ThisProcess::mark(),
        uid,
        gid,
        link: Mutex::new(Link {
            channel: Some(host),
            spares: Vec::new(),
        }),
        _parent: keep_parent,
    })
}

/// The outcome of asking the server for a sandbox.
pub(crate) enum Launch {
    /// No server, or it is gone or unusable for this caller or this request: clone directly.
    Unavailable,
    /// The server started init (the caller's child): cloned now, or a spare made ahead whose
    /// id maps are already written (see [`super::spare`]).
    Started { pid: libc::pid_t, made_ahead: bool },
    /// The server could not clone init: this errno.
    Failed(i32),
    /// The server ended during this launch (later ones clone directly).
    Lost,
}

/// Asks the running server, if any, to clone the sandbox's init for `request` with `fds`.
pub(crate) fn launch(request: &Request, fds: &ChildFds) -> Launch {
    let Some(Some(server)) = SERVER.get() else {
        return Launch::Unavailable;
    };
    // SAFETY: no arguments.
    let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
    if !server.host.is_current() || (uid, gid) != (server.uid, server.gid) {
        return Launch::Unavailable;
    }
    // Init numbers its descriptors from above every passed target: past the server's limit
    // (the host raised its own since), the server or its spare could not place them.
    let count = ordered(fds).count() as u64 + 1; // and a start pipe
    let highest = u64::try_from(lowest_for_init(request)).unwrap_or(u64::MAX);
    if highest.saturating_add(count) >= server.open_files {
        return Launch::Unavailable;
    }
    let mut link = server.link.lock().unwrap_or_else(|e| e.into_inner());
    let link = &mut *link;
    let Some(channel) = link.channel.as_mut() else {
        return Launch::Unavailable;
    };
    match send(channel, request, fds) {
        Ok(()) => {}
        // Refused before a byte was sent (a request over the channel's message limit): the
        // server is fine; clone this one directly.
        Err(CommsError::TooLarge { .. }) => return Launch::Unavailable,
        Err(_) => {
            // The server cannot have cloned anything without the whole request: clone
            // directly, now and from now on.
            server.abandon(link);
            return Launch::Unavailable;
        }
    }
    let reply = loop {
        match Message::recv(channel) {
            Ok(Message::SpareMade(pid)) => link.spares.push(pid),
            Ok(Message::Reply(r)) => break Ok(r),
            Err(e) => break Err(e),
        }
    };
    // Every spare announced before a reply was taken by that request: used for it, or let go.
    // Those let go are ended and reaped now, so none outlives the launch that dropped it.
    if let Ok(r) = &reply {
        let used = |p: &libc::pid_t| r.made_ahead && i64::from(*p) == r.result;
        for pid in link.spares.drain(..).filter(|p| !used(p)) {
            spare::end(pid);
        }
    }
    match reply {
        Ok(r) if r.result > 0 => Launch::Started {
            pid: r.result as libc::pid_t,
            made_ahead: r.made_ahead,
        },
        // No room for the request's descriptors in the server's table (see `serve`): it cloned
        // nothing, so the caller clones this one itself.
        Ok(r) if r.result == -i64::from(libc::EMFILE) => Launch::Unavailable,
        Ok(r) => Launch::Failed(i32::try_from(-r.result).unwrap_or(libc::EIO)),
        Err(_) => {
            // It may have cloned init before it died; cloning a second one would race it for
            // the id-map signal, so this spawn fails (the next ones clone directly).
            server.abandon(link);
            Launch::Lost
        }
    }
}

/// After a launch the server died during: reaps the init it may have cloned (the caller's
/// child, through `CLONE_PARENT`). The caller has closed its ends of the sync pipe and the
/// report socket, so such an init finds the sync pipe closed, reports that failure with its
/// credentials (which name its pid) and exits; with no init, the socket reports end of file at
/// once.
pub(crate) fn reap_abandoned_init(report: &super::host_end::HostEnd) {
    // Bounded, should an init hang instead of exiting; it never does in practice.
    let limit = nix::sys::time::TimeVal::new(5, 0);
    let _ = nix::sys::socket::setsockopt(report, nix::sys::socket::sockopt::ReceiveTimeout, &limit);
    while let Some(message) = steps::receive(report.as_raw_fd(), true) {
        if let Some(pid) = message.pid {
            let mut status = 0;
            // SAFETY: status is a live int; a pid that is not our child gives ECHILD.
            unsafe { libc::waitpid(pid, &mut status, 0) };
        }
    }
}

/// The descriptors of a request, in the order the server expects them.
fn ordered(fds: &ChildFds) -> impl Iterator<Item = &OwnedFd> {
    [&fds.sync, &fds.report]
        .into_iter()
        .chain(fds.stdio.iter().flatten())
        .chain(fds.passed.iter().map(|(fd, _)| fd))
}

fn send(channel: &mut Comms, request: &Request, fds: &ChildFds) -> Result<(), CommsError> {
    channel.send_bytes(&request.encode())?;
    let fds: Vec<_> = ordered(fds).map(|fd| fd.as_fd()).collect();
    send_fds(channel, &fds)
}

/// Sends a request's descriptors after its bytes: one message for up to [`Comms::MAX_FDS`],
/// more for more (see [`receive`]).
pub(super) fn send_fds(channel: &mut Comms, fds: &[BorrowedFd<'_>]) -> Result<(), CommsError> {
    fds.chunks(Comms::MAX_FDS)
        .try_for_each(|chunk| channel.send_fds(chunk))
}

/// The server's main: never returns.
fn serve(channel: OwnedFd, die_after_clone: bool) -> ! {
    // SAFETY: prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) };
    // Nothing of the host's stays: no handler of its runs here, no descriptor stays open.
    // Where either cannot be made sure of, no server: the host then clones directly.
    if sys::reset_signals() < 0 || super::raw::close_all_but(&[channel.as_raw_fd() as u32]) < 0 {
        sys::exit(1)
    }
    // Network namespaces made ahead by a thread of this process's own, for spares and fresh
    // clones alike.
    super::netns::start_over_in_this_process();
    let Ok(mut channel) = Comms::from_fd(channel) else {
        sys::exit(1)
    };
    let mut spare: Option<Spare> = None;
    let mut launched = Launched::default();
    let mut last: Option<Last> = None;
    loop {
        // Sandboxes that end meanwhile are let go, and their mounts with them.
        while launched.wait(channel.as_raw_fd(), None) != Woken::Request {}
        let follows_last = last
            .as_ref()
            .is_some_and(|l| follows_at_once(&launched, l.init));
        // A request that cannot be read leaves the channel out of step: stop (the host closing
        // its end is the usual case). One that is read but cannot be carried out gets its errno
        // back, and the server serves on.
        let Incoming {
            bytes,
            request,
            fds,
            ..
        } = match receive(&mut channel, StartPipe::Never) {
            Ok(incoming) => incoming,
            Err(ReceiveError::NoRoom) => {
                // Read whole but not all its descriptors fit (the host may have raised its
                // open-files limit since this server started): nothing is cloned, and the host
                // clones this sandbox directly.
                let reply = Message::Reply(Reply {
                    result: -i64::from(libc::EMFILE),
                    made_ahead: false,
                });
                if reply.send(&mut channel).is_err() {
                    sys::exit(0);
                }
                continue;
            }
            Err(ReceiveError::Broken(_)) => sys::exit(0),
        };
        let key = request.namespace_key();
        let again = follows_last && last.as_ref().is_some_and(|l| l.key == key);
        // Only a sandbox asked for again back to back has its start waited for, through a
        // start pipe (without one, should it not be made, its spare comes as for any other).
        let start = again.then(|| start_pipe(&request).ok()).flatten();
        let start_end = start.as_ref().map(|(_, write)| write);
        // Every descriptor of the request is handed on and closed here before the reply: the
        // host's pipes must end when the sandbox's ends do, not when the server next idles.
        // So is the start pipe's write end: only init holds it from now on.
        let served = match spare.take() {
            Some(mut s) => {
                let served = s.serve(&request, &key, &bytes, fds, start_end);
                // Served or let go (then the host ends it), the spare is watched to its end.
                if let Some(w) = s.into_watched(served.is_ok()) {
                    launched.add(w);
                }
                served
            }
            None => Err(fds),
        };
        let (result, made_ahead) = match served {
            Ok(pid) => (i64::from(pid), true),
            Err(received) => {
                // The received originals are closed before the clone, so init does not get
                // them too: only their placed copies.
                let result = match place(&request, received) {
                    Ok(fds) => clone_init(request, &fds, start_end),
                    Err(u) => -i64::from(u.error.raw_os_error().unwrap_or(libc::EIO)),
                };
                (result, false)
            }
        };
        let started = start.map(|(read, _)| read);
        if die_after_clone && result > 0 {
            // SAFETY: a signal to this process.
            unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
        }
        let pid = libc::pid_t::try_from(result).ok().filter(|pid| *pid > 0);
        // Watched from before the reply: until the host knows the pid, nobody can have reaped
        // it, and init still waits for its id maps (see [`Watched::new`]).
        if let Some(w) = pid.filter(|_| !made_ahead).and_then(Watched::new) {
            launched.add(w);
        }
        let reply = Message::Reply(Reply { result, made_ahead });
        if reply.send(&mut channel).is_err() {
            sys::exit(0);
        }
        // The next sandbox like this one is made once this one has started its program when
        // the host asks for the same sandbox again back to back, else once this one has ended
        // and the server has then been idle for a moment (see [`time_for_a_spare`]).
        last = pid.map(|init| Last { init, key });
        let wanted = |pid| time_for_a_spare(&channel, &mut launched, pid, started.as_ref());
        if pid.is_some_and(wanted) {
            let made = Request::decode(&bytes).map(Spare::make);
            let pid = match &made {
                Ok(Ok(s)) => Some(s.pid),
                Ok(Err(pid)) => *pid,
                Err(_) => None,
            };
            // The host learns of every spare at once, so that it can end them should it give
            // the server up before the next reply.
            if let Some(pid) = pid {
                if Message::SpareMade(pid).send(&mut channel).is_err() {
                    sys::exit(0);
                }
            }
            spare = made.ok().and_then(Result::ok);
        }
    }
}

/// How long the server waits for another request, after the sandbox it launched last has
/// ended, before it makes a spare: the host's own end of that sandbox (reaping it, reading its
/// outcome) and whatever it starts next come first. A request that comes within this time of
/// the end of the sandbox launched before it (or while that one still runs) comes back to
/// back: the host is not pausing between sandboxes, so the next spare is made beside the run
/// (see [`time_for_a_spare`]).
const IDLE_BEFORE_SPARE: Duration = Duration::from_millis(5);

/// The sandbox the server launched last.
struct Last {
    /// Its init's pid.
    init: libc::pid_t,
    /// Its request's [`Request::namespace_key`].
    key: Vec<u8>,
}

/// Whether a request that comes now follows the sandbox launched before it (`last`, its init's
/// pid) back to back: while that sandbox still runs, or within [`IDLE_BEFORE_SPARE`] of the
/// last end the server saw (that sandbox's, or one that ended after it).
fn follows_at_once(launched: &Launched, last: libc::pid_t) -> bool {
    launched.is_running(last)
        || launched
            .last_end()
            .is_some_and(|end| end.elapsed() < IDLE_BEFORE_SPARE)
}

/// How long the sandbox launched last may run before the spare is made beside it anyway: a
/// long run hardly notices the spare's set-up, and the next start-up still gets its help.
const SPARE_BESIDE_A_RUN_AFTER: Duration = Duration::from_secs(1);

/// Whether to make a spare now; `false` as soon as a request comes. Other sandboxes that end
/// meanwhile are let go.
///
/// With `started` (the read end of the start pipe of the sandbox launched last, given when
/// the host asked for the same sandbox as the one before, back to back): once that sandbox has
/// started its program (or ended), or has been setting up for [`SPARE_BESIDE_A_RUN_AFTER`].
/// Requests that come back to back leave no idle time to make it in: made beside the run, it
/// is ready for the next one, and the sandbox's own set-up is over, so the two do not contend
/// for the kernel's mount locks. A host alternating between configurations gets no spare
/// made this way, as it could use none.
///
/// Otherwise: once that sandbox (`last`, its init's pid) has ended, or has run for
/// [`SPARE_BESIDE_A_RUN_AFTER`], and then no request has come for [`IDLE_BEFORE_SPARE`]. When
/// that sandbox is not watched (see [`Launched::add`]), only the idle wait counts. Made while
/// the sandbox runs, the spare's kernel work (new namespaces, mounts, the RCU grace periods of
/// the detach) slows the program running beside it (the benchmark's `split` section times a
/// program's own run, from its exec to its exit): a host that pauses between sandboxes has it
/// made in the pause instead.
fn time_for_a_spare(
    channel: &Comms,
    launched: &mut Launched,
    last: libc::pid_t,
    started: Option<&OwnedFd>,
) -> bool {
    let fd = channel.as_raw_fd();
    if let Some(started) = started {
        return launched.wait_for_start(fd, started.as_raw_fd(), SPARE_BESIDE_A_RUN_AFTER);
    }
    let waits = [
        (SPARE_BESIDE_A_RUN_AFTER, Some(last)),
        (IDLE_BEFORE_SPARE, None),
    ];
    for (time, until_ended) in waits {
        let deadline = std::time::Instant::now() + time;
        while until_ended.is_none_or(|pid| launched.is_running(pid)) {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match launched.wait(fd, Some(left)) {
                // A request (or an error, which the caller's read then meets) came first.
                Woken::Request => return false,
                Woken::TimedOut => break,
                Woken::Ended => {}
            }
        }
    }
    true
}

/// The server's answer to one request.
struct Reply {
    /// The pid of the sandbox's init (the caller's child), or a negative errno.
    result: i64,
    /// Whether init is a spare, made ahead with its id maps already written.
    made_ahead: bool,
}

/// What the server sends the host: the reply to each request, and, after it, the pid of each
/// spare it makes.
enum Message {
    Reply(Reply),
    SpareMade(libc::pid_t),
}

impl Message {
    const REPLY: i64 = 1;
    const SPARE_MADE: i64 = 2;

    fn send(&self, channel: &mut Comms) -> Result<(), CommsError> {
        match self {
            Message::Reply(r) => {
                channel.send_i64(Self::REPLY)?;
                channel.send_i64(r.result)?;
                channel.send_i64(r.made_ahead.into())
            }
            Message::SpareMade(pid) => {
                channel.send_i64(Self::SPARE_MADE)?;
                channel.send_i64(i64::from(*pid))
            }
        }
    }

    fn recv(channel: &mut Comms) -> Result<Message, CommsError> {
        match channel.recv_i64()? {
            Self::REPLY => Ok(Message::Reply(Reply {
                result: channel.recv_i64()?,
                made_ahead: channel.recv_i64()? != 0,
            })),
            Self::SPARE_MADE => {
                let pid = channel.recv_i64()?;
                libc::pid_t::try_from(pid)
                    .ok()
                    .filter(|p| *p > 0)
                    .map(Message::SpareMade)
                    .ok_or(CommsError::Io(io::Error::from_raw_os_error(libc::EPROTO)))
            }
            _ => Err(CommsError::Io(io::Error::from_raw_os_error(libc::EPROTO))),
        }
    }
}

/// One request as the server (or a spare) reads it.
pub(super) struct Incoming {
    /// The request's bytes, as received (a spare is handed them as they are).
    pub bytes: Vec<u8>,
    pub request: Request,
    /// Its descriptors, in the order [`ordered`] sends them.
    pub fds: Vec<OwnedFd>,
    /// The write end of the launch's start pipe, when the server hands a spare one after the
    /// request's descriptors (see [`super::spare::Spare::serve`]).
    pub started: Option<OwnedFd>,
}

/// Hands a request to a spare: its bytes as received, its descriptors, then a message with the
/// start pipe's write end, or with none (read by [`receive`] with [`StartPipe::Follows`]).
pub(super) fn hand_over(
    channel: &mut Comms,
    bytes: &[u8],
    fds: &[OwnedFd],
    started: Option<&OwnedFd>,
) -> Result<(), CommsError> {
    channel.send_bytes(bytes)?;
    let fds: Vec<_> = fds.iter().map(|fd| fd.as_fd()).collect();
    send_fds(channel, &fds)?;
    let start: Vec<_> = started.iter().map(|fd| fd.as_fd()).collect();
    channel.send_fds(&start)
}

/// Whether a request's descriptors are followed by a message with the start pipe's write end
/// (or with none): only when the server hands a request to a spare.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum StartPipe {
    /// From the host: the request's descriptors only.
    Never,
    /// From the server to a spare: then zero or one more, in a message of its own.
    Follows,
}

/// Why [`receive`] could not take a request.
#[derive(Debug, thiserror::Error)]
pub(super) enum ReceiveError {
    /// The request was read whole, but its descriptors did not all fit in this process's
    /// descriptor table: the channel is still in step, and the request is refused (`EMFILE`).
    #[error("the request's descriptors did not all fit in the descriptor table")]
    NoRoom,
    /// Anything else; the channel is out of step.
    #[error("{0}")]
    Broken(Box<dyn std::error::Error>),
}

/// A [`ReceiveError::Broken`] of `e`.
fn broken(e: impl Into<Box<dyn std::error::Error>>) -> ReceiveError {
    ReceiveError::Broken(e.into())
}

/// Reads one request and its descriptors: one message of them for up to [`Comms::MAX_FDS`]
/// (its bytes say how many), as [`send_fds`] sends them. Messages whose descriptors did not all
/// fit are still read to the request's end, so that a full descriptor table refuses one request
/// ([`ReceiveError::NoRoom`]) without putting the channel out of step.
pub(super) fn receive(
    channel: &mut Comms,
    start_pipe: StartPipe,
) -> Result<Incoming, ReceiveError> {
    let bytes = channel.recv_bytes().map_err(broken)?;
    let request = Request::decode(&bytes).map_err(broken)?;
    let count = 2 + request.stdio.iter().filter(|s| **s).count() + request.passed_targets.len();
    let mut fds = Vec::with_capacity(count);
    // Descriptors the messages so far announced, whether or not they all came.
    let mut announced = 0;
    let mut no_room = false;
    while announced < count {
        match channel.recv_fds() {
            Ok(more) if more.is_empty() => {
                return Err(broken(
                    "a message of a request's descriptors came with none",
                ))
            }
            Ok(more) => {
                announced += more.len();
                fds.extend(more);
            }
            Err(CommsError::DescriptorsCut { announced: n }) if n > 0 => {
                announced += n as usize;
                no_room = true;
            }
            Err(e) => return Err(broken(e)),
        }
    }
    if announced != count {
        return Err(broken(format!(
            "a request with {count} descriptors came with {announced}"
        )));
    }
    let started = match start_pipe {
        StartPipe::Never => None,
        StartPipe::Follows => match channel.recv_fds() {
            Ok(mut last) if last.len() <= 1 => last.pop(),
            Ok(_) => return Err(broken("more than one start pipe came with a request")),
            Err(CommsError::DescriptorsCut { announced: 1 }) => {
                no_room = true;
                None
            }
            Err(e) => return Err(broken(e)),
        },
    };
    if no_room {
        return Err(ReceiveError::NoRoom);
    }
    Ok(Incoming {
        bytes,
        request,
        fds,
        started,
    })
}

/// The lowest number a descriptor init holds may take: above the standard streams and every
/// number a passed descriptor takes.
pub(super) fn lowest_for_init(request: &Request) -> RawFd {
    request
        .passed_targets
        .iter()
        .copied()
        .max()
        .unwrap_or(2)
        .max(2)
        + 1
}

/// The start pipe of a launch, read end first: init holds the write end until its sandboxee
/// has exec'd (see [`Plan::keep_until_started`]), so the read end hanging up tells the server
/// the sandbox is running. The write end is numbered as init's own descriptors are.
fn start_pipe(request: &Request) -> io::Result<(OwnedFd, OwnedFd)> {
    let (read, write) = super::pipe()?;
    let write = relocate(&write, lowest_for_init(request))?;
    Ok((read, write))
}

/// A request's descriptors that could not all be placed: why, and its report socket (moved
/// or as received), for a spare to report the failure on.
pub(super) struct Unplaced {
    pub error: io::Error,
    pub report: Option<OwnedFd>,
}

/// Gives the received descriptors their roles, each moved above every number a passed
/// descriptor takes (as on the host), and closes each one received as soon as its copy is
/// made: the descriptor table holds one more than the request at most, not twice as many.
pub(super) fn place(request: &Request, received: Vec<OwnedFd>) -> Result<ChildFds, Unplaced> {
    let min = lowest_for_init(request);
    let missing = || io::Error::from_raw_os_error(libc::EPROTO);
    let mut received = received.into_iter();
    let sync = received
        .next()
        .ok_or_else(missing)
        .and_then(|fd| relocate(&fd, min));
    let report = received.next();
    let (sync, report) = match (sync, report) {
        (Ok(sync), Some(report)) => match relocate(&report, min) {
            Ok(placed) => (sync, placed),
            Err(error) => {
                return Err(Unplaced {
                    error,
                    report: Some(report),
                })
            }
        },
        (Ok(_), None) => {
            return Err(Unplaced {
                error: missing(),
                report: None,
            })
        }
        (Err(error), report) => return Err(Unplaced { error, report }),
    };
    let mut next = || {
        received
            .next()
            .ok_or_else(missing)
            .and_then(|fd| relocate(&fd, min))
    };
    let rest = (|| {
        let mut stdio: [Option<OwnedFd>; 3] = [None, None, None];
        for (slot, present) in stdio.iter_mut().zip(request.stdio) {
            if present {
                *slot = Some(next()?);
            }
        }
        let passed = request
            .passed_targets
            .iter()
            .map(|t| Ok((next()?, *t as RawFd)))
            .collect::<io::Result<_>>()?;
        Ok((stdio, passed))
    })();
    match rest {
        Ok((stdio, passed)) => Ok(ChildFds {
            sync,
            report,
            stdio,
            passed,
        }),
        Err(error) => Err(Unplaced {
            error,
            report: Some(report),
        }),
    }
}

/// Clones init for the request, holding `started` (its start pipe's write end, if it has
/// one) until its sandboxee has exec'd; the reply is its pid or a negative errno.
fn clone_init(request: Request, fds: &ChildFds, started: Option<&OwnedFd>) -> i64 {
    let mut plan = match Plan::assemble(request.parts, fds) {
        Ok(p) => p,
        Err(e) => return -i64::from(e.raw_os_error().unwrap_or(libc::EIO)),
    };
    if let Some(fd) = started {
        plan.keep_until_started(fd.as_raw_fd());
    }
    // CLONE_PARENT makes the host init's parent.
    let parent = libc::CLONE_PARENT as libc::c_ulong;
    match super::netns::clone_for(&mut plan, |plan| init::clone(plan, parent, init::run)) {
        Ok(pid) => i64::from(pid),
        Err(e) => -i64::from(e.raw_os_error().unwrap_or(libc::EIO)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    /// The inode of what `fd` refers to: each pipe has its own.
    fn inode(fd: &OwnedFd) -> u64 {
        let dup = fd.try_clone().unwrap();
        std::fs::File::from(dup).metadata().unwrap().ino()
    }

    fn pipe_end() -> OwnedFd {
        super::super::pipe().unwrap().0
    }

    /// A connected pair whose receiving end gives up after a while, so that a message that
    /// never comes fails the test instead of hanging it.
    fn channel() -> (Comms, Comms) {
        let (sender, receiver_end) = Comms::pair().unwrap();
        let receiver = Comms::from_fd(receiver_end).unwrap();
        receiver.set_timeout(Some(Duration::from_secs(5))).unwrap();
        (sender, receiver)
    }

    /// A request with `passed` passed descriptors, and descriptors for it (pipes' read ends).
    fn request_with(passed: usize) -> (Request, ChildFds) {
        let mut request = super::super::wire::tests::request();
        request.passed_targets = (0..passed).map(|i| 10 + i as i32).collect();
        let fds = ChildFds {
            sync: pipe_end(),
            report: pipe_end(),
            stdio: request.stdio.map(|present| present.then(pipe_end)),
            passed: (0..passed).map(|i| (pipe_end(), 10 + i as RawFd)).collect(),
        };
        (request, fds)
    }

    #[test]
    fn a_request_with_more_descriptors_than_one_message_carries_arrives_in_order() {
        let (mut host, mut server) = channel();
        let (request, fds) = request_with(Comms::MAX_FDS + 5);
        send(&mut host, &request, &fds).unwrap();
        let incoming = receive(&mut server, StartPipe::Never).unwrap();
        let sent: Vec<u64> = ordered(&fds).map(inode).collect();
        let got: Vec<u64> = incoming.fds.iter().map(inode).collect();
        assert_eq!(got, sent);
        assert!(incoming.started.is_none());
    }

    /// A request whose descriptors do not all fit is refused as such, and read whole: the
    /// next request on the channel arrives as sent.
    #[test]
    fn a_request_whose_descriptors_do_not_fit_is_refused_and_the_channel_stays_in_step() {
        let (mut host, mut server) = channel();
        server.with_room_for(2);
        let (request, fds) = request_with(Comms::MAX_FDS + 5);
        send(&mut host, &request, &fds).unwrap();
        let e = receive(&mut server, StartPipe::Never).err().unwrap();
        assert!(matches!(e, ReceiveError::NoRoom), "{e}");
        server.with_room_for(Comms::MAX_FDS);
        let (small, fds) = request_with(0);
        send(&mut host, &small, &fds).unwrap();
        let incoming = receive(&mut server, StartPipe::Never).unwrap();
        let sent: Vec<u64> = ordered(&fds).map(inode).collect();
        let got: Vec<u64> = incoming.fds.iter().map(inode).collect();
        assert_eq!(got, sent);
    }

    #[test]
    fn a_spare_gets_the_start_pipe_when_there_is_one_and_none_when_not() {
        for with_start in [false, true] {
            let (mut server, mut spare) = channel();
            let (request, fds) = request_with(2);
            let start = pipe_end();
            let handing: Vec<OwnedFd> = ordered(&fds).map(|fd| fd.try_clone().unwrap()).collect();
            let started = Some(&start).filter(|_| with_start);
            hand_over(&mut server, &request.encode(), &handing, started).unwrap();
            let incoming = receive(&mut spare, StartPipe::Follows).unwrap();
            assert_eq!(incoming.fds.len(), handing.len());
            let started = incoming.started.as_ref().map(inode);
            assert_eq!(
                started,
                with_start.then(|| inode(&start)),
                "with_start {with_start}"
            );
        }
    }

    /// Sends a request with two passed descriptors, then the messages of descriptors
    /// `send_fds` makes of its own (and one more pipe end), and returns why the server
    /// refused it and how long that took.
    fn refused(
        send_fds: impl for<'a> FnOnce(&mut Comms, Vec<BorrowedFd<'a>>, BorrowedFd<'a>),
    ) -> (String, Duration) {
        let (mut host, mut server) = channel();
        let (request, fds) = request_with(2);
        let extra = pipe_end();
        host.send_bytes(&request.encode()).unwrap();
        send_fds(
            &mut host,
            ordered(&fds).map(|fd| fd.as_fd()).collect(),
            extra.as_fd(),
        );
        let begun = std::time::Instant::now();
        let e = receive(&mut server, StartPipe::Never).err().unwrap();
        (e.to_string(), begun.elapsed())
    }

    #[test]
    fn a_request_whose_descriptors_fall_short_is_refused() {
        let (e, took) = refused(|host, fds, _| {
            host.send_fds(&fds[..2]).unwrap();
            host.send_fds(&[]).unwrap();
        });
        assert!(e.contains("came with none"), "{e}");
        assert!(took < Duration::from_secs(2), "it waited for more");
    }

    #[test]
    fn a_request_with_more_descriptors_than_it_names_is_refused() {
        let (e, _) = refused(|host, mut fds, extra| {
            fds.push(extra);
            host.send_fds(&fds).unwrap();
        });
        assert!(e.contains("came with 7"), "{e}");
    }
}
