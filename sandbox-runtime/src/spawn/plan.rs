//! Everything the child needs, prepared before the clone: C strings, pointer arrays, the mount
//! plan, the filter, descriptor numbers. The child only reads it.

use super::idmap::IdMaps;
use super::mounts::MountPlan;
use super::steps::Descriptions;
use crate::command::SandboxCommand;
use crate::error::SpawnError;
use crate::limits::Rlimit;
use crate::seccomp::PreparedFilter;
use sandbox_policy::host_guard::Guards;
use std::ffi::{CString, OsStr};
use std::os::fd::{OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};

/// [`Plan::host_root_detach`] until init has pivoted into the new root.
pub(crate) const ROOT_PENDING: u32 = u32::MAX - 1;

/// [`Plan::host_root_detach`] from init's pivot until its detach of the host root returns.
pub(crate) const DETACH_PENDING: u32 = u32::MAX;

/// The child's program, prepared.
pub(crate) struct Plan {
    /// Read end of the pipe on which init waits for the id maps.
    pub sync_fd: RawFd,
    /// Child end of the report socket (init and sandboxee).
    pub report_fd: RawFd,
    /// A pidfd of the host process, for a sandbox cloned directly from it (-1 otherwise, and
    /// where the kernel has no `pidfd_open`): init ends the sandbox once it reads as ready, the
    /// whole host having ended, instead of dying with the thread that cloned it (see
    /// [`Plan::watch_host`]).
    pub host_pidfd: RawFd,
    /// Everything that does not depend on descriptor numbers (the argument and environment
    /// strings the pointer arrays below point into among them).
    pub parts: PlanParts,
    /// Descriptors to put on 0, 1, 2 (`None`: the stream is closed in the sandboxee).
    pub stdio: [Option<RawFd>; 3],
    /// (source, target) of passed descriptors; every source is above every target.
    pub passed: Vec<(RawFd, RawFd)>,
    /// Descriptors that survive the sandboxee's close-all before exec (sorted).
    pub keep_fds: Vec<u32>,
    /// Descriptors init keeps when it starts (sorted): everything of this plan, and nothing
    /// at 0, 1 or 2 (every stream the sandboxee gets is one of the plan's own descriptors).
    /// The rest are whatever the multi-threaded host had open at the clone, such as other
    /// sandboxes' pipes and pidfds being set up at the same moment; init must not hold them.
    pub init_keep_fds: Vec<u32>,
    pub argv_ptrs: CStringPointers,
    pub envp_ptrs: CStringPointers,
    /// The stack the sandboxee runs on until its exec (it shares init's memory until then).
    pub sandboxee_stack: ChildStack,
    /// Nonzero from before the sandboxee's clone until the kernel clears it at the sandboxee's
    /// exec or exit (`CLONE_CHILD_CLEARTID`): what init waits on, as a vfork's parent would.
    pub sandboxee_before_exec: AtomicU32,
    /// Where init is with the new root, which it makes beside the sandboxee's first steps:
    /// [`ROOT_PENDING`] until its pivot, [`DETACH_PENDING`] until its detach of the host root
    /// returns, then 0 or the detach's errno. The sandboxee waits for it before its first path
    /// lookup (see [`super::sandboxee`]).
    pub host_root_detach: AtomicU32,
    /// Whether init set the capability limits ahead (a spare) rather than leaving them to the
    /// sandboxee (see [`super::capabilities`]). Set before the sandboxee's clone.
    pub capabilities_limited: AtomicBool,
    /// What init found or made at its start that the sandboxee needs. Set before the
    /// sandboxee's clone; a spare hands its own to each request's plan whole.
    pub init_start: InitStart,
    /// The clock ticks per second `/proc/PID/stat` counts CPU time in, when the program has a
    /// CPU limit (init then reads the program's own time there at its end); `None` otherwise.
    pub cpu_ticks_per_sec: Option<u64>,
    /// The kernel's Landlock ABI, asked before the clone (see [`super::reopen::abi`]).
    pub landlock_abi: libc::c_long,
    /// Whether init is cloned into a network namespace made ahead, `lo` up, which the cloning
    /// thread entered for the clone (see [`super::netns`]), rather than into a new one it must
    /// set up. Set before the clone.
    pub net_made_ahead: bool,
}

/// What init finds or makes at its start, before the sandboxee's clone, that the sandboxee
/// needs. A spare does that part of an init's work once, at its own start, and passes the result
/// on to each request's plan with [`InitStart::take_from`].
pub(crate) struct InitStart {
    /// The new root's device and inode numbers, recorded as init makes it (before
    /// [`Plan::host_root_detach`] leaves [`ROOT_PENDING`]): the sandboxee's `/` and `/..` must
    /// both be that directory.
    new_root: [AtomicU64; 2],
    /// Whether init has no controlling terminal, having left the host's (see
    /// [`super::init::start`]): the sandboxee then takes a process group of its own in the
    /// host's session instead of a session of its own (see [`super::sandboxee`]).
    pub controlling_terminal_left: AtomicBool,
    /// The umask init inherited from the host, which it cleared for itself at its start and the
    /// sandboxee gives the program back (see [`super::inherited`]).
    pub host_umask: AtomicU32,
}

impl InitStart {
    /// Nothing found yet: no root, a terminal not left, the usual umask.
    fn new() -> InitStart {
        InitStart {
            new_root: [AtomicU64::new(0), AtomicU64::new(0)],
            controlling_terminal_left: AtomicBool::new(false),
            host_umask: AtomicU32::new(0o022),
        }
    }

    /// Records the new root's device and inode numbers (see [`InitStart::new_root`]).
    pub(crate) fn set_new_root(&self, (dev, ino): (u64, u64)) {
        self.new_root[0].store(dev, Ordering::Relaxed);
        self.new_root[1].store(ino, Ordering::Relaxed);
    }

    /// The new root's device and inode numbers as recorded; zeros, which no directory has,
    /// before.
    pub(crate) fn new_root(&self) -> (u64, u64) {
        (
            self.new_root[0].load(Ordering::Relaxed),
            self.new_root[1].load(Ordering::Relaxed),
        )
    }

    /// Takes everything `spare` found at its start, as if this plan's init had found it. Every
    /// field is named here, so a field added above does not build until it is carried over.
    pub(crate) fn take_from(&self, spare: &InitStart) {
        let InitStart {
            new_root: _,
            controlling_terminal_left,
            host_umask,
        } = spare;
        self.set_new_root(spare.new_root());
        let terminal_left = controlling_terminal_left.load(Ordering::Relaxed);
        self.controlling_terminal_left
            .store(terminal_left, Ordering::Relaxed);
        self.host_umask
            .store(host_umask.load(Ordering::Relaxed), Ordering::Relaxed);
    }
}

/// A NULL-terminated array of pointers to C strings, as `execve` takes.
pub(crate) struct CStringPointers(Vec<*const libc::c_char>);

// SAFETY: the pointers point into the heap buffers of the plan's own strings, which move with
// the plan; nothing reads through them outside the child.
unsafe impl Send for CStringPointers {}

impl CStringPointers {
    /// The array, for `execve`.
    pub(crate) fn as_ptr(&self) -> *const *const libc::c_char {
        self.0.as_ptr()
    }
}

/// The stack a sandboxee runs on until its exec: one anonymous mapping per process, made at
/// the first sandbox and never unmapped, with an inaccessible guard below it.
///
/// One mapping serves every sandbox, even those starting at the same moment: a sandboxee runs
/// in its init's memory, and init is a fork-like clone, so each init has a copy of the mapping
/// of its own, and clones one sandboxee only. The process that clones inits never touches the
/// mapping, so each copy starts as untouched memory. Keeping it saves each start-up a mapping
/// and its unmapping afterwards, which stops every other CPU running the host's threads to
/// flush their TLBs.
#[derive(Clone, Copy)]
pub(crate) struct ChildStack {
    /// The address one past the mapping's end.
    top: usize,
}

impl ChildStack {
    /// Usable bytes: the set-up steps need a few KiB; the rest is margin.
    const SIZE: usize = 256 * 1024;
    const GUARD: usize = 64 * 1024;

    /// The process's sandboxee stack, mapped now if this is the first call to succeed.
    fn shared() -> std::io::Result<ChildStack> {
        static TOP: AtomicUsize = AtomicUsize::new(0);
        let top = TOP.load(Ordering::Acquire);
        if top != 0 {
            return Ok(ChildStack { top });
        }
        let made = Self::map()?;
        match TOP.compare_exchange(0, made, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => Ok(ChildStack { top: made }),
            Err(theirs) => {
                // Another thread mapped one first: that one is the process's.
                let len = Self::SIZE + Self::GUARD;
                // SAFETY: exactly the mapping map() made just above, which nothing else knows.
                unsafe { libc::munmap((made - len) as *mut libc::c_void, len) };
                Ok(ChildStack { top: theirs })
            }
        }
    }

    /// Maps a stack with its guard and returns its top.
    fn map() -> std::io::Result<usize> {
        let len = Self::SIZE + Self::GUARD;
        // SAFETY: a fresh private anonymous mapping; no existing memory is touched.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: the lowest GUARD bytes of the mapping made above: an overflow faults there
        // instead of writing into whatever lies below.
        if unsafe { libc::mprotect(base, Self::GUARD, libc::PROT_NONE) } < 0 {
            let e = std::io::Error::last_os_error();
            // SAFETY: the mapping made above, which nothing else knows.
            unsafe { libc::munmap(base, len) };
            return Err(e);
        }
        Ok(base as usize + len)
    }

    /// The initial stack pointer: the mapping's top (stacks grow down on every supported arch).
    pub(crate) fn top(&self) -> *mut libc::c_void {
        self.top as *mut libc::c_void
    }
}

fn cstr(s: &OsStr, what: &str) -> Result<CString, SpawnError> {
    CString::new(s.as_bytes()).map_err(|_| SpawnError::NulByte { what: what.into() })
}

fn pointers(v: &[CString]) -> CStringPointers {
    CStringPointers(
        v.iter()
            .map(|c| c.as_ptr())
            .chain(std::iter::once(std::ptr::null()))
            .collect(),
    )
}

/// The descriptors the child uses, already relocated above every target number.
pub(crate) struct ChildFds {
    pub sync: OwnedFd,
    pub report: OwnedFd,
    pub stdio: [Option<OwnedFd>; 3],
    pub passed: Vec<(OwnedFd, RawFd)>,
}

/// The parts of a plan that do not depend on descriptor numbers: built on the host, and sent
/// as they are to the fork server (see [`super::wire`]) when one runs.
pub(crate) struct PlanParts {
    pub clear_groups: bool,
    pub new_net: bool,
    /// Whether the program may make user namespaces of its own
    /// ([`crate::SandboxCommand::allow_user_namespaces`]); otherwise init closes them before
    /// the sandboxee starts, or the spawn fails.
    pub user_namespaces: bool,
    pub hostname: CString,
    pub mounts: MountPlan,
    pub cwd: CString,
    pub rlimits: Vec<Rlimit>,
    pub candidates: Vec<CString>,
    pub argv: Vec<CString>,
    pub envp: Vec<CString>,
    pub filter: Option<PreparedFilter>,
    /// The host guards the sandboxee installs as a filter of their own, under the policy's if
    /// there is one (see [`crate::seccomp::host_guards`], made before the clone): where there
    /// is no policy, or where the guards did not fit in the policy's program
    /// ([`crate::seccomp::prepare`]); none where they are in it or the sandbox needs none.
    pub separate_guards: Guards,
    /// Whether the sandboxee's Landlock domain is the whole one, which confines reopening,
    /// rather than a lighter one (see [`super::reopen`]): where a descriptor it is given, or
    /// the host's network, could bring it a file that reopening by path would let it do more
    /// with.
    pub confine_reopening: bool,
}

/// What confines the sandboxee besides its policy's filter, decided on the host from what the
/// sandbox is given (see [`PlanParts::separate_guards`] and
/// [`PlanParts::confine_reopening`]).
pub(crate) struct Confinement {
    pub separate_guards: Guards,
    pub reopening: bool,
}

impl PlanParts {
    /// Prepares the parts for `cmd`, and the words for its set-up steps.
    pub(crate) fn build(
        cmd: &SandboxCommand,
        passed_targets: &[RawFd],
        ids: &IdMaps,
        rlimits: Vec<(&'static str, Rlimit)>,
        filter: Option<PreparedFilter>,
        mounts: MountPlan,
        confinement: Confinement,
    ) -> Result<(PlanParts, Descriptions), SpawnError> {
        let (rlimit_names, rlimits): (Vec<&'static str>, Vec<Rlimit>) = rlimits.into_iter().unzip();
        let argv = cmd
            .args
            .iter()
            .map(|a| cstr(a, "an argument"))
            .collect::<Result<Vec<_>, _>>()?;
        let envp = cmd
            .env
            .iter()
            .map(|(k, v)| {
                let problem = if k.is_empty() {
                    Some("is empty")
                } else if k.as_bytes().contains(&b'=') {
                    Some("contains `=`")
                } else {
                    None
                };
                if let Some(problem) = problem {
                    return Err(SpawnError::BadEnvName {
                        name: k.to_string_lossy().into_owned(),
                        problem,
                    });
                }
                let mut kv = k.clone();
                kv.push("=");
                kv.push(v);
                cstr(&kv, "an environment variable")
            })
            .collect::<Result<Vec<_>, _>>()?;
        if cmd.hostname.len() > crate::error::HOST_NAME_MAX {
            return Err(SpawnError::HostnameTooLong {
                name: cmd.hostname.clone(),
                len: cmd.hostname.len(),
            });
        }
        let program = cmd.program.as_os_str();
        if program.is_empty() {
            return Err(SpawnError::NoProgramName);
        }
        // A path of the sandbox's, looked up from its root (a `..` in it stays inside).
        if !cmd.cwd.is_absolute() {
            return Err(SpawnError::RelativeWorkingDirectory(
                cmd.cwd.display().to_string(),
            ));
        }
        let candidates = if program.as_bytes().contains(&b'/') {
            vec![cstr(program, "the program path")?]
        } else {
            ["/usr/local/bin/", "/usr/bin/", "/bin/"]
                .iter()
                .map(|dir| {
                    let mut p = dir.as_bytes().to_vec();
                    p.extend_from_slice(program.as_bytes());
                    CString::new(p).map_err(|_| SpawnError::NulByte {
                        what: "the program name".into(),
                    })
                })
                .collect::<Result<Vec<_>, _>>()?
        };
        let descriptions = Descriptions {
            mounts: mounts.descriptions.clone(),
            mount_points: mounts.mount_points.clone(),
            rlimits: rlimit_names,
            passed: passed_targets.to_vec(),
            program: cmd.program.display().to_string(),
            program_noexec: mounts.noexec_entry_over(&cmd.program).map(str::to_string),
            cwd: cmd.cwd.display().to_string(),
            hostname: cmd.hostname.clone(),
        };
        let parts = PlanParts {
            clear_groups: ids.clear_groups,
            new_net: !cmd.share_network,
            user_namespaces: cmd.user_namespaces,
            hostname: cstr(OsStr::new(&cmd.hostname), "the hostname")?,
            mounts,
            cwd: cstr(cmd.cwd.as_os_str(), "the working directory")?,
            rlimits,
            candidates,
            argv,
            envp,
            filter,
            separate_guards: confinement.separate_guards,
            confine_reopening: confinement.reopening,
        };
        Ok((parts, descriptions))
    }
}

impl Plan {
    /// Has init keep `fd` open until the sandboxee has started: the write end of the fork
    /// server's start pipe, which init holds through its set-up and closes, with every other
    /// descriptor but the report socket, once the sandboxee has exec'd (see [`super::init::reap`];
    /// the sandboxee closes its copy before the exec). The server's read end then hangs up:
    /// the sandbox is running, or init has ended. `fd` must be above 2 and above every passed
    /// descriptor's target, as the plan's own descriptors are.
    pub(crate) fn keep_until_started(&mut self, fd: RawFd) {
        self.keep_in_init(fd);
    }

    /// Adds `fd` to what init keeps at its start.
    fn keep_in_init(&mut self, fd: RawFd) {
        let fd = fd as u32;
        if let Err(at) = self.init_keep_fds.binary_search(&fd) {
            self.init_keep_fds.insert(at, fd);
        }
    }

    /// Has init watch `host_pidfd`, a pidfd of the host process it is cloned from, and end the
    /// sandbox when the host has ended, rather than take a parent-death signal: the kernel
    /// sends that signal when the cloning *thread* ends, and a thread pool's worker may spawn a
    /// sandbox and retire while the host runs on. `host_pidfd` must be above 2 and above every
    /// passed descriptor's target, as the plan's own descriptors are.
    pub(crate) fn watch_host(&mut self, host_pidfd: RawFd) {
        self.host_pidfd = host_pidfd;
        self.keep_in_init(host_pidfd);
    }

    /// Joins `parts` with the descriptors the child will use. The descriptors stay owned by
    /// `fds` (closed in the parent after the clone).
    pub(crate) fn assemble(parts: PlanParts, fds: &ChildFds) -> std::io::Result<Plan> {
        use std::os::fd::AsRawFd;
        let passed: Vec<(RawFd, RawFd)> = fds
            .passed
            .iter()
            .map(|(fd, target)| (fd.as_raw_fd(), *target))
            .collect();
        // The sandboxee keeps the streams it is given (a stream it is not given stays closed,
        // whatever the host had at that number), the report socket and the passed targets.
        let given = (0..3u32).filter(|i| fds.stdio[*i as usize].is_some());
        let mut keep_fds: Vec<u32> = given.chain([fds.report.as_raw_fd() as u32]).collect();
        keep_fds.extend(passed.iter().map(|(_, t)| *t as u32));
        keep_fds.sort_unstable();
        keep_fds.dedup();
        let mut init_keep_fds: Vec<u32> =
            vec![fds.sync.as_raw_fd() as u32, fds.report.as_raw_fd() as u32];
        init_keep_fds.extend(fds.stdio.iter().flatten().map(|f| f.as_raw_fd() as u32));
        init_keep_fds.extend(passed.iter().map(|(src, _)| *src as u32));
        init_keep_fds.sort_unstable();
        init_keep_fds.dedup();
        let stdio = [0, 1, 2].map(|i| fds.stdio[i].as_ref().map(|f| f.as_raw_fd()));
        let cpu_limited = parts.rlimits.iter().any(|r| r.resource == libc::RLIMIT_CPU);
        // SAFETY: sysconf with a valid name; it reads no memory of ours.
        let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        let cpu_ticks_per_sec = u64::try_from(ticks).ok().filter(|t| *t > 0 && cpu_limited);
        Ok(Plan {
            sync_fd: fds.sync.as_raw_fd(),
            report_fd: fds.report.as_raw_fd(),
            host_pidfd: -1,
            stdio,
            passed,
            keep_fds,
            init_keep_fds,
            // Pointers into the strings' heap buffers, which do not move with `parts`.
            argv_ptrs: pointers(&parts.argv),
            envp_ptrs: pointers(&parts.envp),
            parts,
            sandboxee_stack: ChildStack::shared()?,
            sandboxee_before_exec: AtomicU32::new(0),
            host_root_detach: AtomicU32::new(ROOT_PENDING),
            capabilities_limited: AtomicBool::new(false),
            init_start: InitStart::new(),
            cpu_ticks_per_sec,
            landlock_abi: super::reopen::abi(),
            net_made_ahead: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::ChildStack;
    use crate::{SandboxCommand, Status, Stdio};

    /// How many pages of the stack's usable part are resident in this process.
    fn resident_pages(stack: ChildStack) -> usize {
        // SAFETY: sysconf with a valid name.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize;
        let mut vec = vec![0u8; ChildStack::SIZE / page];
        let start = stack.top - ChildStack::SIZE;
        // SAFETY: the range is the stack mapping's usable part, which is never unmapped; vec has
        // one byte per page of it.
        let r = unsafe { libc::mincore(start as *mut _, ChildStack::SIZE, vec.as_mut_ptr()) };
        assert_eq!(r, 0, "mincore: {}", std::io::Error::last_os_error());
        vec.iter().filter(|b| **b & 1 != 0).count()
    }

    #[test]
    fn sandboxes_started_at_once_share_the_one_stack_the_host_never_touches() {
        let stack = ChildStack::shared().expect("map the sandboxee stack");
        let runs: Vec<_> = (0..4)
            .map(|_| {
                std::thread::spawn(|| {
                    // Cloned from this process even if a test starts a fork server in it: the
                    // copy looked at below is this process's.
                    SandboxCommand::new("/bin/true")
                        .use_fork_server(false)
                        .add_program_with_libraries("/bin/true")
                        .stdin(Stdio::Null)
                        .stdout(Stdio::Null)
                        .stderr(Stdio::Null)
                        .status()
                })
            })
            .collect();
        for run in runs {
            let outcome = run.join().expect("no panic").expect("the sandbox starts");
            assert_eq!(outcome.status, Status::Exited(0), "{outcome}");
        }
        assert_eq!(ChildStack::shared().expect("mapped").top, stack.top);
        assert_eq!(
            resident_pages(stack),
            0,
            "the host wrote to the sandboxee stack"
        );
    }
}
