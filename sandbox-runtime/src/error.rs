//! Errors of [`crate::SandboxCommand::spawn`]: everything that can go wrong on the host side,
//! before the sandbox runs. Failures inside the sandbox are reported in the outcome instead.

use crate::limits::LimitError;
use std::io;
use thiserror::Error;

/// The longest host name the kernel takes, in bytes (`HOST_NAME_MAX`).
pub(crate) const HOST_NAME_MAX: usize = 64;

/// Why a sandbox could not be started.
#[derive(Debug, Error)]
pub enum SpawnError {
    /// A limit is out of range.
    #[error(transparent)]
    Limit(#[from] LimitError),
    /// A string given to the builder holds a NUL byte.
    #[error("{what} contains a NUL byte")]
    NulByte {
        /// Which string.
        what: String,
    },
    /// An environment variable's name is empty or holds `=`: `execve` takes `NAME=VALUE`
    /// strings, so the program would see another name and value than the ones given.
    #[error("environment variable name {name:?} {problem}")]
    BadEnvName {
        /// The name as given.
        name: String,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// The host name is longer than the kernel takes (`HOST_NAME_MAX`, 64 bytes).
    #[error("host name {name:?} is {len} bytes long; the kernel takes at most {HOST_NAME_MAX}")]
    HostnameTooLong {
        /// The name as given.
        name: String,
        /// Its length in bytes.
        len: usize,
    },
    /// A path inside the sandbox is not absolute or has `..` in it.
    #[error("sandbox path `{path}` must be absolute and free of `..`")]
    BadSandboxPath {
        /// The path.
        path: String,
    },
    /// A mount's destination cannot be a mount point: the root itself, or a path through the
    /// plan's own symbolic links that loops.
    #[error("cannot mount at `{path}`: {reason}")]
    BadMountPoint {
        /// The destination as given.
        path: String,
        /// Why not.
        reason: &'static str,
    },
    /// A bind that lets programs run (`mount_ro`) shows what a writable `noexec` bind shows, or
    /// part of it: the sandbox could write a program through the one and run it through the
    /// other.
    #[error("`{executable}` (read-only, programs may run) shows what the writable `{writable}` shows: the sandbox could write a program there and run it; keep the two apart, or, from the library, bind `{writable}` with mount_rw_exec if it is meant to run what it writes (the sandbox tool has no such option)")]
    ExecutableOverWritable {
        /// The executable bind's destination.
        executable: String,
        /// The writable bind's destination.
        writable: String,
    },
    /// Where a bind's source lies among the host's mounts cannot be told (`/proc/self/mountinfo`
    /// unreadable, a kernel before 5.8, a mount it does not list), and the sandbox also has a
    /// writable bind and one that lets programs run: that the one does not show the other
    /// cannot be ruled out.
    #[error("cannot tell where the source of `{path}` lies among the host's mounts, so cannot rule out that a bind letting programs run shows what a writable one shows; keep the writable binds apart from the others, or, from the library, bind the writable one with mount_rw_exec if it is meant to run what it writes")]
    UnplacedSource {
        /// The bind's destination.
        path: String,
    },
    /// A tmpfs size outside 1 to 2^62 bytes: 0, which tmpfs reads as no limit, or one so large
    /// that it means none either (near 2^64 the kernel's count of pages wraps around to 0).
    #[error("tmpfs at `{path}` has size {size}: give it a size of 1 to 2^62 bytes (0, or a size near 2^64, would mean no limit)")]
    TmpfsSize {
        /// The destination as given.
        path: String,
        /// The size asked for.
        size: u64,
    },
    /// A passed descriptor number is 0, 1, 2, negative, given twice, above 2^30, or not below
    /// the open-files limit.
    #[error("cannot pass a descriptor as number {0}: use stdin/stdout/stderr for 0..=2, each number once, and numbers below the open-files limit (and at most 2^30)")]
    BadFdNumber(i32),
    /// The command gave a descriptor (a [`crate::Stdio::Fd`] stream, or those of `pass_fd`)
    /// to an earlier run, which took it, and it was not set again: run again, the program would
    /// be without it (a stream would be the host's own).
    #[error("the descriptors of this command's {0} went to its earlier run: set them again before running it again")]
    DescriptorsUsed(&'static str),
    /// A standard stream or passed descriptor is a directory (or a symbolic link): through its
    /// `..` the program could reach the host's tree above it.
    #[error("{0} is a directory or a symbolic link, whose `..` would lead the program up the host's tree: bind the directory instead (mount_ro, mount_rw; --ro, --rw), and give the stream another file (< /dev/null)")]
    DirectoryDescriptor(String),
    /// [`crate::SandboxCommand::current_dir`] was given a relative path.
    #[error("the working directory `{0}` must be an absolute path inside the sandbox")]
    RelativeWorkingDirectory(String),
    /// [`crate::SandboxCommand::new`] was given an empty program name.
    #[error("the program's name is empty")]
    NoProgramName,
    /// The policy has no program for this machine's architecture.
    #[error("the policy has no program for this architecture")]
    NoProgramForArch,
    /// The policy's program for this machine's architecture has no instruction (a policy built
    /// by hand: the compiler never makes one).
    #[error("the policy's program for this architecture is empty")]
    EmptyProgram,
    /// The host guards (see [`sandbox_policy::host_guard`]), which a sandbox that reaches host
    /// files or a host terminal installs, could not be made for this machine.
    #[error("the host guards (set-id, terminal) could not be made: {0}")]
    HostGuard(String),
    /// The policy's program and the runtime's prelude exceed the kernel's length limit.
    #[error(
        "the policy's program is {0} instructions; with the runtime's prelude it exceeds 4096"
    )]
    FilterTooLong(usize),
    /// Library resolution for [`crate::SandboxCommand::add_program_with_libraries`] failed.
    #[error("libraries of {path}: {reason}")]
    Libraries {
        /// The program.
        path: String,
        /// Why.
        reason: String,
    },
    /// A mount of the caller's (at that place or over a directory above it) puts another file,
    /// none, or a tmpfs, where a program given to
    /// [`crate::SandboxCommand::add_program_with_libraries`] or one of its libraries must be
    /// bound: the sandbox would run or load that in the file's stead.
    #[error("`{place}` in the sandbox must show `{file}`, a program to run or one of its libraries, but a mount puts {shown} there: the sandbox would run what that holds instead; mount it elsewhere")]
    ProgramFileReplaced {
        /// The program or library, as found on the host.
        file: String,
        /// Where it lands in the sandbox.
        place: String,
        /// What the deepest mount at or above that place shows there: its source, the path
        /// below the source of a bind of a directory above (another file, or none), or `a tmpfs`.
        shown: String,
    },
    /// A mount of the caller's shows, where the loader looks for one of the libraries of a
    /// program given to [`crate::SandboxCommand::add_program_with_libraries`] before the file
    /// found for it (an earlier directory of its search list, or a `glibc-hwcaps`, `tls` or
    /// platform subdirectory), another file the loader would load instead.
    #[error("the loader looks for `{library}` at `{place}` in the sandbox first, and a mount puts `{shown}` there: the sandbox would load that instead; mount it elsewhere")]
    LibraryShadowed {
        /// The library, as found on the host.
        library: String,
        /// Where the loader looks first, in the sandbox.
        place: String,
        /// The host file the mount shows there.
        shown: String,
    },
    /// [`crate::SyscallMode::Learn`] or [`crate::SyscallMode::LogViolations`] needs seccomp
    /// user notification and `pidfd_getfd` (Linux 5.6+), and a listener the host's own
    /// filters do not already have; or a policy was missing.
    #[error("{0}")]
    ObserveUnsupported(&'static str),
    /// The sandbox could not be put in its cgroup.
    #[error("join the sandbox's cgroup: {0}")]
    Cgroup(#[from] crate::cgroup::CgroupError),
    /// The host's own uid or gid is root's outside its user namespace, and that namespace does
    /// not give it 65534 either: no id but root is left for the sandbox outside (see
    /// [`crate::HOST_ID_WHEN_ROOT`]).
    #[error(
        "no id but root's is left for the sandbox outside: this process's uid or gid maps to 0 \
         in its user namespace's parent, and the namespace does not map 65534 (as a uid and a \
         gid, with setgroups allowed) for a root host to give the sandbox; run it as an \
         unprivileged user, or as root in a namespace that maps 65534"
    )]
    NoUnprivilegedIds,
    /// A host-side system call failed.
    #[error("{what}: {source}")]
    Os {
        /// What was being done.
        what: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}

impl SpawnError {
    /// An OS error while doing `what`.
    pub(crate) fn os(what: impl Into<String>, source: io::Error) -> Self {
        SpawnError::Os {
            what: what.into(),
            source,
        }
    }
}
