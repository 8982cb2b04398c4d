//! Watching system calls instead of (only) enforcing a policy: the learn mode behind
//! `sandbox learn`, and the log-violations mode behind `sandbox run --log-violations`.
//!
//! In both modes the monitor answers a notification with `SECCOMP_USER_NOTIF_FLAG_CONTINUE`
//! after sending an [`Observation`] to the receiver [`crate::SandboxChild::observations`]
//! returns. Nothing else about the sandbox changes: namespaces, the private root, mounts,
//! limits, dropped capabilities and `no_new_privs` all still apply. What does change is the
//! syscall filter, which is **not enforced**: the program may make any system call the kernel
//! lets an unprivileged process in those namespaces make. Calls from a foreign ABI (i386
//! `int 0x80`, x32) are still killed and reported as violations in both modes.
//!
//! - [`SyscallMode::Learn`]: the filter is the compiler's program for `default kill;` with its
//!   kills turned into user notifications, so every call of the program (after the runtime's
//!   own exec) reaches the monitor, with the same prelude as any policy (`clone3` answers
//!   `ENOSYS`, so libc uses `clone` as it will under the learned policy). Any policy set on the
//!   command is ignored.
//! - [`SyscallMode::LogViolations`]: the policy's own filter, so allowed calls never reach the
//!   monitor; each call it would kill is observed (with the rule or default that decided) and
//!   continued.
//!
//! In both, a call a sandbox must refuse whatever the mode (a virtio socket, `TIOCSTI` or
//! `TIOCLINUX`, `request_key`, `io_uring_setup`, adding a seccomp filter: see
//! [`sandbox_policy::resolve::refusal_where_unenforced`]) is observed and fails with `EPERM`
//! ([`Observation::refused`]); a learnt policy refuses it the same way. Where the sandbox has
//! the set-id guard (a writable bind), a call the guard refuses fails with the guard's errno
//! (`ENOSYS` for `openat2`), as it would under any policy.
//! Neither mode weakens what bounds the sandbox from outside the filter.

use sandbox_policy::Arch;

/// What the monitor does with the system calls that reach it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SyscallMode {
    /// Enforce the policy: a call it kills kills the sandbox (the default).
    #[default]
    Enforce,
    /// Observe every system call and let it run; the policy is ignored.
    Learn,
    /// Enforce nothing: observe each call the policy would kill and let it run.
    LogViolations,
}

/// One system call the monitor observed in [`SyscallMode::Learn`] or
/// [`SyscallMode::LogViolations`], and let run unless it was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observation {
    /// The call's number on `arch`.
    pub nr: u32,
    /// The call's architecture (always the native one: foreign ABIs are still killed).
    pub arch: Arch,
    /// The six argument registers.
    pub args: [u64; 6],
    /// The calling thread, as the host sees it (the kernel's notification names the thread:
    /// its process's own id for the main thread); not looked up further, since every call is
    /// observed.
    pub pid: u32,
    /// In [`SyscallMode::LogViolations`], what in the policy decided to kill it.
    pub decided_by: Option<String>,
    /// The errno the monitor failed the call with instead of letting it run, if it did: `EPERM`
    /// for a call a sandbox refuses whatever the mode (see
    /// [`sandbox_policy::resolve::refusal_where_unenforced`]), or the set-id guard's own errno
    /// for a call the guard refuses.
    pub refused: Option<u16>,
}

impl Observation {
    /// The call's name, or `None` when the number is not in the tables.
    pub fn syscall(&self) -> Option<&'static str> {
        sandbox_policy::tables::syscall_by_nr(self.arch, self.nr).map(|s| s.name)
    }
}

impl std::fmt::Display for Observation {
    /// `socket(AF_INET, SOCK_STREAM, 0) [nr 41, x86_64] — no rule matches; default is kill`, as a
    /// violation reads (without the pid), the part after the dash only when something decided.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = self.syscall().unwrap_or("?");
        let arch_name = self.arch.name();
        crate::outcome::write_call(f, name, self.nr, Some(self.arch), arch_name, &self.args)?;
        match &self.decided_by {
            Some(d) => write!(f, " \u{2014} {d}"),
            None => Ok(()),
        }
    }
}

/// The policy learn mode runs under: `default kill;`, compiled with the rest of this crate.
static LEARN_POLICY: crate::Policy = crate::policy! { default kill; };

/// [`LEARN_POLICY`] shared, as every sandbox holds its policy: made once, not per sandbox.
pub(crate) fn learn_policy() -> std::sync::Arc<crate::Policy> {
    static SHARED: crate::first_use::OnceBox<std::sync::Arc<crate::Policy>> =
        crate::first_use::OnceBox::new();
    let shared = SHARED.get_or_init(|| Box::new(std::sync::Arc::new(LEARN_POLICY.clone())));
    std::sync::Arc::clone(shared)
}
