//! The baselines and the peers, run through `std::process::Command`: its own spawn (glibc's
//! `posix_spawn`, a `vfork`), plain fork+exec (also under a one-instruction filter, the
//! kernel's floor for any filter), util-linux `unshare`,
//! bubblewrap with isolation equivalent to ours (with or without a seccomp filter), and
//! firejail.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A top-level directory programs under `/usr` expect (`/bin`, `/lib`, `/lib64`): on a
/// merged-`/usr` system a symbolic link into `/usr`, elsewhere a directory to bind.
pub struct TopLevel {
    /// The absolute path, e.g. `/lib`.
    pub path: String,
    /// The link's target when it is a symbolic link, e.g. `usr/lib`.
    pub link: Option<String>,
}

/// The dynamic loader's cache, bound (when the host has it) into every sandbox here that binds
/// `/usr`: without it the loader probes a dozen directories for each library before it finds
/// it, work that the same program run bare does not do.
pub const LOADER_CACHE: &str = "/etc/ld.so.cache";

/// The top-level directories of this host that exist, each as a link or a directory.
pub fn top_level() -> Vec<TopLevel> {
    ["/bin", "/lib", "/lib64"]
        .iter()
        .filter(|p| std::path::Path::new(p).exists())
        .map(|p| TopLevel {
            path: p.to_string(),
            link: std::fs::read_link(p)
                .ok()
                .map(|t| t.to_string_lossy().into_owned()),
        })
        .collect()
}

/// A peer program: how to build its command line around a program to run.
#[derive(Clone, Copy, Debug)]
pub enum Peer {
    /// `program args` spawned by `std::process::Command` as it does by default, no isolation:
    /// glibc's `posix_spawn`, a `clone(CLONE_VM | CLONE_VFORK)` and `execve`. The child
    /// borrows the parent's memory until its exec instead of getting a copy of its page
    /// tables, so this is cheaper than [`Peer::ForkExec`] and does not grow with the parent.
    Bare,
    /// `program args` by plain fork+exec, no isolation: `std::process::Command` with a
    /// `pre_exec` hook that does nothing, which makes it `fork` (a copy of the parent's page
    /// tables, as our direct clone makes) and `execve` in the child.
    ForkExec,
    /// [`Peer::Bare`] through a `pre_exec` hook that sets `PR_SET_NO_NEW_PRIVS` and, with
    /// `floor_filter`, installs [`FLOOR_FILTER`]. The hook makes `Command` fork where it
    /// would otherwise `posix_spawn`, so the pair, with and without the filter, isolates what
    /// running under any filter at all costs a program, with nothing of a sandbox around it.
    Forked {
        /// Whether the hook installs the one-instruction filter.
        floor_filter: bool,
    },
    /// `unshare -Urmpiu[n] --fork program args`: user, mount, pid, IPC, UTS (and network)
    /// namespaces, no new root file system, no filter.
    Unshare {
        /// Whether a network namespace is created (`-n`).
        net: bool,
    },
    /// `bwrap --unshare-all` (or `--unshare-all --share-net`) with `/usr`, the `/lib`,
    /// `/lib64` and `/bin` links and [`LOADER_CACHE`] bound read-only, a fresh `/proc` and
    /// `/dev`.
    Bwrap {
        /// Whether a network namespace is created.
        net: bool,
    },
    /// [`Peer::Bwrap`] with a network namespace and `--seccomp FD`: bubblewrap installs this
    /// classic BPF program (native byte order) right before it execs the program, which the
    /// program must therefore allow.
    BwrapFiltered {
        /// What the row label says the program is.
        label: &'static str,
        /// The instructions, 8 bytes each.
        program: &'static [u8],
    },
    /// `firejail --noprofile --net=none --ipc-namespace --private-dev --seccomp
    /// --caps.drop=all --nonewprivs`: mount, pid, network and IPC namespaces, a minimal `/dev`,
    /// its default filter; the host's root file system (firejail builds no private root), and,
    /// as root, the host's user namespace.
    Firejail,
}

/// Sandboxes the benchmark would compare but cannot run: printed as a notice.
pub fn announce_missing() {
    for (program, peer) in [("nsjail", "nsjail"), ("minijail0", "minijail")] {
        let found = std::env::var_os("PATH")
            .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).exists()));
        if found {
            println!("  NOTICE: {peer} is installed but this benchmark has no rows for it yet");
        } else {
            println!(
                "  NOTICE: {peer} is not installed ({program} is not on PATH; .ci/run installs peers from Debian, which does not package it); no rows"
            );
        }
    }
}

/// How long a peer may take to run `/bin/true` once before it is counted as not usable here
/// (a peer that hangs on some machine must not hang the benchmark).
const AVAILABILITY_TIMEOUT: Duration = Duration::from_secs(10);

/// How long one timed run may take before it is killed and the benchmark fails: far above any
/// run here, the same as our sandboxes' wall-time limit.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(120);

impl Peer {
    /// The row label.
    pub fn name(&self) -> String {
        match self {
            Peer::Bare => "posix_spawn (std::process::Command)".into(),
            Peer::ForkExec => "fork+exec (fork, then execve)".into(),
            Peer::Forked {
                floor_filter: false,
            } => "fork+exec, no_new_privs".into(),
            Peer::Forked { floor_filter: true } => {
                "fork+exec, no_new_privs, `ret ALLOW` filter (the kernel's floor)".into()
            }
            Peer::Unshare { net: false } => "unshare -Urmpiu --fork".into(),
            Peer::Unshare { net: true } => "unshare -Urmpiun --fork".into(),
            Peer::Bwrap { net: true } => "bwrap --unshare-all".into(),
            Peer::Bwrap { net: false } => "bwrap --unshare-all --share-net".into(),
            Peer::BwrapFiltered { label, .. } => format!("bwrap --unshare-all --seccomp, {label}"),
            Peer::Firejail => "firejail --noprofile --net=none".into(),
        }
    }

    /// The command running `argv` under this peer, with an empty environment, cwd `/` and
    /// standard streams on `/dev/null` (as in our sandbox's runs). For
    /// [`Peer::BwrapFiltered`], use [`Peer::command_with_filter`].
    pub fn command(&self, argv: &[&str]) -> Command {
        assert!(
            !matches!(self, Peer::BwrapFiltered { .. }),
            "Peer::command would leave out the filter: use Peer::command_with_filter"
        );
        self.build(argv, None)
    }

    /// [`Peer::command`], and the descriptor the command names that must stay open until it is
    /// spawned (the filter of [`Peer::BwrapFiltered`], which the child inherits).
    pub fn command_with_filter(&self, argv: &[&str]) -> Result<(Command, Option<OwnedFd>), String> {
        let fd = match self {
            Peer::BwrapFiltered { program, .. } => Some(inheritable_memfd(program)?),
            _ => None,
        };
        Ok((self.build(argv, fd.as_ref().map(|f| f.as_raw_fd())), fd))
    }

    /// The command line, with `filter` as bubblewrap's `--seccomp` descriptor.
    fn build(&self, argv: &[&str], filter: Option<std::os::fd::RawFd>) -> Command {
        let mut c = match self {
            Peer::Bare => Command::new(argv[0]),
            Peer::ForkExec => {
                let mut c = Command::new(argv[0]);
                // SAFETY: the hook's one atomic store is async-signal-safe; its presence is what
                // makes `Command` fork.
                unsafe {
                    c.pre_exec(|| {
                        FORK_CHILD_WROTE.store(true, Ordering::Relaxed);
                        Ok(())
                    })
                };
                c
            }
            Peer::Forked { floor_filter } => {
                let floor_filter = *floor_filter;
                let mut c = Command::new(argv[0]);
                // SAFETY: the hook runs in the forked child before exec, makes only
                // async-signal-safe system calls and touches only a static program.
                unsafe { c.pre_exec(move || restrict_self(floor_filter)) };
                c
            }
            Peer::Unshare { net } => {
                let mut c = Command::new("unshare");
                c.arg(if *net { "-Urmpiun" } else { "-Urmpiu" })
                    .arg("--fork");
                c.arg(argv[0]);
                c
            }
            Peer::Bwrap { .. } | Peer::BwrapFiltered { .. } => {
                let mut c = Command::new("bwrap");
                c.arg("--unshare-all");
                if let Peer::Bwrap { net: false } = self {
                    c.arg("--share-net");
                }
                if let Some(fd) = filter {
                    c.args(["--seccomp", &fd.to_string()]);
                }
                c.args(["--die-with-parent", "--new-session"])
                    .args(["--ro-bind", "/usr", "/usr"]);
                for top in top_level() {
                    match &top.link {
                        Some(target) => c.args(["--symlink", target, &top.path]),
                        None => c.args(["--ro-bind", &top.path, &top.path]),
                    };
                }
                c.args(["--ro-bind-try", LOADER_CACHE, LOADER_CACHE])
                    .args(["--proc", "/proc", "--dev", "/dev"]);
                c.arg(argv[0]);
                c
            }
            Peer::Firejail => {
                let mut c = Command::new("firejail");
                c.args([
                    "--quiet",
                    "--noprofile",
                    "--net=none",
                    "--ipc-namespace",
                    "--private-dev",
                    "--seccomp",
                    "--caps.drop=all",
                    "--nonewprivs",
                    "--",
                ]);
                c.arg(argv[0]);
                c
            }
        };
        c.args(&argv[1..])
            .env_clear()
            .current_dir("/")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        c
    }

    /// Runs `argv` to completion; `Err` unless it exits with one of `ok_codes`. With `drain`,
    /// standard output is a pipe this process reads to its end (so a program cannot tell
    /// that its output is discarded, as GNU tar does on `/dev/null`). A run longer than
    /// [`RUN_TIMEOUT`] is killed and is an error.
    pub fn run(&self, argv: &[&str], ok_codes: &[i32], drain: bool) -> Result<(), String> {
        self.run_pid(argv, ok_codes, drain).map(drop)
    }

    /// [`Peer::run`], returning the pid the peer's process had.
    pub fn run_pid(&self, argv: &[&str], ok_codes: &[i32], drain: bool) -> Result<u32, String> {
        self.run_within(argv, ok_codes, drain, RUN_TIMEOUT)
    }

    /// [`Peer::run`] with a time limit: past it the peer's whole process group is killed
    /// (`unshare --fork`'s child, say, does not die with `unshare`), reaped, and the run is an
    /// error. Waiting is a `poll` on the output pipe and a pidfd, so the limit costs the timed
    /// run no sleep and no thread.
    fn run_within(
        &self,
        argv: &[&str],
        ok_codes: &[i32],
        drain: bool,
        limit: Duration,
    ) -> Result<u32, String> {
        let (mut cmd, filter) = self.command_with_filter(argv)?;
        cmd.process_group(0);
        if drain {
            cmd.stdout(Stdio::piped());
        }
        let spawned = cmd.spawn().map_err(|e| format!("cannot start: {e}"));
        // The child has its copy: close ours before anything else is spawned.
        drop(filter);
        let mut child = spawned?;
        let ended = wait_within(&mut child, limit);
        if ended.is_err() {
            // SAFETY: a signal to the child's own process group (it is not yet reaped, so the
            // group still exists under its number).
            unsafe { libc::kill(-(child.id() as libc::pid_t), libc::SIGKILL) };
        }
        let status = child.wait().map_err(|e| format!("wait: {e}"));
        ended?;
        let status = status?;
        match status.code() {
            Some(c) if ok_codes.contains(&c) => Ok(child.id()),
            _ => Err(format!("ended with {status}")),
        }
    }

    /// Whether this peer can run `/bin/true` here, within [`AVAILABILITY_TIMEOUT`]; prints a
    /// notice naming the peer and the reason when it cannot (its rows are then skipped, never
    /// silently). Checked once per peer and run: every later section gets the same answer.
    pub fn available(&self) -> bool {
        static CHECKED: Mutex<Vec<(String, bool)>> = Mutex::new(Vec::new());
        let mut checked = CHECKED.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, ok)) = checked.iter().find(|(n, _)| *n == self.name()) {
            return *ok;
        }
        let ok = match self.run_within(&["/bin/true"], &[0], false, AVAILABILITY_TIMEOUT) {
            Ok(_) => true,
            Err(e) => {
                println!(
                    "  NOTICE: {} is not usable here ({e}); its rows are skipped",
                    self.name()
                );
                false
            }
        };
        checked.push((self.name(), ok));
        ok
    }
}

/// Set by [`Peer::ForkExec`]'s child before its exec: in the child's own copy of the memory
/// if it was forked, in this process's if it shared it (a `vfork`).
static FORK_CHILD_WROTE: AtomicBool = AtomicBool::new(false);

/// Checks that [`Peer::ForkExec`] forks: its child's write before the exec must not reach this
/// process's memory, as it would if `Command` spawned it sharing that memory, as it does
/// without a hook. A baseline named fork+exec that was not one fails the run.
pub fn fork_exec_forks() -> Result<(), String> {
    FORK_CHILD_WROTE.store(false, Ordering::Relaxed);
    Peer::ForkExec.run(&["/bin/true"], &[0], false)?;
    if FORK_CHILD_WROTE.load(Ordering::Relaxed) {
        return Err(format!(
            "{}: the child wrote to this process's memory, so it was not forked",
            Peer::ForkExec.name()
        ));
    }
    Ok(())
}

/// `ret ALLOW`, one instruction: the kernel's cache serves every call without running it, so
/// a program under it pays only the kernel's entry into seccomp on each system call, the cost
/// every filter has.
static FLOOR_FILTER: [libc::sock_filter; 1] = [libc::sock_filter {
    code: (libc::BPF_RET | libc::BPF_K) as u16,
    jt: 0,
    jf: 0,
    k: libc::SECCOMP_RET_ALLOW,
}];

/// Sets `PR_SET_NO_NEW_PRIVS` on the calling thread and, with `floor_filter`, installs
/// [`FLOOR_FILTER`]. Async-signal-safe: it runs between fork and exec.
fn restrict_self(floor_filter: bool) -> std::io::Result<()> {
    // SAFETY: prctl with integer arguments.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    if !floor_filter {
        return Ok(());
    }
    let program = libc::sock_fprog {
        len: 1,
        // The kernel only reads (and copies) the program.
        filter: FLOOR_FILTER.as_ptr().cast_mut(),
    };
    // SAFETY: seccomp reads a live `sock_fprog` naming a live one-instruction program.
    let r = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            0,
            &program as *const libc::sock_fprog,
        )
    };
    if r != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// A memory file holding `bytes`, read from its start, on a descriptor above the standard
/// streams that children inherit (no close-on-exec); the caller closes it once the one child
/// that needs it is spawned. Any child spawned meanwhile by another thread would inherit it
/// too, so [`Peer::BwrapFiltered`] runs only where runs are sequential (the overhead section).
fn inheritable_memfd(bytes: &[u8]) -> Result<OwnedFd, String> {
    let err = |what: &str| format!("{what}: {}", std::io::Error::last_os_error());
    // SAFETY: a NUL-terminated name and a flag; a returned descriptor is fresh and ours.
    let fd = match unsafe { libc::memfd_create(c"bwrap-seccomp".as_ptr(), libc::MFD_CLOEXEC) } {
        r if r < 0 => return Err(err("memfd_create")),
        // SAFETY: as above.
        r => unsafe { OwnedFd::from_raw_fd(r) },
    };
    let mut file = std::fs::File::from(fd);
    std::io::Write::write_all(&mut file, bytes).map_err(|e| format!("memfd: {e}"))?;
    std::io::Seek::rewind(&mut file).map_err(|e| format!("memfd: {e}"))?;
    // A copy at 3 or above (never on a standard stream the command then replaces), without
    // close-on-exec; the close-on-exec original is closed with `file`.
    // SAFETY: fcntl on a live descriptor; a returned descriptor is fresh and ours.
    match unsafe { libc::fcntl(file.as_raw_fd(), libc::F_DUPFD, 3) } {
        r if r < 0 => Err(err("fcntl(F_DUPFD)")),
        // SAFETY: as above.
        r => Ok(unsafe { OwnedFd::from_raw_fd(r) }),
    }
}

/// Reads `child`'s piped standard output (if any) to its end and waits until it has exited,
/// for at most `limit`; `Err` on a time-out or an error, leaving the child to the caller.
fn wait_within(child: &mut Child, limit: Duration) -> Result<(), String> {
    let deadline = Instant::now() + limit;
    // SAFETY: pidfd_open with integer arguments; a returned descriptor is fresh and ours.
    let pidfd = match unsafe { libc::syscall(libc::SYS_pidfd_open, child.id(), 0) } {
        r if r < 0 => return Err(format!("pidfd_open: {}", std::io::Error::last_os_error())),
        // SAFETY: as above.
        r => unsafe { OwnedFd::from_raw_fd(r as libc::c_int) },
    };
    // The pipe until its end (every writer closed it), then the pidfd, which becomes readable
    // when the child has exited.
    let ended = match child.stdout.take() {
        Some(mut out) => drain_until(&mut out, deadline),
        None => Ok(()),
    };
    ended
        .and_then(|()| wait_readable(pidfd.as_raw_fd(), deadline))
        .map_err(|e| format!("{e} (limit {limit:?})"))
}

/// Reads `out` to its end, waiting for each chunk in `poll`, until `deadline` at most.
/// Every variant's output is read this way, bare programs' and our sandboxes' alike: how the
/// reader waits changes how often a writer that fills the pipe is stopped and woken (a `poll`
/// before each read made bare `tar` 4% to 9% slower than blocking reads on one machine and
/// about 1.5% on another: `benches/reader_poll_cost.py`), so both sides of a ratio must wait
/// the same way.
pub fn drain_until(
    out: &mut (impl std::io::Read + AsRawFd),
    deadline: Instant,
) -> Result<(), String> {
    let mut buf = [0u8; 64 * 1024];
    loop {
        wait_readable(out.as_raw_fd(), deadline)?;
        match out.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("read: {e}")),
        }
    }
}

/// Waits until `fd` polls readable, until `deadline` at most.
fn wait_readable(fd: std::os::fd::RawFd, deadline: Instant) -> Result<(), String> {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err("no end before the deadline".into());
        }
        let mut p = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = libc::c_int::try_from(left.as_millis().max(1)).unwrap_or(libc::c_int::MAX);
        // SAFETY: one live pollfd.
        match unsafe { libc::poll(&mut p, 1, ms) } {
            r if r > 0 => return Ok(()),
            0 => {}
            _ => {
                let e = std::io::Error::last_os_error();
                if e.kind() != std::io::ErrorKind::Interrupted {
                    return Err(format!("poll: {e}"));
                }
            }
        }
    }
}
