//! Network namespaces made ahead for sandboxes cloned directly from the host, and for those the
//! fork server clones.
//!
//! Making a network namespace is the largest part of what a new one costs a start-up (0.6 ms
//! of the clone here, against about 0.1 ms to bring `lo` up: `examples/netns_cost.rs`), and the
//! clone makes it on the way to everything else. A host that may make network namespaces
//! (root, or `CAP_SYS_ADMIN` in its user namespace) instead keeps one made ahead, with `lo` up,
//! by a runtime thread (`sandbox-netns`), which makes the next as soon as one is taken. The
//! spawning thread enters it for its one clone system call, signals blocked, and goes back to
//! the namespace it was in: init inherits it without `CLONE_NEWNET`. The maker starts at the
//! second sandbox that asks for a network namespace of its own (a host that runs one sandbox
//! never has it); the first two, and any for which none is ready yet, get a new one from their
//! clone as before, so waiting for one never slows a start-up. While the host runs, one such
//! namespace waits.
//!
//! The fork server, a process forked from the host on one thread, starts over
//! ([`start_over_in_this_process`]) with a maker of its own, from its first sandbox with a
//! network namespace on, for its spares and its fresh clones alike: a spare made back to back
//! with the sandbox before it would otherwise make its namespace on the way to the next
//! start-up, and a host that alternates between kinds of sandbox gets fresh clones only.
//!
//! Each namespace serves one sandbox, never a second, and nothing else ever enters it. It is
//! owned by the host's user namespace instead of the sandbox's, so no process of the sandbox
//! has any capability in it (init, which had them there to bring `lo` up, no longer needs
//! them; the sandboxee drops all its capabilities either way). What tells such a sandbox from
//! one whose namespace its clone made: `NS_GET_USERNS` on it is refused, `/proc/sys/net` shows
//! a few more (read-only) entries, and no sysfs could be mounted for it (the runtime mounts
//! none). The spare's descriptor is close-on-exec, and init closes every descriptor of the
//! host's it does not use before it clones the sandboxee. Any other process forked from the
//! host (by any means, whatever its pid) has a copy of the spare's descriptor but not the
//! thread, and takes nothing (see [`super::this_process`]), so no spare can serve two sandboxes.
//!
//! The maker starts in the network namespace of the thread that asked for the second sandbox,
//! goes back there after making each namespace, and keeps it open. It stops for good at its
//! first failure (the host may not make namespaces, has run out of descriptors, ...); so does
//! taking, once a spawning thread could not enter a namespace or could not come back to its own
//! (a host filter that refuses `setns`, threads in namespaces of user namespaces the host has
//! no capability in). A host filter that kills on `unshare` or `setns` would kill the host.

use super::plan::Plan;
use super::this_process::ThisProcess;
use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU8, Ordering};
use std::sync::{Condvar, Mutex};

/// A network namespace made ahead, `lo` up, for one sandbox.
pub(crate) struct MadeAhead(OwnedFd);

/// The maker's state, shared with the spawning threads.
struct Pool {
    /// The process that started the maker: a process forked from it has none.
    here: ThisProcess,
    /// Set by the maker's thread once it is past its start.
    running: AtomicBool,
    /// The namespace ready for the next sandbox, if the maker has made it.
    spare: Mutex<Option<OwnedFd>>,
    /// Signalled when the spare is taken.
    taken: Condvar,
}

/// Where the maker is: not asked for yet, being started, running, or never to run.
static STATE: AtomicU8 = AtomicU8::new(IDLE);
const IDLE: u8 = 0;
const STARTING: u8 = 1;
const RUNNING: u8 = 2;
const NEVER: u8 = 3;

/// The maker's state, set before [`STATE`] becomes [`RUNNING`].
static POOL: AtomicPtr<Pool> = AtomicPtr::new(std::ptr::null_mut());

/// Set by the first [`take`]: the second starts the maker.
static ASKED_BEFORE: AtomicBool = AtomicBool::new(false);

/// Set when a spawning thread could not enter a namespace made ahead, or could not have come
/// back from it: no more are taken.
static REFUSED: AtomicBool = AtomicBool::new(false);

/// The calling thread's network namespace, as `setns` takes it.
const OWN_NAMESPACE: &CStr = c"/proc/thread-self/ns/net";

/// Clones init for `plan` with `clone`: in the network namespace made ahead when the plan asks
/// for a new one and one is ready (see [`take`]), else with the clone making one.
pub(crate) fn clone_for<T>(plan: &mut Plan, clone: impl Fn(&Plan) -> T) -> T {
    if let Some(made) = plan.parts.new_net.then(take).flatten() {
        plan.net_made_ahead = true;
        let ready = &*plan;
        if let Ok(cloned) = made.enter_for(|| clone(ready)) {
            return cloned;
        }
    }
    plan.net_made_ahead = false;
    clone(plan)
}

/// Has this process, forked from the host on one thread to serve it (the fork server), make
/// namespaces ahead of its own, from its first sandbox that asks for one on: forgets the state
/// copied from the host, whose maker thread it does not have, and whose descriptors it has
/// closed (the copy is never dropped, so none of those descriptor numbers is closed again).
/// Call before the process starts any thread.
///
/// The server's spares are copies of it that allocate, so the maker must hold no lock a spare
/// could need whenever the server clones: the server waits for the maker's thread to be past
/// its start (where the C library and `std` may allocate) before it clones again, and from
/// there on the maker makes only system calls and takes only its own lock, which no spare
/// uses; it never ends (an ending thread frees its thread-local state).
pub(crate) fn start_over_in_this_process() {
    POOL.store(std::ptr::null_mut(), Ordering::Release);
    STATE.store(IDLE, Ordering::Release);
    REFUSED.store(false, Ordering::Relaxed);
    ASKED_BEFORE.store(true, Ordering::Relaxed);
    WAIT_FOR_THE_START.store(true, Ordering::Relaxed);
}

/// Set by [`start_over_in_this_process`]: [`take`] returns only once the maker it starts runs.
static WAIT_FOR_THE_START: AtomicBool = AtomicBool::new(false);

/// Takes the network namespace made ahead, if one is ready in this process, and has the next
/// one made. `None` from the first call, from the second, which starts the maker, from every
/// call in a process forked from the one that started it, and from every call once the maker
/// has stopped or taking has (see the module's docs). Waits for the maker's start only in the
/// fork server (see [`start_over_in_this_process`]).
pub(crate) fn take() -> Option<MadeAhead> {
    if REFUSED.load(Ordering::Relaxed) || !ASKED_BEFORE.swap(true, Ordering::Relaxed) {
        return None;
    }
    match STATE.compare_exchange(IDLE, STARTING, Ordering::AcqRel, Ordering::Acquire) {
        Ok(_) => {
            let started = start();
            STATE.store(if started { RUNNING } else { NEVER }, Ordering::Release);
            return None;
        }
        Err(RUNNING) => {}
        Err(_) => return None,
    }
    // SAFETY: set to a leaked, never freed pool before STATE became RUNNING (acquired above).
    let pool = unsafe { &*POOL.load(Ordering::Acquire) };
    // Checked before the lock: a forked process's copy of it may be held by a thread the
    // process does not have.
    if !pool.here.is_current() {
        return None;
    }
    let spare = pool
        .spare
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take()?;
    pool.taken.notify_one();
    Some(MadeAhead(spare))
}

/// Starts the maker's thread, with its state, which lives as long as the process. `false` if
/// the thread could not start.
fn start() -> bool {
    let pool: &'static Pool = Box::leak(Box::new(Pool {
        here: ThisProcess::mark(),
        running: AtomicBool::new(false),
        spare: Mutex::new(None),
        taken: Condvar::new(),
    }));
    POOL.store((pool as *const Pool).cast_mut(), Ordering::Release);
    // Not a `std::thread`, which would take locks that in the fork server are copies a thread
    // of the host might have held at the fork (see `super::detached`).
    let spawned =
        super::detached::spawn_detached("sandbox-netns", 256 << 10, move || make_ahead(pool));
    if spawned.is_ok() && WAIT_FOR_THE_START.load(Ordering::Relaxed) {
        while !pool.running.load(Ordering::Acquire) {
            std::thread::yield_now();
        }
    }
    spawned.is_ok()
}

/// The maker's thread: keeps one namespace ready, until making one fails; then waits for ever,
/// doing nothing. Every signal stays blocked on it: the host's handlers run on its own threads.
fn make_ahead(pool: &Pool) -> ! {
    let _blocked = super::sys::SignalsBlocked::now();
    pool.running.store(true, Ordering::Release);
    if let Ok(home) = open_own_namespace() {
        while let Ok(made) = make_one(&home) {
            let mut spare = pool.spare.lock().unwrap_or_else(|e| e.into_inner());
            *spare = Some(made);
            while spare.is_some() {
                spare = pool.taken.wait(spare).unwrap_or_else(|e| e.into_inner());
            }
        }
    }
    loop {
        // SAFETY: no arguments; with every signal blocked, it never returns.
        unsafe { libc::pause() };
    }
}

/// Makes a network namespace on this thread, brings its `lo` up, and returns this thread to
/// `home`. If it cannot go back, the maker stops with the error: it only ever makes
/// namespaces, and a namespace it is left in is never handed out.
fn make_one(home: &OwnedFd) -> io::Result<OwnedFd> {
    // SAFETY: unshare with an integer flag; it changes only this thread's network namespace.
    if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let made = if super::sys::loopback_up() == 0 {
        open_own_namespace()
    } else {
        Err(io::Error::last_os_error())
    };
    enter(home)?;
    made
}

/// A descriptor of the calling thread's network namespace.
fn open_own_namespace() -> io::Result<OwnedFd> {
    // SAFETY: a NUL-terminated path; open only reads it.
    let fd = unsafe { libc::open(OWN_NAMESPACE.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a descriptor just opened, owned here.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Moves the calling thread into the network namespace `ns`.
fn enter(ns: &OwnedFd) -> io::Result<()> {
    // SAFETY: setns on a live descriptor of a network namespace.
    if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Returns the calling thread to its network namespace when dropped, also when what ran in
/// between unwinds; aborts the process if it cannot, rather than let the thread go on in a
/// sandbox's.
struct GoesHome(OwnedFd);

impl Drop for GoesHome {
    fn drop(&mut self) {
        if let Err(e) = enter(&self.0) {
            // Written as is, whatever standard error is (a closed pipe, or in the fork server
            // a descriptor that is no file): `eprintln!` would panic and unwind instead.
            const MESSAGE: &[u8] = b"sandbox: cannot return the spawning thread to its network \
                namespace after a sandbox's clone; aborting rather than going on in the \
                sandbox's. errno ";
            let mut errno = *b"0000\n";
            let mut n = e.raw_os_error().unwrap_or(0).clamp(0, 9999);
            for digit in errno[..4].iter_mut().rev() {
                *digit = b'0' + (n % 10) as u8;
                n /= 10;
            }
            for part in [MESSAGE, &errno[..]] {
                // SAFETY: writes a live buffer; the result does not matter.
                unsafe { libc::write(2, part.as_ptr().cast(), part.len()) };
            }
            std::process::abort();
        }
    }
}

impl MadeAhead {
    /// Runs `clone` with the calling thread in this namespace and its signals blocked (no
    /// handler of the host runs in it), then returns the thread to the namespace it was in,
    /// and restores its mask. `Err`, with `clone` not run, if the thread could not enter this
    /// namespace, or could not come back to its own (tried first: the kernel asks the same of
    /// both moves, so a thread in a namespace of a user namespace the host has no capability
    /// in stays there): the caller then clones a new namespace instead, and no more are taken.
    pub(crate) fn enter_for<T>(self, clone: impl FnOnce() -> T) -> io::Result<T> {
        let refused = |e: io::Error| {
            REFUSED.store(true, Ordering::Relaxed);
            e
        };
        let home = open_own_namespace().map_err(refused)?;
        enter(&home).map_err(refused)?;
        let _blocked = super::sys::SignalsBlocked::now();
        enter(&self.0).map_err(refused)?;
        // Dropped before `_blocked`: home first, then the mask.
        let _home = GoesHome(home);
        Ok(clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn root() -> bool {
        // SAFETY: geteuid has no arguments and cannot fail.
        unsafe { libc::geteuid() == 0 }
    }

    /// Asks until a namespace made ahead comes (other tests take them too). Unprivileged, the
    /// host may not make one: `None`, once that is seen to stay so for a second.
    fn one_made_ahead() -> Option<MadeAhead> {
        let wait = Duration::from_secs(if root() { 10 } else { 1 });
        let deadline = Instant::now() + wait;
        while Instant::now() < deadline {
            if let Some(made) = take() {
                assert!(root(), "unprivileged, a network namespace was made ahead");
                return Some(made);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(
            !root(),
            "as root, no network namespace was made ahead in 10 s"
        );
        None
    }

    /// The calling thread's network namespace, by inode number.
    fn own_namespace() -> u64 {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata("/proc/thread-self/ns/net")
            .expect("stat /proc/thread-self/ns/net")
            .ino()
    }

    /// The calling thread's signal mask.
    fn signal_mask() -> libc::sigset_t {
        // SAFETY: sigset_t is plain data; pthread_sigmask only writes the old mask to it.
        unsafe {
            let mut mask = std::mem::zeroed();
            libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), &mut mask);
            mask
        }
    }

    fn blocks(mask: &libc::sigset_t, signal: libc::c_int) -> bool {
        // SAFETY: reads a live set.
        unsafe { libc::sigismember(mask, signal) == 1 }
    }

    /// Whether `lo` is up in the calling thread's network namespace.
    fn loopback_is_up() -> bool {
        let flags = super::super::sys::loopback_flags(false);
        let flags = flags.unwrap_or_else(|()| panic!("lo's flags: {}", io::Error::last_os_error()));
        flags & libc::IFF_UP as libc::c_short != 0
    }

    /// Asserts that the calling thread is in namespace `home` again, and no longer blocks
    /// SIGUSR1 (which the tests' threads do not block of their own).
    fn assert_back_home_with_its_mask(home: u64) {
        assert_eq!(own_namespace(), home, "the thread did not come back");
        assert!(
            !blocks(&signal_mask(), libc::SIGUSR1),
            "the mask did not come back"
        );
    }

    #[test]
    fn the_clone_runs_in_the_namespace_made_ahead_with_signals_blocked_and_both_come_back() {
        let Some(made) = one_made_ahead() else {
            return;
        };
        let (home, before) = (own_namespace(), signal_mask());
        assert!(
            !blocks(&before, libc::SIGUSR1),
            "the test thread blocks SIGUSR1 already"
        );
        let (inside, mask, up) = made
            .enter_for(|| (own_namespace(), signal_mask(), loopback_is_up()))
            .expect("the spawning thread enters the namespace");
        assert_ne!(inside, home, "the clone ran in the thread's own namespace");
        assert!(up, "lo is down in the namespace made ahead");
        for signal in [libc::SIGUSR1, libc::SIGTERM, libc::SIGINT, libc::SIGCHLD] {
            assert!(blocks(&mask, signal), "signal {signal} was not blocked");
        }
        assert_back_home_with_its_mask(home);
    }

    #[test]
    fn a_clone_that_unwinds_still_brings_the_thread_home_and_its_mask_back() {
        let Some(made) = one_made_ahead() else {
            return;
        };
        let home = own_namespace();
        let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            made.enter_for(|| panic!("a clone that unwinds"))
        }));
        assert!(unwound.is_err(), "the panic went through");
        assert_back_home_with_its_mask(home);
    }

    #[test]
    fn a_process_forked_from_the_host_takes_no_namespace_made_ahead() {
        if one_made_ahead().is_none() {
            return;
        }
        assert_eq!(STATE.load(Ordering::Acquire), RUNNING, "the maker runs");
        // SAFETY: set before STATE became RUNNING, never freed.
        let pool = unsafe { &*POOL.load(Ordering::Acquire) };
        // Held across the fork: the next namespace is ready, and a child that tried to take
        // it would wait for a lock no thread of its own can let go.
        let deadline = Instant::now() + Duration::from_secs(10);
        let ready = loop {
            let spare = pool.spare.lock().unwrap_or_else(|e| e.into_inner());
            if spare.is_some() {
                break spare;
            }
            drop(spare);
            assert!(Instant::now() < deadline, "no namespace made ahead in 10 s");
            std::thread::sleep(Duration::from_millis(5));
        };
        // SAFETY: the child only makes the atomic loads, the getpid and the _exit of `take`'s
        // way to refusing a process other than the maker's, all async-signal-safe.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            let took = take().is_some();
            // SAFETY: ends the child without running anything of the parent's.
            unsafe { libc::_exit(i32::from(took)) };
        }
        drop(ready);
        assert!(pid > 0, "fork: {}", io::Error::last_os_error());
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut status = 0;
        // SAFETY: waits for our own child, writing its status to a live int.
        while unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) } == 0 {
            if Instant::now() > deadline {
                // SAFETY: our own child, not yet reaped.
                unsafe { libc::kill(pid, libc::SIGKILL) };
                // SAFETY: as above.
                unsafe { libc::waitpid(pid, &mut status, 0) };
                panic!("the forked child waited for the host's namespace made ahead");
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(
            libc::WIFEXITED(status),
            "the child did not exit: {status:#x}"
        );
        assert_eq!(
            libc::WEXITSTATUS(status),
            0,
            "the forked child took the host's namespace"
        );
    }
}
