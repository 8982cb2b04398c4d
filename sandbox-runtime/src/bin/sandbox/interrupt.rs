//! What `run` and `learn` do on SIGINT, SIGTERM or SIGHUP (Ctrl-C, `kill`, a closed terminal), and
//! on the other signals whose default is to end a process and that another process sends (SIGQUIT,
//! SIGUSR1, SIGUSR2, SIGALRM): end the sandbox and then the command, so that the sandbox's cgroup
//! is removed and the report says it was killed, instead of the command dying at once and leaving
//! both to the kernel's parent-death signal and the next run.
//!
//! The signals are blocked before any thread starts (every thread then has them blocked, and
//! the runtime resets the mask of the sandbox's processes), and one thread takes them with
//! `sigwait`: no code runs in a signal handler.

use crate::console::errln;
use nix::sys::signal::{SigSet, Signal};
use sandbox_runtime::SandboxKiller;
use std::process::ExitCode;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};

/// The signals that end the command. (SIGPIPE keeps its default, as for any Unix tool: see
/// `main`.)
const ENDING: [Signal; 7] = [
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGALRM,
];

/// The ending signals the command was not started with ignored, as a set. One it was started
/// with ignored (`nohup`, a background job of a shell without job control) stays ignored: a
/// blocked signal is never discarded as ignored, so taking it here would end the command.
fn ending() -> SigSet {
    let mut set = SigSet::empty();
    for s in ENDING.into_iter().filter(|s| !ignored(*s)) {
        set.add(s);
    }
    set
}

/// Whether `signal`'s action is to be ignored (the command never changes it).
fn ignored(signal: Signal) -> bool {
    // SAFETY: an all-zero sigaction is valid to be written into.
    let mut current: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: reads the action only (no new one is given) into a live sigaction.
    let r = unsafe { libc::sigaction(signal as libc::c_int, std::ptr::null(), &mut current) };
    r == 0 && current.sa_sigaction == libc::SIG_IGN
}

/// Blocks the ending signals in the calling thread; call it before any thread is started.
pub fn block() {
    let _ = ending().thread_block();
}

/// Which ending signal came, if one did: see [`Watch`].
#[derive(Clone, Debug, Default)]
pub struct Received(Arc<AtomicI32>);

impl Received {
    /// The command's exit status after an ending signal, 128 + its number, if one came.
    pub fn exit_code(&self) -> Option<ExitCode> {
        let signal = self.0.load(Ordering::SeqCst);
        (signal != 0).then(|| ExitCode::from(128 + signal as u8))
    }
}

/// Ends the command by `signal`'s default action (the sandbox's init dies with it, by its
/// parent-death signal).
fn end_now(signal: Signal) {
    let _ = ending().thread_unblock();
    let _ = nix::sys::signal::raise(signal);
}

/// The thread that takes the ending signals, from before the sandbox is made: until
/// [`Watch::arm`] gives it the sandbox, a signal ends the command at once (finding a hostile
/// binary's libraries may take a while, and nothing of a sandbox runs yet: an init already
/// cloned dies with the command, by its parent-death signal); after, it kills the sandbox and
/// the command ends once the sandbox has.
pub struct Watch {
    killer: Arc<Mutex<Option<SandboxKiller>>>,
    received: Received,
}

impl Watch {
    /// Hands the sandbox to the watch; what it returns says which signal came, if one did.
    pub fn arm(self, killer: SandboxKiller) -> Received {
        *self.killer.lock().unwrap_or_else(|e| e.into_inner()) = Some(killer);
        self.received
    }
}

/// Starts the thread that waits for an ending signal (see [`Watch`]).
pub fn watch() -> Watch {
    watch_with(Box::new(|_| {}))
}

/// [`watch`], running `before_ending` on a signal that comes before [`Watch::arm`], just before
/// it ends the command (`run` writes its report there).
pub fn watch_with(before_ending: Box<dyn FnOnce(Signal) + Send>) -> Watch {
    let received = Received::default();
    let killer: Arc<Mutex<Option<SandboxKiller>>> = Arc::default();
    let (noted, armed) = (received.clone(), Arc::clone(&killer));
    let started = std::thread::Builder::new()
        .name("sandbox-signals".into())
        .spawn(move || {
            let Ok(signal) = ending().wait() else {
                return;
            };
            noted.0.store(signal as i32, Ordering::SeqCst);
            let killer = armed.lock().unwrap_or_else(|e| e.into_inner()).clone();
            match killer {
                None => {
                    before_ending(signal);
                    end_now(signal)
                }
                Some(killer) => {
                    if let Err(e) = killer.kill() {
                        errln!("sandbox: cannot kill the sandbox on {signal}: {e}");
                        end_now(signal);
                    }
                }
            }
            // The run now ends as usual. A second signal (the user pressing Ctrl-C again while
            // the end takes long) ends the command at once; the sandbox dies with it.
            if let Ok(again) = ending().wait() {
                end_now(again);
            }
        });
    if started.is_err() {
        // Without the thread, the signals end the command at once, as by default; the
        // sandbox still dies with it (its init's parent-death signal).
        let _ = ending().thread_unblock();
    }
    Watch { killer, received }
}
