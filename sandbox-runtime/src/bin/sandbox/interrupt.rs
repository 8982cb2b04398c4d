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
use std::time::{Duration, Instant};

/// The signals that end the command. (SIGPIPE is ignored by `run` and `learn`, which write only
/// on standard error: see `main`.)
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
        self.signal().map(|s| ExitCode::from(128 + s as u8))
    }

    /// The ending signal that came, if one did.
    fn signal(&self) -> Option<Signal> {
        Signal::try_from(self.0.load(Ordering::SeqCst)).ok()
    }
}

/// Ends the command by `signal`'s default action (the sandbox's init dies with it, by its
/// parent-death signal).
fn end_now(signal: Signal) {
    let _ = ending().thread_unblock();
    let _ = nix::sys::signal::raise(signal);
}

/// How long the first ending signal, sent again, still counts as the same request to end (see
/// [`Watch`]): the sandbox's end takes milliseconds, so a second press of Ctrl-C that comes
/// later, while the end hangs, still ends the command at once.
const SAME_SIGNAL_AGAIN: Duration = Duration::from_secs(1);

/// Where the command is, as the signal thread sees it.
enum Phase {
    /// Finding the program and building its command: nothing of a sandbox exists yet.
    Preparing,
    /// Making the sandbox (its cgroups, its init): it is killed as soon as it is made.
    Making,
    /// The sandbox runs.
    Armed(SandboxKiller),
}

/// The thread that takes the ending signals, from before the sandbox is made. While the command
/// prepares, a signal ends it at once (finding a hostile binary's libraries may take a while,
/// and nothing of a sandbox exists yet). From [`Watch::making`] on, it waits for the sandbox to
/// be made, since a command that ended while its sandbox is being made would leave the
/// sandbox's cgroups behind for a later run to sweep; [`Watch::arm`] then kills it at once. Once
/// armed, a signal kills the sandbox and the command ends once the sandbox has. A second signal
/// ends the command at once (the sandbox dies with it, by its init's parent-death signal),
/// unless it is the first one again within [`SAME_SIGNAL_AGAIN`]: one end asked for twice, as
/// `timeout` asks, sending its signal to the command and then to the command's process group.
pub struct Watch {
    phase: Arc<Mutex<Phase>>,
    received: Received,
}

impl Watch {
    /// Says that the sandbox is about to be made: a signal from now on waits for it.
    pub fn making(&self) {
        *lock(&self.phase) = Phase::Making;
    }

    /// Hands the sandbox to the watch, which kills it now if a signal came while it was made;
    /// what it returns says which signal came, if one did.
    pub fn arm(self, killer: SandboxKiller) -> Received {
        let mut phase = lock(&self.phase);
        if let Some(signal) = self.received.signal() {
            kill_or_end(&killer, signal);
        }
        *phase = Phase::Armed(killer);
        drop(phase);
        self.received
    }

    /// Which signal came, if one did, for a command whose sandbox could not be made.
    pub fn received(&self) -> Received {
        self.received.clone()
    }
}

/// The phase, even if a thread panicked holding it (it is only ever replaced whole).
fn lock(phase: &Mutex<Phase>) -> std::sync::MutexGuard<'_, Phase> {
    phase.lock().unwrap_or_else(|e| e.into_inner())
}

/// Kills the sandbox on `signal`; ends the command at once if it cannot.
fn kill_or_end(killer: &SandboxKiller, signal: Signal) {
    if let Err(e) = killer.kill() {
        errln!("sandbox: cannot kill the sandbox on {signal}: {e}");
        end_now(signal);
    }
}

/// Starts the thread that waits for an ending signal (see [`Watch`]).
pub fn watch() -> Watch {
    watch_with(Box::new(|_| {}))
}

/// [`watch`], running `before_ending` on a signal that comes while the command prepares, just
/// before it ends the command (`run` writes its report there).
pub fn watch_with(before_ending: Box<dyn FnOnce(Signal) + Send>) -> Watch {
    let received = Received::default();
    let phase = Arc::new(Mutex::new(Phase::Preparing));
    let (noted, seen) = (received.clone(), Arc::clone(&phase));
    let started = std::thread::Builder::new()
        .name("sandbox-signals".into())
        .spawn(move || {
            let Ok(signal) = ending().wait() else {
                return;
            };
            let first_at = Instant::now();
            noted.0.store(signal as i32, Ordering::SeqCst);
            // Held until the command ends, if it ends here: the main thread cannot start
            // making the sandbox meanwhile.
            let phase = lock(&seen);
            match &*phase {
                Phase::Preparing => {
                    before_ending(signal);
                    end_now(signal)
                }
                // `arm` kills it, under this lock.
                Phase::Making => {}
                Phase::Armed(killer) => kill_or_end(killer, signal),
            }
            drop(phase);
            // The run now ends as usual. A second signal (the user pressing Ctrl-C again while
            // the end takes long) ends the command at once; the sandbox dies with it. The first
            // again, right away, asks for the same end.
            while let Ok(again) = ending().wait() {
                if again != signal || first_at.elapsed() >= SAME_SIGNAL_AGAIN {
                    end_now(again);
                }
            }
        });
    if started.is_err() {
        // Without the thread, the signals end the command at once, as by default; the
        // sandbox still dies with it (its init's parent-death signal).
        let _ = ending().thread_unblock();
    }
    Watch { phase, received }
}
