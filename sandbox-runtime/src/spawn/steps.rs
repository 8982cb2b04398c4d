//! The named steps between clone and exec, and how a failure travels to the parent.
//!
//! A failing step in the child becomes a [`Failure`] (step id, an index for steps done once per
//! item, errno), sent to the parent as a fixed-size [`Report`]; the parent turns it into words
//! with [`Descriptions`], which it built from the same plan before the clone.

use crate::outcome::SetupError;

/// A step of the set-up, in the order the steps run. `#[repr(u32)]` so it crosses the report
/// channel as a number.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    // In the sandbox's init (pid 1 of the new pid namespace).
    ParentDeathSignal = 1,
    InitSignals,
    ShedHostTraits,
    SessionKeyring,
    WaitForIdMaps,
    ClearGroups,
    SetGid,
    SetUid,
    Loopback,
    Hostname,
    CloseUserNamespaces,
    PrivatePropagation,
    OpenRoots,
    NewRootTmpfs,
    AttachNewRoot,
    MountPoint,
    Mount,
    Remount,
    SealReadOnly,
    ChdirToRoot,
    PivotToNewRoot,
    DetachOldRoot,
    ForkSandboxee,
    // In the sandboxee (pid 2), before the exec. A spare's init sets the capability limits
    // instead, ahead of its request (a failure there leaves no spare to serve it).
    NewSession,
    OwnProcessGroup,
    SandboxeeDeathSignal,
    Stdio,
    PassFd,
    CloseFds,
    Securebits,
    BoundingSet,
    AmbientCaps,
    InheritedLimits,
    ExecPipe,
    NewRootAlone,
    Chdir,
    FindProgram,
    NoNewPrivs,
    ConfineReopens,
    PredictListener,
    Rlimit,
    DropCaps,
    HostGuard,
    InstallFilter,
    ListenerNumber,
    Exec,
}

impl Step {
    const ALL: [Step; 46] = [
        Step::ParentDeathSignal,
        Step::InitSignals,
        Step::ShedHostTraits,
        Step::SessionKeyring,
        Step::WaitForIdMaps,
        Step::ClearGroups,
        Step::SetGid,
        Step::SetUid,
        Step::Loopback,
        Step::Hostname,
        Step::CloseUserNamespaces,
        Step::PrivatePropagation,
        Step::OpenRoots,
        Step::NewRootTmpfs,
        Step::AttachNewRoot,
        Step::MountPoint,
        Step::Mount,
        Step::Remount,
        Step::SealReadOnly,
        Step::ChdirToRoot,
        Step::PivotToNewRoot,
        Step::DetachOldRoot,
        Step::ForkSandboxee,
        Step::NewSession,
        Step::OwnProcessGroup,
        Step::SandboxeeDeathSignal,
        Step::Stdio,
        Step::PassFd,
        Step::CloseFds,
        Step::Securebits,
        Step::BoundingSet,
        Step::AmbientCaps,
        Step::InheritedLimits,
        Step::ExecPipe,
        Step::NewRootAlone,
        Step::Chdir,
        Step::FindProgram,
        Step::NoNewPrivs,
        Step::ConfineReopens,
        Step::PredictListener,
        Step::Rlimit,
        Step::DropCaps,
        Step::HostGuard,
        Step::InstallFilter,
        Step::ListenerNumber,
        Step::Exec,
    ];

    /// The step a number names.
    pub(crate) fn from_u32(v: u32) -> Option<Step> {
        Step::ALL.into_iter().find(|s| *s as u32 == v)
    }
}

/// What a step's errno alone means beyond its name, added to the cause.
const ERRNO_HINTS: [(Step, i32, &str); 3] = [
    // The program itself was found and opened (FindProgram): what is missing is what the
    // kernel looks up for it, and "No such file" alone would point at the program. A script
    // fails here too, whatever its interpreter: the kernel hands the script to it as
    // /dev/fd/N, which the exec has just closed (execveat(2)).
    (
        Step::Exec,
        libc::ENOENT,
        "; the program is there, but the interpreter it names is not in the sandbox (the \
         dynamic loader of its ELF header), or is a link to a place the sandbox does not show; \
         a script (#!) cannot be run directly: run its interpreter with the script as an \
         argument",
    ),
    (
        Step::SessionKeyring,
        libc::EDQUOT,
        "; the host user's key quota is used up (its keys and every running sandbox's keyring \
         count against kernel.keys.maxkeys and maxbytes)",
    ),
    // The only descriptor the install opens is the monitor's listener.
    (
        Step::InstallFilter,
        libc::EMFILE,
        "; the open-files limit leaves the policy's seccomp listener no descriptor: it needs \
         the lowest free number, after the standard streams and any passed descriptors, to be \
         below the limit",
    ),
];

/// A failed step: what the child sends home before it exits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Failure {
    pub step: Step,
    pub index: u32,
    pub errno: i32,
}

impl Failure {
    /// A failure of `step` with the calling thread's errno.
    pub(crate) fn errno(step: Step) -> Self {
        Failure::at(step, 0)
    }

    /// A failure of item `index` of `step` with the calling thread's errno.
    pub(crate) fn at(step: Step, index: u32) -> Self {
        Failure {
            step,
            index,
            errno: crate::spawn::sys::errno(),
        }
    }
}

/// The message kinds of the report channels.
pub(crate) mod kind {
    /// A step failed: `step`, `index`, `value` = errno.
    pub const SETUP_ERROR: u32 = 1;
    /// The sandboxee ended and nothing else of the sandbox runs: `value` = its wait status,
    /// `cpu_us` and `max_rss_kb` = init's usage with everything it reaped, `program_cpu_us` =
    /// the sandboxee's own CPU time (sent by init, which then exits; see
    /// [`super::super::init::reap`]).
    pub const EXIT_STATUS: u32 = 2;
    /// The sandboxee says hello: `value` = the descriptor its seccomp listener will be;
    /// carries the read ends of the exec pipe and of the installed pipe (SCM_RIGHTS, in that
    /// order), and its host pid (SCM_CREDENTIALS, added by the kernel). Sent only when the
    /// filter has a listener.
    pub const HELLO: u32 = 3;
    /// The monitor asks init to end the sandbox now (sent the other way, host to init; see
    /// [`super::super::init::reap`]).
    pub const END_NOW: u32 = 4;
}

/// One message read from a report socket: the report (`None` if its bytes are not one), the
/// sender's pid as the kernel vouches for it (`SCM_CREDENTIALS`), and any descriptors it
/// carried (`SCM_RIGHTS`).
pub(crate) struct Received {
    pub report: Option<Report>,
    pub pid: Option<libc::pid_t>,
    pub fds: Vec<std::os::fd::OwnedFd>,
}

/// Reads one message from the host's end of a report socket; `None` at its end, on an error,
/// or (with `wait` false) when nothing is queued. With `wait`, blocks (up to the socket's
/// receive timeout, if one is set).
pub(crate) fn receive(sock: std::os::fd::RawFd, wait: bool) -> Option<Received> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags, UnixAddr};
    use std::os::fd::{FromRawFd, OwnedFd, RawFd};
    let mut buf = [0u8; Report::SIZE];
    let mut cmsg = nix::cmsg_space!(libc::ucred, [RawFd; 4]);
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut flags = MsgFlags::MSG_CMSG_CLOEXEC;
    if !wait {
        flags |= MsgFlags::MSG_DONTWAIT;
    }
    let msg = loop {
        match recvmsg::<UnixAddr>(sock, &mut iov, Some(&mut cmsg), flags) {
            Err(nix::errno::Errno::EINTR) => continue,
            Ok(msg) if msg.bytes > 0 => break msg,
            _ => return None,
        }
    };
    let len = msg.bytes;
    let mut pid = None;
    let mut fds = Vec::new();
    for c in msg.cmsgs().into_iter().flatten() {
        match c {
            ControlMessageOwned::ScmCredentials(cred) => pid = Some(cred.pid()),
            // SAFETY: the kernel just installed these descriptors for us.
            ControlMessageOwned::ScmRights(v) => {
                fds.extend(v.into_iter().map(|f| unsafe { OwnedFd::from_raw_fd(f) }))
            }
            _ => {}
        }
    }
    Some(Received {
        report: Report::from_bytes(&buf[..len]),
        pid,
        fds,
    })
}

/// One fixed-size message from the child to the parent.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Report {
    pub kind: u32,
    pub step: u32,
    pub index: u32,
    pub value: i32,
    /// CPU time in microseconds (only in [`kind::EXIT_STATUS`]).
    pub cpu_us: u64,
    /// Peak resident set in KiB (only in [`kind::EXIT_STATUS`]).
    pub max_rss_kb: u64,
    /// The sandboxee's own CPU time in microseconds, not its reaped children's, where it has a
    /// CPU limit (else with theirs; only in [`kind::EXIT_STATUS`]): what its limit may have run
    /// out on.
    pub program_cpu_us: u64,
}

impl Report {
    /// The size on the wire.
    pub(crate) const SIZE: usize = 40;

    pub(crate) fn failure(f: Failure) -> Self {
        Report {
            kind: kind::SETUP_ERROR,
            step: f.step as u32,
            index: f.index,
            value: f.errno,
            ..Report::default()
        }
    }

    pub(crate) fn to_bytes(self) -> [u8; Self::SIZE] {
        let mut b = [0u8; Self::SIZE];
        b[0..4].copy_from_slice(&self.kind.to_ne_bytes());
        b[4..8].copy_from_slice(&self.step.to_ne_bytes());
        b[8..12].copy_from_slice(&self.index.to_ne_bytes());
        b[12..16].copy_from_slice(&self.value.to_ne_bytes());
        b[16..24].copy_from_slice(&self.cpu_us.to_ne_bytes());
        b[24..32].copy_from_slice(&self.max_rss_kb.to_ne_bytes());
        b[32..40].copy_from_slice(&self.program_cpu_us.to_ne_bytes());
        b
    }

    pub(crate) fn from_bytes(b: &[u8]) -> Option<Self> {
        let w = |i: usize| -> Option<[u8; 4]> { b.get(i..i + 4)?.try_into().ok() };
        let d = |i: usize| -> Option<[u8; 8]> { b.get(i..i + 8)?.try_into().ok() };
        (b.len() == Self::SIZE).then_some(())?;
        Some(Report {
            kind: u32::from_ne_bytes(w(0)?),
            step: u32::from_ne_bytes(w(4)?),
            index: u32::from_ne_bytes(w(8)?),
            value: i32::from_ne_bytes(w(12)?),
            cpu_us: u64::from_ne_bytes(d(16)?),
            max_rss_kb: u64::from_ne_bytes(d(24)?),
            program_cpu_us: u64::from_ne_bytes(d(32)?),
        })
    }
}

/// Why a mount point `at` could not be made or used, where the errno alone would mislead.
fn mount_point_hint(at: &str, errno: i32) -> Option<&'static str> {
    let through_proc_self = ["/dev/fd/", "/proc/self/", "/proc/thread-self/"]
        .iter()
        .any(|p| at.starts_with(p));
    match errno {
        libc::ELOOP if through_proc_self => {
            Some("it leads through /proc/self, the kernel's link, which init never follows")
        }
        libc::ELOOP => {
            Some("its path has a symbolic link the plan did not make, which init never follows")
        }
        libc::EISDIR => Some("the source is a file and a directory is there"),
        libc::ENOTDIR => Some("a file is there or on its path, where a directory is needed"),
        libc::EROFS => Some(
            "it is not there, and what holds it is mounted read-only: cover an entry that is \
             there, or mount elsewhere",
        ),
        libc::ENOENT if at.starts_with("/proc/") => Some(
            "the sandbox's /proc is the kernel's, which makes no new entries: cover one it \
             has, or mount elsewhere",
        ),
        _ => None,
    }
}

/// The words for each step and item, built by the parent from the plan.
#[derive(Clone, Debug, Default)]
pub(crate) struct Descriptions {
    /// One per mount operation, e.g. `bind /data read-only`.
    pub mounts: Vec<String>,
    /// The destination inside the sandbox of each mount operation.
    pub mount_points: Vec<String>,
    /// One per rlimit, its name.
    pub rlimits: Vec<&'static str>,
    /// Target numbers of passed descriptors.
    pub passed: Vec<i32>,
    pub program: String,
    /// The entry showing the program, in words, when it lets nothing run (see
    /// [`super::mounts::MountPlan::noexec_entry_over`]).
    pub program_noexec: Option<String>,
    pub cwd: String,
    pub hostname: String,
}

impl Descriptions {
    /// A setup error in words.
    pub(crate) fn describe(&self, r: &Report) -> SetupError {
        let i = r.index as usize;
        let item = |v: &[String]| v.get(i).cloned().unwrap_or_else(|| format!("#{i}"));
        let step = match Step::from_u32(r.step) {
            None => format!("unknown step {}", r.step),
            Some(s) => match s {
                Step::ParentDeathSignal => "set the parent-death signal of init".into(),
                Step::InitSignals => "reset signal actions and the signal mask".into(),
                Step::ShedHostTraits => {
                    "give up the host's scheduling priority, OOM protection and personality".into()
                }
                Step::SessionKeyring => "join a new session keyring".into(),
                Step::WaitForIdMaps => "wait for the id maps".into(),
                Step::ClearGroups => "clear supplementary groups".into(),
                Step::SetGid => "set gid".into(),
                Step::SetUid => "set uid".into(),
                Step::Loopback => "bring up lo".into(),
                Step::Hostname => format!("set hostname {}", self.hostname),
                Step::CloseUserNamespaces => {
                    "close user namespaces (write 0 to /proc/sys/user/max_user_namespaces)".into()
                }
                Step::PrivatePropagation => "make mount propagation private".into(),
                Step::OpenRoots => "open the host root".into(),
                Step::NewRootTmpfs => "make the new root tmpfs".into(),
                Step::AttachNewRoot => "mount the new root over the host root".into(),
                Step::MountPoint => {
                    let at = item(&self.mount_points);
                    match mount_point_hint(&at, r.value) {
                        Some(hint) => format!("create mount point {at} ({hint})"),
                        None => format!("create mount point {at}"),
                    }
                }
                Step::Mount => item(&self.mounts),
                Step::Remount => format!("set mount flags on {}", item(&self.mount_points)),
                Step::SealReadOnly => "make the root and /dev read-only".into(),
                Step::DetachOldRoot => "detach the host root".into(),
                Step::ChdirToRoot => "change to the root directory".into(),
                Step::PivotToNewRoot => "pivot_root to the new root".into(),
                Step::ForkSandboxee => "fork the sandboxee".into(),
                Step::NewSession => "setsid".into(),
                Step::OwnProcessGroup => "setpgid".into(),
                Step::SandboxeeDeathSignal => "set the parent-death signal".into(),
                Step::Stdio => format!("set up descriptor {i}"),
                Step::PassFd => {
                    format!("pass descriptor {}", self.passed.get(i).map_or(-1, |n| *n))
                }
                Step::CloseFds => "close inherited descriptors".into(),
                Step::Chdir => format!("chdir {}", self.cwd),
                Step::FindProgram => format!("find program {}", self.program),
                Step::ExecPipe => "create the exec pipe".into(),
                Step::NewRootAlone => {
                    "find the new root as the sandboxee's root, with nothing mounted on it".into()
                }
                Step::Rlimit => {
                    format!("set rlimit {}", self.rlimits.get(i).copied().unwrap_or("?"))
                }
                Step::Securebits => "lock securebits".into(),
                Step::BoundingSet => "clear the capability bounding set".into(),
                Step::AmbientCaps => "clear ambient capabilities".into(),
                Step::InheritedLimits => "check the capability limits".into(),
                Step::DropCaps => "drop capabilities".into(),
                Step::NoNewPrivs => "set no_new_privs".into(),
                Step::ConfineReopens if r.index == super::reopen::RULESET => {
                    "apply the sandbox's Landlock domain (reopening, sockets in writable binds)"
                        .into()
                }
                Step::ConfineReopens => format!(
                    "confine reopening descriptor {} to what it allows (Landlock)",
                    r.index
                ),
                Step::PredictListener => "predict the listener's descriptor".into(),
                Step::HostGuard => {
                    "install the host guards (the filter that keeps set-id modes off host files \
                     and terminal requests off a host terminal)"
                        .into()
                }
                Step::InstallFilter => "install the seccomp filter".into(),
                Step::ListenerNumber => format!(
                    "install the seccomp filter: its listener got descriptor {i}, not the one \
                     the monitor was told"
                ),
                Step::Exec => format!("execute {}", self.program),
            },
        };
        let mut error = SetupError::from_errno(step, r.value);
        if let Some((_, _, hint)) = ERRNO_HINTS
            .iter()
            .find(|(step, errno, _)| r.step == *step as u32 && r.value == *errno)
        {
            error.cause += hint;
        }
        let bind = matches!(Step::from_u32(r.step), Some(Step::Mount))
            && item(&self.mounts).starts_with("bind ");
        if bind && r.value == libc::EINVAL {
            // The usual cause: a source with other mounts under it, which the kernel locked
            // when the sandbox's namespace was made and will not leave out of a bind.
            error.cause += "; if the source is a directory with other mounts under it (/, \
                            /sys, /dev, ...), it cannot be bound without them: bind those mounts \
                            themselves, or a directory without any under it";
        }
        if let (true, Some(entry)) = (
            r.step == Step::Exec as u32 && r.value == libc::EACCES,
            &self.program_noexec,
        ) {
            error.cause += &format!(
                "; the program lies under `{entry}`, which is mounted noexec (writable binds and \
                 tmpfs are): bind the program or its directory read-only to run it"
            );
        }
        error
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_round_trips_and_names_the_mount() {
        let f = Failure {
            step: Step::Mount,
            index: 1,
            errno: libc::ENOENT,
        };
        let r = Report::from_bytes(&Report::failure(f).to_bytes()).unwrap();
        let d = Descriptions {
            mounts: vec!["mount /proc".into(), "bind /data read-only".into()],
            ..Descriptions::default()
        };
        assert_eq!(
            d.describe(&r).to_string(),
            "bind /data read-only: No such file or directory (os error 2)"
        );
        for s in Step::ALL {
            assert_eq!(Step::from_u32(s as u32), Some(s));
        }
    }

    #[test]
    fn an_exec_that_finds_no_file_names_the_interpreter() {
        let f = Failure {
            step: Step::Exec,
            index: 0,
            errno: libc::ENOENT,
        };
        let d = Descriptions {
            program: "/usr/bin/dash".into(),
            ..Descriptions::default()
        };
        let said = d.describe(&Report::failure(f)).to_string();
        assert!(
            said.starts_with("execute /usr/bin/dash: No such file"),
            "{said}"
        );
        assert!(
            said.contains("the interpreter it names is not in the sandbox"),
            "{said}"
        );
        let other = Failure {
            errno: libc::EACCES,
            ..f
        };
        let said = d.describe(&Report::failure(other)).to_string();
        assert!(!said.contains("interpreter"), "{said}");
    }

    #[test]
    fn all_lists_every_step_in_order() {
        // The discriminants run 1, 2, ... with `Exec` (the exec is the last step there can be)
        // last: a step added anywhere before it and left out of `ALL` shifts `Exec` past the
        // list's end.
        for (i, s) in Step::ALL.into_iter().enumerate() {
            assert_eq!(s as usize, i + 1, "{s:?}");
        }
        assert_eq!(Step::Exec as usize, Step::ALL.len());
    }
}
