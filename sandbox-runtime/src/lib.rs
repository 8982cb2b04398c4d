//! Runs a program in namespaces under a compiled seccomp policy and reports what happened.
//!
//! ```no_run
//! use sandbox_runtime::{Limits, SandboxCommand, Status};
//! use std::time::Duration;
//! let out = SandboxCommand::new("/bin/echo")
//!     .arg("hello")
//!     .mount_ro("/usr", "/usr")
//!     .mount_ro("/bin", "/bin")
//!     .mount_ro("/lib", "/lib")
//!     .mount_ro("/lib64", "/lib64")
//!     .limits(Limits { wall_time: Some(Duration::from_secs(5)), ..Limits::default() })
//!     .output()
//!     .unwrap();
//! assert_eq!(out.outcome.status, Status::Exited(0));
//! println!("{}", out.outcome.to_json());
//! ```
//!
//! # How a sandbox is built
//! [`SandboxCommand::spawn`] clones the sandbox's init into new user, mount, pid, IPC, UTS,
//! cgroup (and network) namespaces; init builds a fresh root file system and forks the program
//! as pid 2, which drops every capability, sets `no_new_privs`, installs the policy's filter
//! and execs. A monitor thread per sandbox (for `status()`, the calling thread) watches seccomp
//! user notifications (violations), the wall clock, and init's end. See the `spawn`, `seccomp` and `monitor` modules.
//!
//! # The fork server
//! Init is a fork-like clone of the process that clones it. A host that calls
//! [`start_fork_server`] first thing in `main` has every sandbox cloned from that small, early
//! copy of itself instead, so start-up, each sandbox's memory and its reported peak memory do
//! not grow with the host (see the README's figures).
//!
//! # Threads of the runtime
//! Besides the monitor threads, the runtime may start, once per process: the thread the fork
//! server hangs from (see [`start_fork_server`]); a release thread, at the first sandbox that
//! `status()` cloned directly, which lets go of what such sandboxes kept after their end; and
//! `sandbox-netns`, at the second sandbox cloned directly with a network namespace of its own,
//! which keeps the next sandbox's namespace made ahead when the host may make one (root), so
//! that the clone need not make it (see [`SandboxCommand::share_network`]). The fork server, a
//! process of its own, starts its own such thread at its first sandbox with a network namespace.
//!
//! # A host that forks
//! A process the host forks (without exec'ing) can make sandboxes too, whatever the host's other
//! threads were doing at the fork: making the host's first sandbox, starting the fork server,
//! starting or ending threads. The runtime keeps no state such a fork could leave half made or
//! locked for good: what it makes once per process sits in lock-free cells (a forked child
//! finding one empty makes its own; two threads racing both make it, and one copy is kept), and
//! its threads are started with `pthread_create`, not `std::thread`, whose start and end take
//! a lock of std's own that a fork may copy held. A forked child clones its sandboxes directly
//! (the host's fork server is not its own) and resolves programs' libraries afresh each time.
//! Code of the host's own in that child (a `std::thread` it starts, say) is the host's concern.
//!
//! # Lifetime
//! A sandbox ends with the host process, not with the thread that spawned it: a worker thread
//! may spawn one and end. Init cloned directly watches a pidfd of the host and ends the sandbox
//! once the whole host has ended; the fork server's inits take a parent-death signal from a
//! runtime thread that lasts as long as the host. Either also ends the sandbox once the host's
//! end of its report socket, which the monitor holds, is gone: a host that runs another program
//! (`execve`) keeps its pid but has nothing left that watches the sandbox. A child the host
//! forks (through libc's `fork`, which runs `pthread_atfork` handlers) keeps no copy of that
//! end: a `/dev/null` takes its place in the child, so a forked child that runs on does not keep
//! the sandbox going after the host's exec. For that the runtime registers one
//! `pthread_atfork` handler at the first spawn; it holds no descriptor for it.
//!
//! # Caveats
//! - On a kernel without `pidfd_open` (before Linux 5.3), init cloned directly takes the
//!   parent-death signal instead, which the kernel sends when the spawning *thread* ends: keep
//!   that thread alive while the sandbox runs there, or start the fork server.
//! - `#!` scripts cannot be the program (it is exec'd through a close-on-exec descriptor);
//!   run their interpreter instead.

// `policy!` expands to paths under `::sandbox_runtime`, which this crate uses itself.
extern crate self as sandbox_runtime;

pub mod cgroup;
pub mod comms;
pub mod elf;

mod caller;
mod child;
mod command;
mod deadline;
mod error;
mod first_use;
pub mod limits;
mod monitor;
mod mountinfo;
pub mod observations;
pub mod observe;
pub mod outcome;
mod seccomp;
mod spawn;
#[cfg(feature = "test-hooks")]
pub mod test_hooks;

pub use child::{SandboxChild, SandboxKiller, SandboxOutput};
pub use command::{Mount, SandboxCommand, Stdio};
pub use error::SpawnError;
pub use limits::{EnforcedLimit, Enforcement, LimitError, Limits};
pub use observations::{Observations, OBSERVATIONS_PENDING_MOST};
pub use observe::{Observation, SyscallMode};
pub use outcome::{Outcome, SetupError, Status, TimeLimit, Violation};
pub use spawn::{descriptors_confined, start_fork_server, HOST_ID_WHEN_ROOT, SANDBOX_ID};

pub use sandbox_policy::CompiledPolicy as Policy;

/// Compiles a seccomp policy at build time; see the crate documentation of `sandbox_policy`
/// and the README for the language.
pub use sandbox_macros::policy;

/// Items `policy!` expands to. Not part of the public API.
#[doc(hidden)]
pub mod __private {
    pub use sandbox_policy;
}

pub mod function;
pub use function::{dispatch, SandboxedFunction};
