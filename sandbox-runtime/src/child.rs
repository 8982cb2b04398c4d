//! A running sandbox: wait for it, kill it, talk to it through its pipes. Dropping it kills
//! and reaps the whole sandbox.

use crate::deadline::Deadline;
use crate::monitor;
use crate::observations::Observations;
use crate::outcome::{Outcome, SetupError};
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::Duration;

/// A started sandbox. Shaped like [`std::process::Child`].
#[derive(Debug)]
pub struct SandboxChild {
    pid: u32,
    pidfd: Arc<OwnedFd>,
    killed: Arc<AtomicBool>,
    deadline: Arc<Deadline>,
    /// The program's standard input, when [`crate::Stdio::Piped`].
    pub stdin: Option<File>,
    /// The program's standard output, when [`crate::Stdio::Piped`].
    pub stdout: Option<File>,
    /// The program's standard error, when [`crate::Stdio::Piped`].
    pub stderr: Option<File>,
    /// The monitor thread's [`Outcome`]. After sending it, the thread only reaps init (which
    /// ends on its own: nothing else of the sandbox runs by then) and lets go of what it kept of
    /// a directly cloned sandbox (its plan and a reference to its mount namespace), so nothing
    /// waits for the thread itself to end.
    result: Receiver<Outcome>,
    outcome: Option<Outcome>,
    observations: Option<Observations>,
}

/// Kills a sandbox, or changes its wall-time limit, from any thread: see
/// [`SandboxChild::killer`]. It holds two descriptors (the sandbox's init's pidfd and the
/// monitor's wake-up) until dropped, also after the sandbox has ended.
#[derive(Clone, Debug)]
pub struct SandboxKiller {
    pidfd: Arc<OwnedFd>,
    killed: Arc<AtomicBool>,
    deadline: Arc<Deadline>,
}

impl SandboxKiller {
    /// Kills the whole sandbox, as [`SandboxChild::kill`] does. Killing a sandbox that has
    /// ended is not an error.
    pub fn kill(&self) -> io::Result<()> {
        self.killed.store(true, Ordering::SeqCst);
        monitor::kill(&self.pidfd)
    }

    /// Sets the wall-time limit from now, as [`SandboxChild::set_time_limit`] does.
    pub fn set_time_limit(&self, limit: Option<Duration>) {
        self.deadline.set_from_now(limit);
    }
}

/// What [`crate::SandboxCommand::output`] returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SandboxOutput {
    /// How it ended.
    pub outcome: Outcome,
    /// Everything the program wrote to standard output.
    pub stdout: Vec<u8>,
    /// Everything the program wrote to standard error.
    pub stderr: Vec<u8>,
}

impl SandboxChild {
    pub(crate) fn new(
        pid: u32,
        pidfd: Arc<OwnedFd>,
        killed: Arc<AtomicBool>,
        deadline: Arc<Deadline>,
        [stdin, stdout, stderr]: [Option<File>; 3],
        result: Receiver<Outcome>,
        observations: Option<Observations>,
    ) -> Self {
        SandboxChild {
            pid,
            pidfd,
            killed,
            deadline,
            stdin,
            stdout,
            stderr,
            result,
            outcome: None,
            observations,
        }
    }

    /// The host pid of the sandbox's init (pid 1 inside; the program is its child, pid 2).
    pub fn id(&self) -> u32 {
        self.pid
    }

    /// The system calls the monitor observes, when the command was set to
    /// [`crate::SyscallMode::Learn`] or [`crate::SyscallMode::LogViolations`]; `None` otherwise,
    /// after the first call, and once waiting began. Observations arrive while the program runs;
    /// the channel disconnects when the sandbox has ended, so reading it to the end and then
    /// calling [`Self::wait`] gets them all. Waiting without having taken them drops them as
    /// they come, so that they do not pile up in memory for nobody; until then at most
    /// [`crate::OBSERVATIONS_PENDING_MOST`] wait to be taken, and the outcome counts those
    /// dropped beyond ([`crate::Outcome::observations_dropped`]): read them while the program
    /// runs (on a thread of its own, if this one reads the program's output).
    pub fn observations(&mut self) -> Option<Observations> {
        self.observations.take()
    }

    /// Kills the whole sandbox (reported as [`Status::Killed`](crate::Status::Killed) unless
    /// it had already ended or another status takes precedence). Killing an ended sandbox is
    /// not an error.
    pub fn kill(&mut self) -> io::Result<()> {
        if self.outcome.is_some() {
            return Ok(());
        }
        self.killer().kill()
    }

    /// A handle that kills this sandbox from another thread (a signal handler's thread, a
    /// watchdog) while this one waits for it.
    pub fn killer(&self) -> SandboxKiller {
        SandboxKiller {
            pidfd: Arc::clone(&self.pidfd),
            killed: Arc::clone(&self.killed),
            deadline: Arc::clone(&self.deadline),
        }
    }

    /// Sets the wall-time limit ([`crate::Limits::wall_time`]) of the running sandbox to
    /// `limit` from now, whatever it was (none, later or earlier); `None` takes it away. A
    /// sandbox that then runs to the new deadline ends as
    /// [`Status::Timeout`](crate::Status::Timeout) with [`crate::TimeLimit::Wall`], and the
    /// outcome's enforced `wall_time` is the limit in force at the end, counted from the start.
    /// Once the sandbox has timed out, or the monitor has seen its end, it changes nothing (the
    /// deadline is frozen then). A limit past some 292 years is none. A host that hands the
    /// sandbox work piece by piece (over its comms channel, say) can so give each piece its own
    /// time.
    pub fn set_time_limit(&self, limit: Option<Duration>) {
        self.deadline.set_from_now(limit);
    }

    /// Waits for the sandbox to end (closing `stdin` first, so a program reading it sees EOF).
    ///
    /// The sandbox has ended when its program has and nothing it started runs any more (init
    /// kills and reaps the rest first) or when it was killed. Init itself may still be exiting
    /// then, off the way back to the caller; the monitor thread reaps it right after.
    pub fn wait(&mut self) -> Outcome {
        drop(self.stdin.take());
        drop(self.observations.take());
        if let Some(o) = &self.outcome {
            return o.clone();
        }
        let o = self.result.recv().unwrap_or_else(|_| monitor_lost());
        self.settle(o)
    }

    /// Waits at most `timeout`; `None` if the sandbox is still running. Unlike
    /// [`SandboxChild::wait`], a poll that times out leaves `stdin` open and the observations
    /// to take, so a caller can feed the program and read its calls between polls; once it
    /// returns the outcome, both are dropped as by `wait`.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<Outcome> {
        let outcome = match &self.outcome {
            Some(o) => o.clone(),
            None => match self.result.recv_timeout(timeout) {
                Ok(o) => self.settle(o),
                Err(RecvTimeoutError::Timeout) => return None,
                Err(RecvTimeoutError::Disconnected) => self.settle(monitor_lost()),
            },
        };
        drop(self.stdin.take());
        drop(self.observations.take());
        Some(outcome)
    }

    /// Reads standard output and error to their ends (concurrently), then waits. Everything is
    /// kept in memory, however much the program writes (see [`crate::SandboxCommand::output`]).
    pub fn wait_with_output(mut self) -> SandboxOutput {
        drop(self.stdin.take());
        drop(self.observations.take());
        let (stdout, stderr) = read_both(self.stdout.take(), self.stderr.take());
        let outcome = self.wait();
        SandboxOutput {
            outcome,
            stdout,
            stderr,
        }
    }

    fn settle(&mut self, o: Outcome) -> Outcome {
        self.outcome = Some(o.clone());
        o
    }
}

fn monitor_lost() -> Outcome {
    Outcome::never_ran(SetupError::other(
        "monitor the sandbox",
        "the monitor thread died",
    ))
}

impl Drop for SandboxChild {
    fn drop(&mut self) {
        if self.outcome.is_none() {
            let _ = self.kill();
            let _ = self.wait();
        }
    }
}

/// Reads both pipes to their ends at once (with `poll`, no thread to start or fail), so that a
/// program filling one while the other is read never blocks. A read error ends that stream.
fn read_both(out: Option<File>, err: Option<File>) -> (Vec<u8>, Vec<u8>) {
    use std::os::fd::AsFd;
    let mut streams = [(out, Vec::new()), (err, Vec::new())];
    loop {
        let open: Vec<usize> = (0..2).filter(|i| streams[*i].0.is_some()).collect();
        if open.is_empty() {
            break;
        }
        let mut fds: Vec<nix::poll::PollFd> = open
            .iter()
            .filter_map(|i| streams[*i].0.as_ref())
            .map(|f| nix::poll::PollFd::new(f.as_fd(), nix::poll::PollFlags::POLLIN))
            .collect();
        match nix::poll::poll(&mut fds, nix::poll::PollTimeout::NONE) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(_) => {
                // Cannot poll (it never happens in practice): read each stream to its end in
                // turn rather than lose what is still to come. A program that fills the second
                // pipe while the first is read then blocks until the first ends: a hang in
                // place of lost output, on a path poll's failure alone reaches.
                drop(fds);
                for (file, data) in &mut streams {
                    if let Some(mut f) = file.take() {
                        let _ = f.read_to_end(data);
                    }
                }
                break;
            }
        }
        let ready: Vec<bool> = fds.iter().map(|p| p.any().unwrap_or(true)).collect();
        drop(fds);
        for (i, ready) in open.into_iter().zip(ready) {
            if !ready {
                continue;
            }
            let (file, data) = &mut streams[i];
            let mut buf = [0u8; 16 * 1024];
            match file.as_mut().map(|f| f.read(&mut buf)) {
                Some(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Some(Ok(0)) | Some(Err(_)) => *file = None,
                Some(Ok(n)) => data.extend_from_slice(&buf[..n]),
                None => {}
            }
        }
    }
    let [(_, out), (_, err)] = streams;
    (out, err)
}
