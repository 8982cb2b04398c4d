//! Starting a sandbox: everything between `spawn()` and a running monitor.
//!
//! The parent prepares the plan's parts ([`plan::PlanParts`]: every string, path, pointer
//! array and filter byte the child will need) and the descriptors, then clones with new user,
//! mount, pid, IPC, UTS and cgroup namespaces (and network unless shared): itself, or through
//! the fork server ([`server`]), which receives the parts in their byte form ([`wire`]) and
//! clones from its own small copy of the host, or hands them to an init it made ahead for the
//! same configuration ([`spare`]). The clone child is the sandbox's [`init`]: it
//! waits for the parent to write its id maps ([`idmap`]; the server writes a spare's), builds
//! the file system ([`mounts`]), and starts the [`sandboxee`] with a vfork-like clone; the
//! sandboxee does the per-process steps and execs. Each step is one function returning its
//! [`steps::Failure`]; nothing in a child cloned from the host allocates (a spare, a copy of
//! the server, may: see [`netns`]).

mod capabilities;
mod detached;
mod fs_place;
mod given;
pub(crate) mod host_end;
mod idmap;
mod inherited;
mod init;
mod mounts;
mod netns;
mod plan;
mod raw;
mod release;
mod reopen;
pub use reopen::confined_here as descriptors_confined;
mod sandbox_path;
mod sandboxee;
mod server;
mod shown;
mod spare;
pub(crate) mod steps;
pub(crate) mod sys;
mod terminal;
pub(crate) mod this_process;
mod watch;
mod wire;

pub use idmap::{HOST_ID_WHEN_ROOT, SANDBOX_ID};
pub use server::start_fork_server;

use crate::cgroup::{Cgroup, CgroupError, CgroupLimits};
use crate::child::SandboxChild;
use crate::command::{Mount, SandboxCommand, Stdio};
use crate::deadline::Deadline;
use crate::error::SpawnError;
use crate::monitor::{self, Monitor};
use crate::observe::SyscallMode;
use crate::outcome::Outcome;
use crate::seccomp;
use idmap::IdMaps;
use mounts::MountPlan;
use plan::{ChildFds, Confinement, Plan, PlanParts};
use sandbox_policy::host_guard::Guards;
use server::Launch;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

fn os(what: &str) -> impl FnOnce(io::Error) -> SpawnError + '_ {
    move |e| SpawnError::os(what, e)
}

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut p = [0 as libc::c_int; 2];
    // SAFETY: p is a live array of two ints.
    if unsafe { libc::pipe2(p.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both descriptors are fresh and ours.
    Ok(unsafe { (OwnedFd::from_raw_fd(p[0]), OwnedFd::from_raw_fd(p[1])) })
}

/// A close-on-exec copy of `fd` numbered at least `min`.
fn relocate(fd: &OwnedFd, min: RawFd) -> io::Result<OwnedFd> {
    dup_above(fd.as_raw_fd(), min)
}

/// A close-on-exec copy of descriptor number `fd` numbered at least `min` (`EBADF` if `fd` is
/// not open).
fn dup_above(fd: RawFd, min: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: fcntl with integer arguments.
    let r = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, min) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: r is fresh and ours.
    Ok(unsafe { OwnedFd::from_raw_fd(r) })
}

/// The child's end (none when closed) and the parent's end (when piped) of a standard stream.
type StreamEnds = (Option<OwnedFd>, Option<File>);

/// The ends of standard stream `stream` (0, 1 or 2); `null` is `/dev/null`, opened once for
/// every stream that asks for it.
fn stdio_end(
    s: &Stdio,
    stream: RawFd,
    min: RawFd,
    null: &mut Option<OwnedFd>,
) -> Result<StreamEnds, SpawnError> {
    match s {
        // A copy of the host's own descriptor (none if it is closed), so that a sandbox cloned
        // by the fork server, which has no standard streams, gets the same one.
        Stdio::Inherit => match dup_above(stream, min) {
            Ok(fd) => Ok((Some(fd), None)),
            Err(e) if e.raw_os_error() == Some(libc::EBADF) => Ok((None, None)),
            Err(e) => Err(SpawnError::os("dup an inherited standard stream", e)),
        },
        Stdio::Null => {
            let fd = match null {
                Some(fd) => fd,
                None => {
                    let f = std::fs::OpenOptions::new()
                        .read(true)
                        .write(true)
                        .open("/dev/null")
                        .map_err(os("open /dev/null"))?;
                    null.insert(OwnedFd::from(f))
                }
            };
            let fd = relocate(fd, min).map_err(os("dup /dev/null"))?;
            Ok((Some(fd), None))
        }
        Stdio::Fd(fd) => Ok((
            Some(relocate(fd, min).map_err(os("dup a stdio descriptor"))?),
            None,
        )),
        Stdio::Piped => {
            let (r, w) = pipe().map_err(os("create a stdio pipe"))?;
            let (child, parent) = if stream == 0 { (r, w) } else { (w, r) };
            let child = relocate(&child, min).map_err(os("dup a stdio pipe"))?;
            Ok((Some(child), Some(File::from(parent))))
        }
    }
}

/// Whether the sandbox reaches host files it may own, and so gets the set-id guard (see
/// [`sandbox_policy::set_id`]): through a writable bind, a regular file or Unix socket among
/// its descriptors, or the host's network, where a host client may connect to an abstract name
/// the sandbox has taken and hand it files (Landlock keeps the sandbox from connecting out to
/// the host's abstract sockets, not host clients from connecting in). (Its tmpfs mounts and
/// root vanish with it; read-only binds refuse any change, though a socket found through one
/// may hand over files too: see the README.)
fn reaches_host_files(mounts: &[Mount], given_a_file: bool, shares_network: bool) -> bool {
    given_a_file
        || shares_network
        || mounts
            .iter()
            .any(|m| matches!(m, Mount::Bind { writable: true, .. }))
}

/// Whether a bind's source is a socket (a service's, which may hand the sandbox files). A
/// directory holding one is not looked into: see the README.
fn binds_a_socket(mounts: &[Mount]) -> bool {
    use std::os::unix::fs::FileTypeExt;
    mounts.iter().any(|m| {
        matches!(m, Mount::Bind { src, .. }
            if std::fs::metadata(src).is_ok_and(|md| md.file_type().is_socket()))
    })
}

/// Closes the command's own copies of the descriptors it gives this run (its `Stdio::Fd`
/// streams and passed descriptors), so that the run holds the only ones (a pipe's reader sees
/// its end when the sandbox's does), and marks the command as having given them: a later run
/// is refused ([`SpawnError::DescriptorsUsed`]) rather than started without them, with the
/// host's own streams in their place. Its other stream settings stay for the next run.
fn give_descriptors_away(cmd: &mut SandboxCommand) {
    let streams = [&mut cmd.stdin, &mut cmd.stdout, &mut cmd.stderr];
    for (stream, used) in streams.into_iter().zip(&mut cmd.descriptors_used) {
        if matches!(stream, Stdio::Fd(_)) {
            *stream = Stdio::Inherit;
            *used = true;
        }
    }
    if !cmd.passed_fds.is_empty() {
        cmd.passed_fds.clear();
        cmd.descriptors_used[3] = true;
    }
}

/// The child's and the parent's ends of the three standard streams. The inherited ones are
/// copied first, before anything else is opened: on a host with 0, 1 or 2 closed, a descriptor
/// made before (another stream's pipe, say) would take that number and be passed on as the
/// host's own stream.
fn stdio_ends(streams: [&Stdio; 3], min: RawFd) -> Result<[StreamEnds; 3], SpawnError> {
    let mut ends: [Option<StreamEnds>; 3] = [None, None, None];
    let (inherited, made): (Vec<_>, Vec<_>) = streams
        .into_iter()
        .enumerate()
        .partition(|(_, s)| matches!(s, Stdio::Inherit));
    let mut null = None;
    for (i, s) in inherited.into_iter().chain(made) {
        ends[i] = Some(stdio_end(s, i as RawFd, min, &mut null)?);
    }
    Ok(ends.map(|e| e.unwrap_or((None, None))))
}

/// A sandbox whose init runs with its id maps written, and what watching it takes; nobody
/// watches it yet.
struct Started {
    pid: libc::pid_t,
    pidfd: Arc<OwnedFd>,
    killed: Arc<AtomicBool>,
    deadline: Arc<Deadline>,
    /// The parent's ends of the piped standard streams.
    streams: [Option<File>; 3],
    monitor: Monitor,
    observations: Option<crate::Observations>,
    /// What a directly cloned sandbox keeps until its outcome is out.
    kept: Option<KeptUntilEnd>,
}

/// Starts `cmd` (see [`SandboxCommand::spawn`]), its monitor on a thread of its own.
pub(crate) fn spawn(cmd: &mut SandboxCommand) -> Result<SandboxChild, SpawnError> {
    watch_on_a_thread(start(cmd)?)
}

/// Runs `cmd` to its end (see [`SandboxCommand::status`]). The sandbox is watched from the
/// calling thread, which would only wait for a monitor thread anyway: no thread is started, and
/// no other thread has to wake this one at the end. What is left once the outcome is known
/// (init's exit, see [`monitor::Aftermath`]) and what a directly cloned sandbox kept until its
/// end go to the runtime's release thread afterwards (see [`release`]), so that neither is on
/// the way back to the caller.
pub(crate) fn run_to_end(cmd: &mut SandboxCommand) -> Result<Outcome, SpawnError> {
    let Started {
        pid,
        pidfd,
        streams: [stdin, stdout, stderr],
        monitor,
        observations,
        kept,
        ..
    } = start(cmd)?;
    // As `SandboxChild::wait` does: the program sees the end of a piped input, and observed
    // calls nobody will read are dropped as they come rather than kept in memory.
    drop((stdin, observations));
    let mut unwatched = EndIfUnwatched {
        pid,
        pidfd,
        armed: true,
    };
    let (outcome, aftermath) = monitor.run();
    unwatched.armed = false;
    drop((unwatched, stdout, stderr));
    // Dropped in this order: init reaped, then what it shared with the host let go.
    release::later((aftermath, kept));
    Ok(outcome)
}

/// Kills and reaps a sandbox watched from the caller's thread if the monitor unwinds (disarmed
/// once the monitor has returned): a sandbox must not run on unwatched. A monitor thread that
/// panics leaves that to `SandboxChild`'s drop.
struct EndIfUnwatched {
    pid: libc::pid_t,
    pidfd: Arc<OwnedFd>,
    armed: bool,
}

impl Drop for EndIfUnwatched {
    fn drop(&mut self) {
        if self.armed {
            let _ = monitor::kill(&self.pidfd);
            reap_quietly(self.pid);
        }
    }
}

/// A monitor thread's stack: `std::thread`'s default.
const MONITOR_STACK: usize = 2 << 20;

/// Hands the sandbox to a monitor thread.
fn watch_on_a_thread(started: Started) -> Result<SandboxChild, SpawnError> {
    let Started {
        pid,
        pidfd,
        killed,
        deadline,
        streams,
        monitor,
        observations,
        kept,
    } = started;
    let (tx, rx) = std::sync::mpsc::channel();
    // Not joined: after the outcome, the thread only reaps init and lets `kept` go (see
    // [`SandboxChild`]'s `result`). Started without `std::thread`'s locks, so that a process
    // the host forked while one of its threads started or ended can make sandboxes too.
    let handle = detached::spawn_detached(&format!("sandbox-monitor-{pid}"), MONITOR_STACK, {
        move || {
            let (outcome, aftermath) = monitor.run();
            let _ = tx.send(outcome);
            drop((aftermath, kept));
        }
    });
    match handle {
        Ok(()) => {}
        Err(e) => {
            let _ = monitor::kill(&pidfd);
            reap_quietly(pid);
            return Err(SpawnError::os("start the monitor thread", e));
        }
    };
    Ok(SandboxChild::new(
        pid as u32,
        pidfd,
        killed,
        deadline,
        streams,
        rx,
        observations,
    ))
}

/// Everything up to a running init with its id maps written, and its monitor made.
fn start(cmd: &mut SandboxCommand) -> Result<Started, SpawnError> {
    cmd.limits.validate()?;
    let mut all_mounts = cmd.mounts.clone();
    bind_programs_with_libraries(cmd, &mut all_mounts)?;
    let mut targets: Vec<RawFd> = cmd.passed_fds.iter().map(|(_, t)| *t).collect();
    targets.sort_unstable();
    if let Some(t) = wire::bad_target(&targets) {
        return Err(SpawnError::BadFdNumber(t));
    }
    // A target the sandboxee could not have open, or one leaving no room above it, under the
    // open-files limit, for the descriptors the child reads from (sync pipe, report socket,
    // three streams and the passed descriptors, all moved above every target).
    let open_limit = open_files_limit();
    let above = 1 + 2 + 3 + targets.len() as u64;
    if let Some(t) = targets
        .last()
        .filter(|t| u64::try_from(**t).map_or(true, |t| t.saturating_add(above) > open_limit))
    {
        return Err(SpawnError::BadFdNumber(*t));
    }
    // Every descriptor the child reads from is moved above every target number.
    let min = targets.last().copied().unwrap_or(2).max(2) + 1;

    let mode = cmd.syscall_mode;
    let policy = match mode {
        SyscallMode::Enforce => cmd.policy.clone(),
        SyscallMode::Learn => Some(crate::observe::learn_policy()),
        SyscallMode::LogViolations => match &cmd.policy {
            Some(p) => Some(Arc::clone(p)),
            None => {
                return Err(SpawnError::ObserveUnsupported(
                    "logging violations needs a policy",
                ))
            }
        },
    };
    let notify = policy.is_some() && seccomp::notify_supported();
    if mode != SyscallMode::Enforce && !notify {
        return Err(SpawnError::ObserveUnsupported(
            "observing system calls needs seccomp user notification and pidfd_getfd (Linux 5.6+)",
        ));
    }
    let notify = notify && seccomp::listener_available();
    if mode != SyscallMode::Enforce && !notify {
        return Err(SpawnError::ObserveUnsupported(
            "observing system calls needs a seccomp listener, and this process's own filters \
             already have one (a container runtime's): the kernel takes one per chain",
        ));
    }
    // Checked before anything is created for the sandbox: a bad program or mount leaves nothing
    // behind.
    if let Some(p) = &policy {
        seccomp::native_program(p, Guards::NONE)?;
        seccomp::native_program(p, Guards::TERMINAL)?;
    }
    let mounts = MountPlan::build(&all_mounts)?;
    // Memory and pids go to a cgroup when one can be created; else rlimits stand in, and the
    // outcome's enforced_limits says which. Only a host without a usable hierarchy falls back:
    // a group the host could make but not set up is an error, not a quiet rlimit instead.
    let cgroup = if cmd.limits.memory.is_some() || cmd.limits.pids.is_some() {
        let l = CgroupLimits {
            memory_bytes: cmd.limits.memory,
            pids: cmd.limits.pids,
        };
        match Cgroup::create("sandbox-runtime", &l) {
            Ok(group) => Some(group),
            Err(CgroupError::NotAvailable(_)) => None,
            Err(e) => return Err(e.into()),
        }
    } else {
        None
    };
    let in_cgroup = cgroup.as_ref().map(Cgroup::enforced).unwrap_or_default();
    let (rlimits, enforced) = cmd.limits.plan(in_cgroup.memory, in_cgroup.pids);
    crate::limits::Limits::within_host(&rlimits)?;
    let ids = IdMaps::for_caller().ok_or(SpawnError::NoUnprivilegedIds)?;

    if let Some(i) = cmd.descriptors_used.iter().position(|used| *used) {
        return Err(SpawnError::DescriptorsUsed(
            given::STREAM_NAMES.get(i).copied().unwrap_or("pass_fd"),
        ));
    }
    let [(stdin_c, stdin_p), (stdout_c, stdout_p), (stderr_c, stderr_p)] =
        stdio_ends([&cmd.stdin, &cmd.stdout, &cmd.stderr], min)?;
    let (sync_r, sync_w) = pipe().map_err(os("create the sync pipe"))?;
    let (report_parent, report_child) = socketpair().map_err(os("create the report socket"))?;
    // Listed before init is cloned: no process the host forks from now on keeps this end.
    let report_parent = host_end::HostEnd::new(report_parent);
    let passed = cmd
        .passed_fds
        .iter()
        .map(|(fd, t)| Ok((relocate(fd, min)?, *t)))
        .collect::<io::Result<Vec<_>>>()
        .map_err(os("dup a passed descriptor"))?;
    // A terminal among them gets an open file of its own, so that what the program sets on it
    // does not stay on the host's.
    let [stdin_c, stdout_c, stderr_c] =
        [stdin_c, stdout_c, stderr_c].map(|fd| fd.map(|fd| terminal::own_open(fd, min)));
    let passed: Vec<_> = passed
        .into_iter()
        .map(|(fd, t)| (terminal::own_open(fd, min), t))
        .collect();
    let given = given::examine([&stdin_c, &stdout_c, &stderr_c], &passed)?;
    // The host's network may bring files too: a host client can connect to an abstract name
    // the sandbox took, and hand it some; so may a host socket bound in.
    let socket_bound = binds_a_socket(&all_mounts);
    let guards = Guards {
        set_id: reaches_host_files(&all_mounts, given.host_files, cmd.share_network),
        terminal: given.terminal || cmd.share_network || socket_bound,
    };
    let confine_reopening = given.reopenable || cmd.share_network || socket_bound;
    // The guards go into the policy's own program where they fit (the terminal guard is in the
    // program the compiler made for this case): one filter to install and to run (see
    // `seccomp::prepare`); else they are a filter of their own. Merged, a call the policy kills
    // stays the policy's kill: the learn and log-violations modes, which let such a call run,
    // ask the guards first (`Monitor::observe`).
    let (filter, separate_guards) = match &policy {
        Some(p) => {
            let (filter, left) = seccomp::prepare(p, notify, guards)?;
            (Some(filter), left)
        }
        None => (None, guards),
    };
    seccomp::host_guards(separate_guards)?;
    // The modes that let killed calls run ask the guards first (`Monitor::observe`).
    if mode != SyscallMode::Enforce {
        seccomp::host_guards(guards)?;
    }
    let fds = ChildFds {
        sync: relocate(&sync_r, min).map_err(os("dup the sync pipe"))?,
        report: relocate(&report_child, min).map_err(os("dup the report socket"))?,
        stdio: [stdin_c, stdout_c, stderr_c],
        passed,
    };
    drop((sync_r, report_child));
    let passed_targets: Vec<RawFd> = fds.passed.iter().map(|(_, t)| *t).collect();
    let (parts, descriptions) = PlanParts::build(
        cmd,
        &passed_targets,
        &ids,
        rlimits,
        filter,
        mounts,
        Confinement {
            separate_guards,
            reopening: confine_reopening,
        },
    )?;

    let request = wire::Request {
        parts,
        stdio: [0, 1, 2].map(|i| fds.stdio[i].is_some()),
        passed_targets,
        joins_cgroup: cgroup.is_some(),
    };
    // Asked before the clone: between the clone and the id maps, init waits.
    let mounts_first = init_may_turn_unreadable();
    let start = Instant::now();
    // Made before the clone, so that nothing is left to fail once the sandbox runs.
    let deadline = Deadline::new(start, cmd.limits.wall_time)
        .map_err(|e| SpawnError::os("make the wall-time deadline's wake-up", e))?;
    let deadline = Arc::new(deadline);
    let launched = if cmd.use_fork_server {
        server::launch(&request, &fds)
    } else {
        Launch::Unavailable
    };
    let (pid, made_ahead, kept, cloned_pidfd) = match launched {
        Launch::Started { pid, made_ahead } => (pid, made_ahead, None, None),
        Launch::Failed(errno) => {
            return Err(SpawnError::os(
                "clone the sandbox (fork server)",
                io::Error::from_raw_os_error(errno),
            ))
        }
        Launch::Lost => {
            drop((sync_w, fds));
            server::reap_abandoned_init(&report_parent);
            // A spare may have started the program before the server ended: given away.
            give_descriptors_away(cmd);
            return Err(SpawnError::os(
                "clone the sandbox: the fork server ended during the launch (later sandboxes are cloned directly)",
                io::Error::from_raw_os_error(libc::ECONNRESET),
            ));
        }
        Launch::Unavailable => {
            let mut plan =
                Plan::assemble(request.parts, &fds).map_err(os("map the sandboxee's stack"))?;
            // Init's copy is what it watches; this one goes once the clone is made. Without
            // `pidfd_open` (before Linux 5.3) init takes the parent-death signal instead.
            let host = this_process_pidfd(min);
            if let Some(host) = &host {
                plan.watch_host(host.as_raw_fd());
            }
            let cloned = clone_directly(&mut plan);
            drop(host);
            let (pid, pidfd) = cloned.map_err(os("clone the sandbox"))?;
            // The mount namespace's reference is taken after init's release.
            let kept = KeptUntilEnd {
                _mounts: None,
                _plan: plan,
            };
            (pid, false, Some(kept), pidfd)
        }
    };
    // The sandbox has them now; from here on a failure ends it, and with it the run.
    give_descriptors_away(cmd);
    // A pidfd names init from here on: the clone made one (directly), or one is opened now
    // (through the fork server, whose inits are children of this process too).
    let pidfd = match cloned_pidfd {
        Some(pidfd) => pidfd,
        None => pidfd_open(pid).map_err(|e| {
            // SAFETY: pid is our child, not yet reaped, so the number is still its.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            reap_quietly(pid);
            SpawnError::os("pidfd_open the sandbox", e)
        })?,
    };
    let abandon = |e: SpawnError| {
        let _ = monitor::kill(&pidfd);
        reap_quietly(pid);
        e
    };
    let mut kept = kept;
    let take_mounts = |kept: &mut Option<KeptUntilEnd>| {
        if let Some(k) = kept {
            k._mounts = mount_namespace(pid, &pidfd);
        }
    };
    if mounts_first {
        take_mounts(&mut kept);
    }
    // Init waits for its id maps (and its cgroup) only, so they come first, and the rest of
    // this side's work after its release, beside init's. A spare's maps were written by the
    // fork server when it was made.
    if !made_ahead {
        let written = ids.write(pid);
        written.map_err(|e| abandon(SpawnError::os("write the id maps", e)))?;
    }
    if let Some(cg) = &cgroup {
        let joined = cg.add_pid(nix::unistd::Pid::from_raw(pid));
        joined.map_err(|e| abandon(SpawnError::Cgroup(e)))?;
    }
    // A spare that joins no cgroup started without waiting for this (see `wire::Request`), and
    // may have ended already: nothing reads the pipe then.
    let released = made_ahead && !request.joins_cgroup;
    if !released {
        // SAFETY: writes one byte from a live local.
        let w = unsafe { libc::write(sync_w.as_raw_fd(), [1u8].as_ptr().cast(), 1) };
        if w != 1 {
            let e = io::Error::last_os_error();
            return Err(abandon(SpawnError::os("release the sandbox", e)));
        }
    }
    drop((sync_w, fds));
    if !mounts_first {
        take_mounts(&mut kept);
    }

    let pidfd = Arc::new(pidfd);
    let killed = Arc::new(AtomicBool::new(false));
    let (observer, observations) = match mode {
        SyscallMode::Enforce => (None, None),
        _ => {
            let (otx, orx) = crate::observations::channel();
            (Some(otx), Some(orx))
        }
    };
    let monitor = Monitor {
        pid1: pid,
        pidfd: Arc::clone(&pidfd),
        report: report_parent,
        policy,
        mode,
        observer,
        host_guard: seccomp::host_guard_made(guards, true),
        observations_dropped: std::cell::Cell::new(0),
        deadline: Arc::clone(&deadline),
        cpu_limit: cmd.limits.cpu_time,
        killed: Arc::clone(&killed),
        enforced,
        descriptions,
        cgroup,
    };
    Ok(Started {
        pid,
        pidfd,
        killed,
        deadline,
        streams: [stdin_p, stdout_p, stderr_p],
        monitor,
        observations,
        kept,
    })
}

/// Clones init from this thread, into the network namespace made ahead when the plan asks for
/// a new one and one is ready (see [`netns`]), else into one the clone makes.
fn clone_directly(plan: &mut Plan) -> io::Result<(libc::pid_t, Option<OwnedFd>)> {
    netns::clone_for(plan, |plan| init::clone_with_pidfd(plan, init::run))
}

fn socketpair() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut s = [0 as libc::c_int; 2];
    // SAFETY: s is a live array of two ints.
    let r = unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
            0,
            s.as_mut_ptr(),
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both descriptors are fresh and ours.
    let (a, b) = unsafe { (OwnedFd::from_raw_fd(s[0]), OwnedFd::from_raw_fd(s[1])) };
    let one: libc::c_int = 1;
    // SAFETY: SO_PASSCRED reads one int: the kernel then attaches each sender's pid, as seen
    // from this (the host's) pid namespace, to every message.
    let r = unsafe {
        libc::setsockopt(
            a.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PASSCRED,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((a, b))
}

/// Whether init may become unreadable to this process before it has taken the reference after
/// init's release: init makes itself non-dumpable once the program runs (and, when this
/// process runs as uid 0, its change of ids on the host already does, soon after the release),
/// and then only `CAP_SYS_PTRACE` (which a container's root often lacks, and an unprivileged
/// host has not) still opens its mount namespace ([`mount_namespace`]). Without it, a host
/// thread held up for as long as the set-up takes would find it closed, so the reference is
/// taken before the release instead. Asked at each spawn, of the calling thread (capabilities
/// are per thread).
fn init_may_turn_unreadable() -> bool {
    !capabilities::has_effective(capabilities::CAP_SYS_PTRACE)
}

/// A reference to the mount namespace of init `pid` (behind `pidfd`), which keeps the
/// namespace, and every mount in it, alive until it is closed: from the pidfd (Linux 6.11+,
/// a few microseconds), else `/proc/PID/ns/mnt` (tens: a fresh `/proc` entry is looked up).
/// Taken right after init's release, off its way: the kernel lets a process of init's user,
/// or one with `CAP_SYS_PTRACE`, open it until init makes itself non-dumpable (after the
/// exec); before the release where that is not sure ([`init_may_turn_unreadable`]). `None`
/// when the kernel refuses (no `/proc`, a host that made itself non-dumpable, an init already
/// gone): init then tears the mounts down in its exit.
pub(crate) fn mount_namespace(pid: libc::pid_t, pidfd: &OwnedFd) -> Option<OwnedFd> {
    // SAFETY: an ioctl with no argument on a pidfd of ours; the kernel returns a new
    // close-on-exec descriptor or an error.
    let r = unsafe { libc::ioctl(pidfd.as_raw_fd(), libc::PIDFD_GET_MNT_NAMESPACE as _, 0) };
    if r >= 0 {
        // SAFETY: r is fresh and ours.
        return Some(unsafe { OwnedFd::from_raw_fd(r) });
    }
    let file = File::open(format!("/proc/{pid}/ns/mnt")).ok()?;
    Some(file.into())
}

/// What a directly cloned sandbox keeps until its outcome is out, so that letting it go is not on
/// the way to the caller's `wait`: its monitor thread drops it after sending the outcome, and
/// `status()` hands it to [`release::later`].
struct KeptUntilEnd {
    /// The plan init was cloned with. Init's copy of the host shares the pages it was built in
    /// until init ends: freed while init lives, each page the allocator writes is copied first
    /// (freeing it right after the clone took about 0.1 ms on the test machine).
    _plan: Plan,
    /// A reference to the sandbox's mount namespace ([`mount_namespace`]). The last reference
    /// unmounts everything in it and waits for an expedited RCU grace period; held by init
    /// alone, that happens in init's exit, which the monitor's `wait4` waits for when the
    /// sandbox is killed (an end init reports itself is not held up by its exit). Nothing is
    /// left in the namespace by the time this is dropped (init was pid 1 of the sandbox's pid
    /// namespace), so keeping it a little longer gives nobody anything to enter.
    _mounts: Option<OwnedFd>,
}

/// `pidfd_open(2)`.
pub(crate) fn pidfd_open(pid: libc::pid_t) -> io::Result<OwnedFd> {
    pidfd_open_with(pid, 0)
}

/// A pidfd of this process, numbered at least `min` (see [`Plan::watch_host`]); `None` where the
/// kernel has no `pidfd_open` or no descriptor is left.
fn this_process_pidfd(min: RawFd) -> Option<OwnedFd> {
    let own = pidfd_open(std::process::id() as libc::pid_t).ok()?;
    relocate(&own, min).ok()
}

/// `PIDFD_THREAD` (Linux 6.9+): a pidfd for any thread, not only a thread group's leader.
const PIDFD_THREAD: libc::c_uint = libc::O_EXCL as libc::c_uint;

/// A pidfd for thread `tid`, whichever thread of its process it is, as a seccomp notification
/// names its caller. SIGKILL sent through it ends the whole process. Before Linux 6.9 the kernel
/// refuses the flag (EINVAL) and only a thread group's leader can be taken.
pub(crate) fn pidfd_open_thread(tid: libc::pid_t) -> io::Result<OwnedFd> {
    match pidfd_open_with(tid, PIDFD_THREAD) {
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => pidfd_open(tid),
        r => r,
    }
}

fn pidfd_open_with(pid: libc::pid_t, flags: libc::c_uint) -> io::Result<OwnedFd> {
    // SAFETY: integer arguments; a returned descriptor is fresh and ours.
    let r = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, flags) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: as above.
    Ok(unsafe { OwnedFd::from_raw_fd(r as RawFd) })
}

/// Reaps our child `pid`, retrying when a signal interrupts the wait (a handler installed
/// without `SA_RESTART`), so no zombie is left behind.
pub(crate) fn reap_quietly(pid: libc::pid_t) {
    let mut status = 0;
    // SAFETY: pid is our child; status is a live int.
    while unsafe { libc::waitpid(pid, &mut status, 0) } < 0 && sys::errno() == libc::EINTR {}
}

/// This process's soft open-files limit (1024 if it cannot be read).
fn open_files_limit() -> u64 {
    nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .map_or(1024, |(soft, _)| soft)
}

/// The loader's cache of where libraries are.
const LD_SO_CACHE: &str = "/etc/ld.so.cache";

/// Adds to `mounts` (`cmd`'s own, so far) the binds of each program `cmd` runs with its
/// libraries, found through the `LD_LIBRARY_PATH` the program gets, as its loader does.
pub(crate) fn bind_programs_with_libraries(
    cmd: &SandboxCommand,
    mounts: &mut Vec<Mount>,
) -> Result<(), SpawnError> {
    // Where the files land is read through the caller's destinations: a bad one is the error.
    mounts::check_destinations(mounts)?;
    let library_path = cmd
        .env
        .iter()
        .find(|(k, _)| k == "LD_LIBRARY_PATH")
        .map(|(_, v)| v.as_os_str());
    for p in &cmd.programs_with_libraries {
        add_program_with_libraries(mounts, p, library_path)?;
    }
    Ok(())
}

/// Binds `program` and the interpreter and libraries it loads (found by [`crate::elf`]) at
/// their host paths, read-only, after checking that no mount of the caller's puts another
/// library where the loader looks first ([`shown::no_library_shadowed`]), skipping what an
/// identity bind of the caller already shows
/// (reached through the caller's `symlink` entries, as init will: `/lib64` linked to
/// `usr/lib64` with `/usr` bound shows `/lib64/ld-linux-x86-64.so.2`).
fn add_program_with_libraries(
    mounts: &mut Vec<Mount>,
    program: &Path,
    library_path: Option<&std::ffi::OsStr>,
) -> Result<(), SpawnError> {
    let deps = crate::elf::resolve_remembered(program, library_path).map_err(|e| {
        SpawnError::Libraries {
            path: program.display().to_string(),
            reason: e.to_string(),
        }
    })?;
    let abs = std::path::absolute(program).map_err(|e| SpawnError::os("resolve program", e))?;
    // The loader finds a library of an `ld.so.conf` directory it does not search by default
    // through its cache only.
    let cache = Path::new(LD_SO_CACHE);
    let cache = (deps.needs_ld_so_cache && cache.is_file()).then(|| cache.to_path_buf());
    let files: Vec<std::path::PathBuf> = std::iter::once(abs)
        .chain(deps.paths().map(Path::to_path_buf))
        .chain(cache)
        .collect();
    let links = sandbox_path::PlanLinks::of(&mounts::plan_links(mounts)).unwrap_or_default();
    // Where a path lands in the sandbox, through the caller's links (a loop is left for the
    // plan to report).
    let place = |p: &Path| links.resolve(p, true).unwrap_or_else(|_| p.to_path_buf());
    shown::no_library_shadowed(mounts, program, &deps, &place)?;
    for f in files {
        // A library found through `$ORIGIN/../lib` is named with `..`, which the loader inside
        // resolves in the sandbox, where every directory above a bind is a real one: the
        // file goes where that lands (the host path, `..` and all, is what it holds).
        let dst = without_dot_dot(&f);
        // Only where the `..` goes up the same way on the host: through a symbolic link it
        // goes elsewhere, and a binary could pick where its library lands in the sandbox.
        if dst != f && !same_file(&f, &dst) {
            return Err(SpawnError::Libraries {
                path: program.display().to_string(),
                reason: format!(
                    "{} goes up through a symbolic link: it is not {}",
                    f.display(),
                    dst.display()
                ),
            });
        }
        let at = place(&dst);
        if !shown::already_shown(mounts, &f, &at, &place)? {
            mounts.push(Mount::Bind {
                src: f,
                dst,
                writable: false,
                exec: true,
            });
        }
    }
    Ok(())
}

/// Whether `a` and `b` are the same file on the host (both resolved, symbolic links and `..`
/// followed as the kernel does).
fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// `path` with every `.` dropped and every `..` taking away the component before it (none
/// above the root), without looking at the file system.
fn without_dot_dot(path: &Path) -> std::path::PathBuf {
    use std::path::Component;
    let mut out = std::path::PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::MetadataExt;
    use std::sync::mpsc;

    #[test]
    fn dot_dot_takes_away_the_component_before_it() {
        let cases = [
            (
                "/usr/lib/jvm/x/bin/../lib/libjli.so",
                "/usr/lib/jvm/x/lib/libjli.so",
            ),
            ("/a/./b/../../c", "/c"),
            ("/../../lib/x.so", "/lib/x.so"),
            ("/plain/path", "/plain/path"),
        ];
        for (path, want) in cases {
            assert_eq!(
                super::without_dot_dot(std::path::Path::new(path)),
                std::path::Path::new(want),
                "{path}"
            );
        }
    }

    /// `capget`'s effective set, as read here, is the one `/proc/thread-self/status` shows.
    #[test]
    fn the_effective_capabilities_are_read_as_the_kernel_shows_them() {
        let status = std::fs::read_to_string("/proc/thread-self/status").unwrap();
        let hex = status
            .lines()
            .find_map(|l| l.strip_prefix("CapEff:"))
            .unwrap()
            .trim();
        let shown = u64::from_str_radix(hex, 16).unwrap();
        for cap in [0, super::capabilities::CAP_SYS_PTRACE, 21, 40] {
            let held = shown & (1 << cap) != 0;
            assert_eq!(
                super::capabilities::has_effective(cap),
                held,
                "capability {cap}"
            );
        }
    }

    /// The reference is to the process's own mount namespace, whichever way it was taken.
    #[test]
    fn the_mount_namespace_reference_is_the_processs_own() {
        // SAFETY: getpid cannot fail.
        let pid = unsafe { libc::getpid() };
        let pidfd = super::pidfd_open(pid).unwrap();
        let held = std::fs::File::from(super::mount_namespace(pid, &pidfd).unwrap());
        let held = held.metadata().unwrap();
        let own = std::fs::metadata("/proc/self/ns/mnt").unwrap();
        assert_eq!((held.dev(), held.ino()), (own.dev(), own.ino()));
    }

    /// A violation's caller can be any thread: its pidfd is taken by thread id, and a signal
    /// can be sent through it (signal 0 here, which checks without sending). A kernel before
    /// 6.9 has no `PIDFD_THREAD`, and then refuses, as documented.
    #[test]
    fn a_pidfd_is_taken_for_a_thread_other_than_the_main_one() {
        let (tid_tx, tid_rx) = mpsc::channel();
        let (done_tx, done_rx) = mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            // SAFETY: gettid has no arguments and cannot fail.
            tid_tx.send(unsafe { libc::gettid() }).unwrap();
            let _ = done_rx.recv();
        });
        let tid = tid_rx.recv().unwrap();
        let sent = super::pidfd_open_thread(tid).map(|pidfd| {
            // SAFETY: integer arguments and a null siginfo.
            unsafe {
                libc::syscall(
                    libc::SYS_pidfd_send_signal,
                    pidfd.as_raw_fd(),
                    0,
                    std::ptr::null::<libc::siginfo_t>(),
                    0,
                )
            }
        });
        done_tx.send(()).unwrap();
        thread.join().unwrap();
        // SAFETY: getpid cannot fail.
        let pid = unsafe { libc::getpid() };
        if let Err(e) = super::pidfd_open_with(pid, super::PIDFD_THREAD) {
            // Before Linux 6.9: no pidfd for a thread but the leader, as documented.
            assert_eq!(e.raw_os_error(), Some(libc::EINVAL), "{e}");
            let e = sent.expect_err("a pidfd for a thread without PIDFD_THREAD");
            assert_eq!(e.raw_os_error(), Some(libc::EINVAL), "{e}");
            return;
        }
        assert_eq!(
            sent.expect("a pidfd for a thread that is not the leader"),
            0
        );
    }
}
