//! Sandboxing a Rust function of the host program: the host re-executes its own binary inside
//! a sandbox, and the new process runs one registered function with a [`Comms`] channel to the
//! host instead of the host's `main`.
//!
//! # How it works
//! - The host's `main` calls [`dispatch`] before anything else, with the functions it may run
//!   sandboxed. In the host, `dispatch` sees ordinary arguments and returns at once.
//! - [`SandboxedFunction::spawn`] runs [`std::env::current_exe`] (canonicalised) in a sandbox
//!   with the arguments `--sandbox-run-function NAME`, the executable and the shared libraries
//!   it loads bound read-only at their own paths, and one end of a [`Comms::pair`] at
//!   [`COMMS_FD`]. The sandboxee's environment is empty, so the
//!   arguments, not an environment variable, select the function.
//! - In the sandboxee, `dispatch` recognises the arguments, takes the channel with
//!   [`Comms::from_sandbox_fd`], runs the function and exits with the code it returns. It
//!   never returns to `main`.
//!
//! The policy applies from the sandboxee's first instruction, so it must allow what the Rust
//! runtime does before `main` (the `dynamic_startup`, `malloc`, `exit` and usually `signals`
//! groups) besides what the function itself does. A name that is not registered makes the
//! sandboxee exit with code [`UNKNOWN_FUNCTION_EXIT`].
//!
//! Spawning is safe from a multi-threaded host: the runtime starts the sandbox with a fork-like
//! clone whose child only makes raw system calls on a plan prepared beforehand, then execs.
//! Calling [`crate::start_fork_server`] right after `dispatch` makes every sandbox a clone of
//! that early, small copy of the host instead of the host as it is at the spawn.
//!
//! ```no_run
//! use sandbox_runtime::comms::Comms;
//! use sandbox_runtime::function::{dispatch, SandboxedFunction};
//! use sandbox_runtime::Status;
//!
//! static POLICY: sandbox_runtime::Policy = sandbox_runtime::policy! {
//!     default kill;
//!     use dynamic_startup, malloc, exit, signals;
//!     // Rust's runtime and glibc before main: the check that fds 0-2 are open, malloc's
//!     // random seed, the CPU count, the main thread's stack.
//!     allow poll if nfds == 3 && timeout == 0;
//!     allow getrandom if flags == GRND_NONBLOCK;
//!     allow sched_getaffinity, gettid;
//!     // The channel (taking it checks it is a socket; debug builds check it before closing).
//!     allow recvfrom, recvmsg, sendto, sendmsg, getsockopt if sockfd == 1023;
//!     allow fcntl if fd == 1023 && cmd == F_GETFD;
//! };
//!
//! fn double(mut comms: Comms) -> i32 {
//!     match comms.recv_u64() {
//!         Ok(n) if comms.send_u64(n.wrapping_mul(2)).is_ok() => 0,
//!         _ => 1,
//!     }
//! }
//!
//! fn main() {
//!     dispatch(&[("double", double)]);
//!     sandbox_runtime::start_fork_server().expect("fork server");
//!     let (mut child, mut comms) = SandboxedFunction::new("double")
//!         .policy(&POLICY)
//!         .spawn()
//!         .expect("spawn");
//!     comms.send_u64(21).unwrap();
//!     assert_eq!(comms.recv_u64().unwrap(), 42);
//!     assert_eq!(child.wait().status, Status::Exited(0));
//! }
//! ```

use crate::comms::{Comms, COMMS_FD};
use crate::{Limits, Mount, Policy, SandboxChild, SandboxCommand, SpawnError};
use std::ffi::OsStr;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The first argument that marks a process as a sandboxed function.
pub const RUN_FUNCTION_FLAG: &str = "--sandbox-run-function";

/// The exit code of a sandboxee asked to run a function that is not registered.
pub const UNKNOWN_FUNCTION_EXIT: i32 = 120;

/// The exit code of a sandboxee that found no comms channel at
/// [`COMMS_FD`].
pub const NO_COMMS_EXIT: i32 = 121;

/// A function that can run sandboxed: it gets the channel to the host and returns the exit code.
pub type SandboxFn = fn(Comms) -> i32;

/// Runs a registered function if this process was started as a sandboxed function, and never
/// returns in that case; otherwise returns at once. Call it first thing in `main`.
///
/// `registry` maps names (as given to [`SandboxedFunction::new`]) to functions.
///
/// It goes by the arguments alone: the binary started by hand with [`RUN_FUNCTION_FLAG`] and a
/// socket at [`COMMS_FD`] runs the function outside any sandbox. That gives whoever starts it
/// nothing they could not do by running the binary anyway; but a registered function must not
/// rely on being sandboxed for the host's own safety.
pub fn dispatch(registry: &[(&str, SandboxFn)]) {
    let mut args = std::env::args_os().skip(1);
    if args.next().as_deref() != Some(OsStr::new(RUN_FUNCTION_FLAG)) {
        return;
    }
    let name = args.next().unwrap_or_default();
    let Some(&(_, f)) = registry.iter().find(|(n, _)| OsStr::new(n) == name) else {
        std::process::exit(UNKNOWN_FUNCTION_EXIT);
    };
    let code = match Comms::from_sandbox_fd() {
        Ok(comms) => f(comms),
        Err(_) => NO_COMMS_EXIT,
    };
    std::process::exit(code);
}

/// A registered function of the current executable, to run in a sandbox. The builder.
///
/// Defaults: no policy (namespaces only) until [`Self::policy`], no limits, standard streams
/// inherited, and a file system holding only the executable and its libraries (plus `/proc`
/// and a minimal `/dev`).
#[derive(Debug, Clone)]
pub struct SandboxedFunction {
    name: String,
    policy: Option<Arc<Policy>>,
    limits: Limits,
    mounts: Vec<Mount>,
    exe: Option<PathBuf>,
}

impl SandboxedFunction {
    /// The function registered under `name` in the executable's call to [`dispatch`].
    pub fn new(name: impl Into<String>) -> Self {
        SandboxedFunction {
            name: name.into(),
            policy: None,
            limits: Limits::default(),
            mounts: Vec::new(),
            exe: None,
        }
    }

    /// The seccomp policy the sandboxee runs under from its first instruction.
    pub fn policy(&mut self, policy: &Policy) -> &mut Self {
        self.policy = Some(Arc::new(policy.clone()));
        self
    }

    /// Resource limits.
    pub fn limits(&mut self, limits: Limits) -> &mut Self {
        self.limits = limits;
        self
    }

    /// Adds a file-system entry.
    pub fn mount(&mut self, m: Mount) -> &mut Self {
        self.mounts.push(m);
        self
    }

    /// Runs `exe` instead of [`std::env::current_exe`]. It must call [`dispatch`] with this
    /// function's name registered.
    pub fn executable(&mut self, exe: impl AsRef<Path>) -> &mut Self {
        self.exe = Some(exe.as_ref().to_path_buf());
        self
    }

    /// The command [`Self::spawn`] runs, with the sandboxee's end of the channel passed at
    /// [`COMMS_FD`]; callers may adjust it (streams, hostname) before
    /// spawning it themselves.
    pub fn command(&self) -> Result<(SandboxCommand, Comms), SpawnError> {
        let exe = match &self.exe {
            Some(p) => p.clone(),
            None => std::env::current_exe().map_err(|e| os("find the current executable", e))?,
        };
        let exe = exe
            .canonicalize()
            .map_err(|e| os(format!("canonicalise {}", exe.display()), e))?;
        let (host, sandboxee) = Comms::pair().map_err(|e| os("create the comms pair", e))?;
        let mut cmd = SandboxCommand::new(&exe);
        cmd.arg(RUN_FUNCTION_FLAG).arg(&self.name);
        cmd.add_program_with_libraries(&exe);
        for m in &self.mounts {
            cmd.mount(m.clone());
        }
        cmd.limits(self.limits);
        if let Some(p) = &self.policy {
            cmd.policy(p);
        }
        cmd.pass_fd(sandboxee, COMMS_FD);
        Ok((cmd, host))
    }

    /// Starts the sandboxee; returns it and the host's end of the channel.
    pub fn spawn(&self) -> Result<(SandboxChild, Comms), SpawnError> {
        let (mut cmd, comms) = self.command()?;
        let child = cmd.spawn()?;
        Ok((child, comms))
    }
}

fn os(what: impl Into<String>, source: io::Error) -> SpawnError {
    SpawnError::Os {
        what: what.into(),
        source,
    }
}
