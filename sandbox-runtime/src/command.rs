//! The builder: what to run, what it sees, what bounds it. Shaped like
//! [`std::process::Command`], with the sandbox's own knobs beside the familiar ones.

use crate::child::{SandboxChild, SandboxOutput};
use crate::error::SpawnError;
use crate::limits::Limits;
use crate::observe::SyscallMode;
use crate::outcome::Outcome;
use crate::Policy;
use std::ffi::OsString;
use std::os::fd::{OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// How one of the program's standard streams is connected.
#[derive(Debug, Default)]
pub enum Stdio {
    /// The same file as the host process's stream (refused at the spawn if that is a
    /// directory, see [`SandboxCommand::pass_fd`]): whatever the descriptor of that number
    /// is. A Rust host that started with a standard stream closed has `/dev/null` there (its
    /// runtime opens it before `main`); a host in another language must fill it before it
    /// opens files, or the first file it opens is passed as that stream.
    #[default]
    Inherit,
    /// `/dev/null` (opened on the host, before the sandbox's file system is built).
    Null,
    /// A pipe whose other end the [`SandboxChild`] holds.
    Piped,
    /// A file descriptor of the caller's, which the command's next run takes (a later run is
    /// refused until it is set again). The program can do with it what the descriptor allows,
    /// not more: see [`SandboxCommand::pass_fd`].
    Fd(OwnedFd),
}

impl Stdio {
    /// [`Stdio::Inherit`].
    pub fn inherit() -> Self {
        Stdio::Inherit
    }
    /// [`Stdio::Null`].
    pub fn null() -> Self {
        Stdio::Null
    }
    /// [`Stdio::Piped`].
    pub fn piped() -> Self {
        Stdio::Piped
    }
}

/// One entry of the sandbox's file system, besides `/proc` and `/dev` which are always there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mount {
    /// A host file or directory bound at `dst`. Read-only mounts allow execution; writable ones
    /// are `noexec` unless `exec` is set. All are `nosuid,nodev`; submounts of `src` are not
    /// included.
    Bind {
        /// Host path.
        src: PathBuf,
        /// Absolute path inside the sandbox.
        dst: PathBuf,
        /// Whether the sandbox may write through it.
        writable: bool,
        /// Whether files on a writable mount may be executed.
        exec: bool,
    },
    /// A fresh tmpfs of at most `size` bytes (1 to 2^62) at `dst`, writable by the sandbox user,
    /// `noexec` unless `exec` is set.
    Tmpfs {
        /// Absolute path inside the sandbox.
        dst: PathBuf,
        /// The size limit in bytes.
        size: u64,
        /// Whether files on it may be executed.
        exec: bool,
    },
    /// A symbolic link at `link` pointing to `target`.
    Symlink {
        /// What the link points to (not checked).
        target: PathBuf,
        /// Absolute path inside the sandbox.
        link: PathBuf,
    },
}

impl Mount {
    /// The path inside the sandbox this entry creates.
    pub fn destination(&self) -> &Path {
        match self {
            Mount::Bind { dst, .. } | Mount::Tmpfs { dst, .. } => dst,
            Mount::Symlink { link, .. } => link,
        }
    }
}

/// A program to run in a sandbox: the builder. Nothing happens until [`SandboxCommand::spawn`].
///
/// Defaults: an empty environment, cwd `/`, inherited standard streams, a file system holding
/// only `/proc` and a minimal `/dev`, hostname `sandbox`, no network (only `lo`), no limits but
/// `RLIMIT_CORE = 0`, and no seccomp policy (namespaces only) until [`SandboxCommand::policy`].
///
/// ```no_run
/// use sandbox_runtime::{SandboxCommand, Stdio};
/// let out = SandboxCommand::new("/bin/echo")
///     .arg("hi")
///     .mount_ro("/usr", "/usr")
///     .mount_ro("/lib", "/lib")
///     .mount_ro("/lib64", "/lib64")
///     .mount_ro("/bin", "/bin")
///     .output()
///     .unwrap();
/// assert!(out.outcome.status.success());
/// assert_eq!(out.stdout, b"hi\n");
/// ```
#[derive(Debug)]
pub struct SandboxCommand {
    pub(crate) program: PathBuf,
    pub(crate) args: Vec<OsString>,
    pub(crate) env: Vec<(OsString, OsString)>,
    pub(crate) cwd: PathBuf,
    pub(crate) stdin: Stdio,
    pub(crate) stdout: Stdio,
    pub(crate) stderr: Stdio,
    pub(crate) passed_fds: Vec<(OwnedFd, RawFd)>,
    pub(crate) mounts: Vec<Mount>,
    pub(crate) programs_with_libraries: Vec<PathBuf>,
    pub(crate) limits: Limits,
    pub(crate) hostname: String,
    pub(crate) share_network: bool,
    pub(crate) user_namespaces: bool,
    pub(crate) use_fork_server: bool,
    pub(crate) policy: Option<Arc<Policy>>,
    pub(crate) syscall_mode: SyscallMode,
    /// Which descriptors a run took and were not set again: standard input, output, error,
    /// and the passed ones (see [`SpawnError::DescriptorsUsed`]).
    pub(crate) descriptors_used: [bool; 4],
}

impl SandboxCommand {
    /// A command running `program`, a path inside the sandbox (a bare name is looked up in
    /// `/usr/local/bin:/usr/bin:/bin` inside the sandbox). `argv[0]` is `program` as given.
    pub fn new(program: impl AsRef<Path>) -> Self {
        let program = program.as_ref().to_path_buf();
        SandboxCommand {
            args: vec![program.clone().into_os_string()],
            program,
            env: Vec::new(),
            cwd: PathBuf::from("/"),
            stdin: Stdio::Inherit,
            stdout: Stdio::Inherit,
            stderr: Stdio::Inherit,
            passed_fds: Vec::new(),
            mounts: Vec::new(),
            programs_with_libraries: Vec::new(),
            limits: Limits::default(),
            hostname: "sandbox".to_string(),
            share_network: false,
            user_namespaces: false,
            use_fork_server: true,
            policy: None,
            syscall_mode: SyscallMode::Enforce,
            descriptors_used: [false; 4],
        }
    }

    /// Sets `argv[0]`, which is otherwise `program` as given to [`SandboxCommand::new`]: for
    /// programs that choose what to do by the name they were called by (`xzcat`, a busybox
    /// link) when `program` is the path they resolve to.
    pub fn arg0(&mut self, arg0: impl Into<OsString>) -> &mut Self {
        self.args[0] = arg0.into();
        self
    }

    /// Appends an argument.
    pub fn arg(&mut self, arg: impl Into<OsString>) -> &mut Self {
        self.args.push(arg.into());
        self
    }

    /// Appends arguments.
    pub fn args<I, S>(&mut self, args: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets an environment variable (the environment starts empty).
    pub fn env(&mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> &mut Self {
        let key = key.into();
        self.env.retain(|(k, _)| *k != key);
        self.env.push((key, value.into()));
        self
    }

    /// Copies the host process's environment (variables set later with [`Self::env`] win).
    pub fn inherit_env(&mut self) -> &mut Self {
        for (k, v) in std::env::vars_os() {
            if !self.env.iter().any(|(key, _)| *key == k) {
                self.env.push((k, v));
            }
        }
        self
    }

    /// The working directory inside the sandbox (default `/`).
    pub fn current_dir(&mut self, dir: impl AsRef<Path>) -> &mut Self {
        self.cwd = dir.as_ref().to_path_buf();
        self
    }

    /// Connects standard input.
    pub fn stdin(&mut self, s: Stdio) -> &mut Self {
        self.stdin = s;
        self.descriptors_used[0] = false;
        self
    }

    /// Connects standard output.
    pub fn stdout(&mut self, s: Stdio) -> &mut Self {
        self.stdout = s;
        self.descriptors_used[1] = false;
        self
    }

    /// Connects standard error.
    pub fn stderr(&mut self, s: Stdio) -> &mut Self {
        self.stderr = s;
        self.descriptors_used[2] = false;
        self
    }

    /// Gives the program `host_fd` as descriptor number `child_fd` (which must be above 2;
    /// use [`Self::stdin`] and friends for 0 to 2). The command's next run takes it, so the
    /// host holds no copy once it has started (a pipe's reader sees the end when the sandbox
    /// closes its end); a later run is refused ([`SpawnError::DescriptorsUsed`]) until the
    /// descriptors are passed again.
    ///
    /// Where the kernel has Landlock (ABI 3, Linux 6.2+; see [`crate::descriptors_confined`]),
    /// the program cannot reopen the file by path (`/proc/self/fd/N`) to do more than the
    /// descriptor does: a file passed read-only is not written or truncated, one passed
    /// write-only not read, none `execve`d (appending is no limit: the program can clear
    /// `O_APPEND` on the open file, which the host shares). Without Landlock, the file's owner
    /// and mode decide. What the descriptor itself allows its owner (`fchmod`, `fchown`,
    /// timestamps, extended attributes) it allows either way, but for set-id modes: a regular
    /// file or a Unix socket (which can bring one later) passed gives the sandbox the set-id
    /// guard ([`sandbox_policy::set_id`]), which refuses them. A directory, or a symbolic link
    /// opened with `O_PATH`, is refused at the spawn ([`SpawnError::DirectoryDescriptor`]): its
    /// `..` leads up the host's tree; bind the directory instead. A terminal (here or as a
    /// standard stream) is given as an open file of its own, the same terminal opened again,
    /// so that what the program sets on its open file (`O_NONBLOCK`, a `flock` lock) is not
    /// left on the host's; where it cannot be opened again (exclusive mode), and for a pty's
    /// master, the host's open file is shared.
    pub fn pass_fd(&mut self, host_fd: OwnedFd, child_fd: RawFd) -> &mut Self {
        self.passed_fds.push((host_fd, child_fd));
        self.descriptors_used[3] = false;
        self
    }

    /// Adds a file-system entry. Entries are made shallowest destination first. A destination
    /// is an absolute sandbox path below `/` (the root is the sandbox's own tmpfs); on its way
    /// there, the sandbox's init follows the links [`Self::symlink`] entries make and no other
    /// (a link found in a bound directory fails the set-up, naming the mount point), so a link
    /// another sandbox planted in a shared writable directory cannot move an entry. A bind's
    /// source is looked up on the host, following links.
    pub fn mount(&mut self, m: Mount) -> &mut Self {
        self.mounts.push(m);
        self
    }

    /// Binds a host path read-only (execution allowed).
    pub fn mount_ro(&mut self, src: impl AsRef<Path>, dst: impl AsRef<Path>) -> &mut Self {
        self.mount(Mount::Bind {
            src: src.as_ref().into(),
            dst: dst.as_ref().into(),
            writable: false,
            exec: true,
        })
    }

    /// Binds a host path read-write, `noexec`. What the sandbox writes there stays on the host,
    /// so a sandbox with a writable bind gets the set-id guard ([`sandbox_policy::set_id`]): no
    /// file there can be given a set-user-ID or set-group-ID mode. Where the kernel has Landlock
    /// (ABI 3), such a sandbox makes no Unix socket's file but in its own tmpfs mounts: another
    /// sandbox binding the same directory could connect to one and be handed what this one was
    /// given (see the README's security model).
    pub fn mount_rw(&mut self, src: impl AsRef<Path>, dst: impl AsRef<Path>) -> &mut Self {
        self.mount(Mount::Bind {
            src: src.as_ref().into(),
            dst: dst.as_ref().into(),
            writable: true,
            exec: false,
        })
    }

    /// Binds a host path read-write with execution allowed: the program may then run code it
    /// wrote itself, so use it only when that is intended. Guarded as [`Self::mount_rw`] is.
    pub fn mount_rw_exec(&mut self, src: impl AsRef<Path>, dst: impl AsRef<Path>) -> &mut Self {
        self.mount(Mount::Bind {
            src: src.as_ref().into(),
            dst: dst.as_ref().into(),
            writable: true,
            exec: true,
        })
    }

    /// Mounts a fresh `noexec` tmpfs of at most `size` bytes (1 to 2^62; the spawn refuses
    /// others, which tmpfs would read as no limit), holding at most one file, directory or link
    /// per 4 KiB of its size (at least 256).
    pub fn tmpfs(&mut self, dst: impl AsRef<Path>, size: u64) -> &mut Self {
        self.mount(Mount::Tmpfs {
            dst: dst.as_ref().into(),
            size,
            exec: false,
        })
    }

    /// Creates a symbolic link inside the sandbox.
    pub fn symlink(&mut self, target: impl AsRef<Path>, link: impl AsRef<Path>) -> &mut Self {
        self.mount(Mount::Symlink {
            target: target.as_ref().into(),
            link: link.as_ref().into(),
        })
    }

    /// Binds a program read-only at its own path together with the shared libraries it loads
    /// (read from its ELF headers by [`crate::elf`] at each spawn; a spawn of the same program
    /// again reuses what the last one read while none of those files has changed, see
    /// [`crate::elf::resolve_remembered`]), searching the `LD_LIBRARY_PATH` the program is
    /// given with [`Self::env`] too.
    pub fn add_program_with_libraries(&mut self, path: impl AsRef<Path>) -> &mut Self {
        self.programs_with_libraries.push(path.as_ref().into());
        self
    }

    /// Finds now, rather than at each spawn, the libraries of the programs given to
    /// [`Self::add_program_with_libraries`], and binds them as that would: every later spawn
    /// binds what this found. Call it once every mount, symbolic link and `LD_LIBRARY_PATH` is
    /// set, as a spawn would see them. For a caller that must tell the search, which a hostile
    /// binary can make slow, from the making of the sandbox (the `sandbox` tool ends at once on
    /// Ctrl-C during the first, not during the second). On an error the command is unchanged.
    pub fn find_libraries(&mut self) -> Result<&mut Self, SpawnError> {
        let mut mounts = self.mounts.clone();
        crate::spawn::bind_programs_with_libraries(self, &mut mounts)?;
        self.mounts = mounts;
        self.programs_with_libraries.clear();
        Ok(self)
    }

    /// Sets the resource limits (checked at spawn: a zero limit is an error).
    pub fn limits(&mut self, limits: Limits) -> &mut Self {
        self.limits = limits;
        self
    }

    /// The hostname inside the sandbox (default `sandbox`).
    pub fn hostname(&mut self, name: impl Into<String>) -> &mut Self {
        self.hostname = name.into();
        self
    }

    /// Shares the host's network namespace instead of a fresh one, used by no other sandbox,
    /// with only `lo`, up. (A host that may make network namespaces and clones its sandboxes
    /// directly has them made ahead by a runtime thread, `sandbox-netns`, from its second such
    /// sandbox on; a later one gets the one made ahead when it is ready: see the README's
    /// performance notes.) Shared, the program reaches the host's listeners, but not abstract
    /// Unix sockets made outside the sandbox where Landlock has scopes (ABI 6, Linux 6.12; on
    /// an older kernel it reaches those too).
    /// Host clients can connect to an abstract name the program binds, and hand it files, so
    /// the sandbox gets the set-id guard ([`sandbox_policy::set_id`]).
    pub fn share_network(&mut self, share: bool) -> &mut Self {
        self.share_network = share;
        self
    }

    /// Lets the program make user namespaces of its own (off by default), where its policy
    /// allows `unshare` or `clone` with `CLONE_NEWUSER`: for a program that sandboxes its own
    /// children. Off, the sandbox's user namespace allows no nested one
    /// (`user.max_user_namespaces` is 0 in it, which only a process with `CAP_SYS_RESOURCE`
    /// there could change, and the program has none), so the program has no capability
    /// anywhere: it can mount nothing, nor reach the kernel code that only such a capability
    /// opens (a network namespace's packet filters, say). On, the program may make user
    /// namespaces with every capability in them, and its Landlock domain refuses every mount
    /// even there (see the README's security model).
    pub fn allow_user_namespaces(&mut self, allow: bool) -> &mut Self {
        self.user_namespaces = allow;
        self
    }

    /// Whether to start this sandbox from the fork server when one runs (the default; see
    /// [`crate::start_fork_server`]), or to clone it directly from this process.
    pub fn use_fork_server(&mut self, yes: bool) -> &mut Self {
        self.use_fork_server = yes;
        self
    }

    /// The seccomp policy the program runs under, from its first instruction on. Without one,
    /// nothing filters the program's calls but the host guards (the set-id guard and the
    /// terminal guard, where the sandbox reaches host files or a host terminal): the
    /// namespaces, mounts and limits still hold, but not what only the policy's filter guards
    /// (the prelude's rules on virtio sockets and `request_key` among them; see the language
    /// reference).
    pub fn policy(&mut self, policy: &Policy) -> &mut Self {
        self.policy = Some(Arc::new(policy.clone()));
        self
    }

    /// What the monitor does with the system calls that reach it (see [`crate::observe`]):
    /// enforce the policy (the default), learn (observe every call and let it run, under no
    /// policy), or log violations (observe each call the policy would kill and let it run).
    /// Outside [`SyscallMode::Enforce`] the syscall filter is not enforced; namespaces, mounts
    /// and limits still are. The observations come from [`SandboxChild::observations`].
    pub fn syscall_mode(&mut self, mode: SyscallMode) -> &mut Self {
        self.syscall_mode = mode;
        self
    }

    /// [`Self::syscall_mode`] with [`SyscallMode::Learn`].
    pub fn learn(&mut self) -> &mut Self {
        self.syscall_mode(SyscallMode::Learn)
    }

    /// Starts the sandbox. Returns once the sandbox's init runs with its id maps written;
    /// failures inside the sandbox before the exec show in the [`Outcome`] as
    /// [`crate::Status::SetupError`]. The sandbox runs until its own end, whether or not the
    /// calling thread ends first (the returned handle may go to any thread), and ends with
    /// this process (see the crate docs' "Lifetime").
    pub fn spawn(&mut self) -> Result<SandboxChild, SpawnError> {
        crate::spawn::spawn(self)
    }

    /// Runs to completion with standard output and error captured (unless set otherwise) and
    /// standard input from `/dev/null` (unless set otherwise). Everything the program writes is
    /// kept in this process's memory, as [`std::process::Command::output`] keeps it, and no
    /// sandbox limit bounds it (only the wall-time limit ends the writing): for a program that
    /// may write without end, [`Self::spawn`] with [`crate::Stdio::Piped`] and read at most
    /// what you need.
    pub fn output(&mut self) -> Result<SandboxOutput, SpawnError> {
        // For this run only: the command's own settings stay for the next.
        let defaults = [Stdio::Null, Stdio::Piped, Stdio::Piped];
        let replaced = self.streams_mut().map(|s| matches!(s, Stdio::Inherit));
        for ((s, default), replace) in self.streams_mut().into_iter().zip(defaults).zip(replaced) {
            if replace {
                *s = default;
            }
        }
        let child = self.spawn();
        for (s, replaced) in self.streams_mut().into_iter().zip(replaced) {
            if replaced {
                *s = Stdio::Inherit;
            }
        }
        Ok(child?.wait_with_output())
    }

    fn streams_mut(&mut self) -> [&mut Stdio; 3] {
        [&mut self.stdin, &mut self.stdout, &mut self.stderr]
    }

    /// Runs to completion with inherited streams and returns the outcome. The sandbox is watched
    /// from the calling thread (no monitor thread is started).
    ///
    /// As with [`SandboxChild::wait`], nothing of the sandbox runs once the outcome is back, but
    /// its init may still be exiting: it is reaped on a thread of the runtime right after. A
    /// process that exits at once leaves that exiting init to whoever reaps its orphans.
    pub fn status(&mut self) -> Result<Outcome, SpawnError> {
        crate::spawn::run_to_end(self)
    }
}
