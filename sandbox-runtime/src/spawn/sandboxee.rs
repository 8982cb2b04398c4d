//! The sandboxee (pid 2): per-process set-up, then the exec. In order: new session, death
//! signal, standard streams and passed descriptors, close everything else, the capability
//! limits (unless a spare's init set them ahead, see [`super::capabilities`]), the exec pipes,
//! all without libc ([`super::raw`]); then a wait until it sees the new root alone (a fresh
//! init makes it and detaches the host root beside the steps so far), chdir, open
//! the program, no_new_privs, the Landlock domain that confines reopening where the sandbox
//! was given something to confine (see [`super::reopen`]), rlimits, empty the capability sets, the hello to the monitor, and the
//! seccomp filter last, then `execveat` of the opened program with the exec check's
//! argument (see [`crate::seccomp::PreparedFilter::exec_arg`]).
//!
//! Between installing the filter and the exec, every call (the close that tells the monitor the
//! filter is in place, the exec, or on its failure a report and `exit_group`) passes the
//! filter; the monitor lets such calls through only while the exec pipe shows the exec has not
//! happened (see [`crate::seccomp`]).

use super::capabilities;
use super::plan::{Plan, DETACH_PENDING, ROOT_PENDING};
use super::raw;
use super::steps::{kind, Failure, Report, Step};
use super::sys;
use crate::seccomp::MAGIC;
use sandbox_policy::host_guard::Guards;
use sandbox_policy::SockFilter;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// The sandboxee's main: never returns.
pub(crate) fn run(plan: &Plan) -> ! {
    // Before the exec pipe exists, failures go to the report socket.
    let mut channel = plan.report_fd;
    let err = match setup(plan, &mut channel) {
        Ok(never) => match never {},
        Err(f) => f,
    };
    sys::send_report(channel, Report::failure(err));
    sys::exit(127)
}

fn setup(plan: &Plan, channel: &mut libc::c_int) -> Result<std::convert::Infallible, Failure> {
    leave_the_host_group(plan)?;
    death_signal()?;
    stdio(plan)?;
    pass_fds(plan)?;
    close_fds(plan)?;
    if plan.capabilities_limited.load(Ordering::Relaxed) {
        capabilities::check_limited()?;
    } else {
        capabilities::limit()?;
    }
    let notify = plan.parts.filter.as_ref().is_some_and(|f| f.notify);
    let mut pipes = if notify { Some(exec_pipes()?) } else { None };
    // Before the first path lookup: `..` from the new root would reach the host root stacked
    // on it until the detach.
    host_root_detached(plan)?;
    chdir(plan)?;
    let exe = find_program(plan)?;
    // Before the Landlock domain, which needs it from a process without CAP_SYS_ADMIN.
    no_new_privs()?;
    super::reopen::confine(plan)?;
    // Predicted before the rlimits: a limit on open files that leaves the listener no
    // descriptor then fails the install itself, which names it.
    if let Some(p) = &mut pipes {
        p.listener = predict_listener([p.exec[0], p.installed[0]])?;
        #[cfg(feature = "test-hooks")]
        if crate::test_hooks::mispredicts_listener() {
            p.listener += 1;
        }
    }
    let predicted = pipes.as_ref().map(|p| p.listener);
    rlimits(plan)?;
    super::inherited::restore_umask(plan);
    capabilities::drop_all()?;
    if !plan.parts.separate_guards.is_empty() {
        install_host_guards(plan.parts.separate_guards, plan.parts.filter.is_some())?;
    }
    if let Some(filter) = &plan.parts.filter {
        // The hello right before the install: the monitor first looks for the listener on a
        // timer the hello starts (see `crate::monitor`).
        let installed = pipes.map(|p| hello(plan, p)).transpose()?;
        if let Some((exec, _)) = installed {
            *channel = exec;
        }
        install_filter(filter, predicted)?;
        if let Some((_, fd)) = installed {
            // The monitor's end hangs up: the listener exists, take it now. A policy that
            // sends `close` to the monitor holds this until the monitor's next look.
            // SAFETY: fd is the only write end of the installed pipe, ours.
            unsafe { libc::close(fd) };
        }
    }
    Err(exec(plan, exe))
}

/// Waits until this process sees the new root alone: `/` and `/..` both the directory init made
/// the new root ([`super::plan::InitStart::new_root`]). A fresh init makes it, pivots into it
/// and detaches the host root beside the steps so far (see [`super::init::clone_sandboxee`]):
/// before the pivot this process's root is the host's, and until the detach the host root is
/// stacked on the new root, where a lookup of `..` from the root (or from a mount point at the
/// top) crosses onto it. So the wait comes before this process looks any path up, and long
/// before the filter and the program. The detach takes the host root out of reach at once, then
/// waits out the kernel's grace period before init's call returns: from the pivot on, this
/// process looks for itself.
fn host_root_detached(plan: &Plan) -> Result<(), Failure> {
    let word = &plan.host_root_detach;
    loop {
        match word.load(Ordering::Acquire) {
            ROOT_PENDING => raw::wait_while(word, ROOT_PENDING, Duration::from_millis(10)),
            DETACH_PENDING => {
                // Woken at the pivot, this process nearly always finds the detach done; if
                // not, init's word wakes it when the detach returns.
                if sees_the_new_root_alone(plan) {
                    return Ok(());
                }
                raw::wait_while(word, DETACH_PENDING, Duration::from_millis(10));
            }
            0 if sees_the_new_root_alone(plan) => return Ok(()),
            0 => {
                return Err(Failure {
                    step: Step::NewRootAlone,
                    index: 0,
                    errno: libc::EPERM,
                })
            }
            errno => {
                return Err(Failure {
                    step: Step::DetachOldRoot,
                    index: 0,
                    errno: errno as i32,
                })
            }
        }
    }
}

/// Whether `/` and `/..` are both the new root: this process's root is the new root, and
/// nothing is mounted on it. Both are needed: before init's pivot, `/` is the host root and
/// `/..` the new root (mounted on it); after the pivot, until the detach, `/` is the new root
/// and `/..` the host root (stacked on it).
fn sees_the_new_root_alone(plan: &Plan) -> bool {
    let root = Some(plan.init_start.new_root());
    raw::identity(c"/") == root && raw::identity(c"/..") == root
}

/// Out of the host's process group, without a controlling terminal: no signal to the host's
/// group (`kill(0, ...)`), no terminal's signals, no `TIOCSTI` into the host's terminal.
///
/// Where init has left the host's controlling terminal (or there was none), the sandboxee
/// inherits none and takes a process group of its own (`setpgid`), still in the host's
/// session. It then leads no session, so no terminal can ever become its controlling terminal,
/// not even one passed to it that leads no session; and it stays in the host's scheduling
/// group: a new session would also put it in an autogroup of its own, which the kernel
/// schedules apart from the host (`kernel.sched_autogroup_enabled`, for processes outside any
/// CPU cgroup), and a program writing to a pipe its host reads then runs slower (the
/// benchmark's overhead section, `tar`). Otherwise it leads a new session (`setsid`), which
/// drops the controlling terminal.
fn leave_the_host_group(plan: &Plan) -> Result<(), Failure> {
    if plan
        .init_start
        .controlling_terminal_left
        .load(Ordering::Relaxed)
    {
        raw::check(raw::setpgid_self(), Step::OwnProcessGroup)?;
    } else {
        raw::check(raw::setsid(), Step::NewSession)?;
    }
    Ok(())
}

/// Dies with init; if init is already gone (we were reparented), stop here.
fn death_signal() -> Result<(), Failure> {
    let r = raw::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong);
    raw::check(r, Step::SandboxeeDeathSignal)?;
    if raw::getppid() != 1 {
        return Err(Failure {
            step: Step::SandboxeeDeathSignal,
            index: 0,
            errno: libc::ESRCH,
        });
    }
    Ok(())
}

fn stdio(plan: &Plan) -> Result<(), Failure> {
    for (i, fd) in plan.stdio.iter().enumerate() {
        if let Some(fd) = fd {
            raw::check_at(raw::dup_to(*fd, i as libc::c_int), Step::Stdio, i as u32)?;
        }
    }
    Ok(())
}

/// Every source is above every target (relocated by the parent), so no copy clobbers a source.
fn pass_fds(plan: &Plan) -> Result<(), Failure> {
    for (i, (src, dst)) in plan.passed.iter().enumerate() {
        raw::check_at(raw::dup_to(*src, *dst), Step::PassFd, i as u32)?;
    }
    Ok(())
}

fn close_fds(plan: &Plan) -> Result<(), Failure> {
    raw::check(raw::close_all_but(&plan.keep_fds), Step::CloseFds)?;
    Ok(())
}

/// Changes to the program's working directory, which must be absolute (the plan refuses any
/// other, and this checks again for a plan that came through the fork server): a relative one
/// would be looked up from wherever this process stands, not from the sandbox's root.
fn chdir(plan: &Plan) -> Result<(), Failure> {
    if plan.parts.cwd.as_bytes().first() != Some(&b'/') {
        return Err(Failure {
            step: Step::Chdir,
            index: 0,
            errno: libc::EINVAL,
        });
    }
    sys::check(sys::chdir(&plan.parts.cwd), Step::Chdir)?;
    Ok(())
}

/// Opens the program (O_PATH, close-on-exec) for `execveat(fd, "", AT_EMPTY_PATH)`: the exec
/// then cannot fail on lookup, and a single exec attempt is all the filter ever sees.
fn find_program(plan: &Plan) -> Result<libc::c_int, Failure> {
    let mut errno = libc::ENOENT;
    for c in &plan.parts.candidates {
        // SAFETY: c is NUL-terminated.
        let fd = unsafe { libc::open(c.as_ptr(), libc::O_PATH | libc::O_CLOEXEC) };
        if fd >= 0 {
            return Ok(fd);
        }
        errno = sys::errno();
        if errno != libc::ENOENT {
            break;
        }
    }
    Err(Failure {
        step: Step::FindProgram,
        index: 0,
        errno,
    })
}

/// The sandboxee's two pipes to the monitor (this process holds the only write end of each,
/// close-on-exec), and the number its seccomp listener will get.
struct Pipes {
    /// Failures; hangs up at the exec.
    exec: [libc::c_int; 2],
    /// Closed as soon as the filter is installed: the moment the monitor can take the listener.
    installed: [libc::c_int; 2],
    /// See [`predict_listener`]; set once the program is open.
    listener: libc::c_int,
}

/// Creates the exec and installed pipes, beside init's detach; [`hello`] sends them. A failure
/// ends this process, which closes whatever was made.
fn exec_pipes() -> Result<Pipes, Failure> {
    let mut exec = [0 as libc::c_int; 2];
    let mut installed = [0 as libc::c_int; 2];
    for p in [&mut exec, &mut installed] {
        raw::check(raw::pipe2(p, libc::O_CLOEXEC), Step::ExecPipe)?;
    }
    Ok(Pipes {
        exec,
        installed,
        listener: -1,
    })
}

/// Sends the pipes' read ends to the parent with the listener's number, closes them here, and
/// returns the write ends of the exec and installed pipes.
fn hello(plan: &Plan, p: Pipes) -> Result<(libc::c_int, libc::c_int), Failure> {
    let read_ends = [p.exec[0], p.installed[0]];
    let hello = Report {
        kind: kind::HELLO,
        value: p.listener,
        ..Report::default()
    };
    let r = sys::send_report_with_fds(plan.report_fd, hello, read_ends);
    let sent = sys::check(r, Step::ExecPipe);
    // SAFETY: both read ends are ours; the parent has its own copies now (if sent).
    unsafe {
        libc::close(read_ends[0]);
        libc::close(read_ends[1]);
    }
    sent?;
    Ok((p.exec[1], p.installed[1]))
}

/// The descriptor `seccomp(NEW_LISTENER)` will allocate: the lowest free one once `read_ends`
/// (to be sent and closed by [`hello`]) are closed. This process is single-threaded and opens
/// nothing between here and the filter's install, so that is the lowest of what is free now
/// and the two read ends.
fn predict_listener(read_ends: [libc::c_int; 2]) -> Result<libc::c_int, Failure> {
    // SAFETY: fcntl with integer arguments.
    let n = unsafe { libc::fcntl(read_ends[0], libc::F_DUPFD, 0) };
    sys::check(n.into(), Step::PredictListener)?;
    // SAFETY: n was just created by us.
    unsafe { libc::close(n) };
    Ok(n.min(read_ends[0]).min(read_ends[1]))
}

fn rlimits(plan: &Plan) -> Result<(), Failure> {
    for (i, r) in plan.parts.rlimits.iter().enumerate() {
        let lim = libc::rlimit64 {
            rlim_cur: r.soft,
            rlim_max: r.hard,
        };
        // SAFETY: prlimit64 on ourselves reads one rlimit64.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_prlimit64,
                0,
                r.resource,
                &lim as *const libc::rlimit64,
                std::ptr::null_mut::<libc::rlimit64>(),
            )
        };
        sys::check_at(rc, Step::Rlimit, i as u32)?;
    }
    Ok(())
}

fn no_new_privs() -> Result<(), Failure> {
    // SAFETY: prctl with integer arguments.
    let r = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
    sys::check(r.into(), Step::NoNewPrivs)?;
    Ok(())
}

/// Installs the program of `guards` (see [`sandbox_policy::host_guard`]), which the host made
/// before the clone: the one for under the policy's filter if there is one (`under_policy`),
/// else the one that kills other ABIs' calls itself.
fn install_host_guards(guards: Guards, under_policy: bool) -> Result<(), Failure> {
    let Some(insns) = crate::seccomp::host_guard_made(guards, under_policy) else {
        return Err(Failure {
            step: Step::HostGuard,
            index: 0,
            errno: libc::ENOENT,
        });
    };
    let r = install(insns, 0, Step::HostGuard)?;
    sys::check(r, Step::HostGuard)?;
    Ok(())
}

/// `seccomp(SECCOMP_SET_MODE_FILTER, flags, insns)`; the call's result, or `step`'s failure
/// for a program longer than the kernel takes.
fn install(
    insns: &[SockFilter],
    flags: libc::c_ulong,
    step: Step,
) -> Result<libc::c_long, Failure> {
    // Never a truncated filter: a length that does not fit is refused, not cut.
    let Ok(len) = libc::c_ushort::try_from(insns.len()) else {
        return Err(Failure {
            step,
            index: 0,
            errno: libc::E2BIG,
        });
    };
    let prog = libc::sock_fprog {
        len,
        // SockFilter is #[repr(C)] with the kernel's sock_filter layout.
        filter: insns.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: prog describes a live instruction array; the kernel copies it.
    Ok(unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            flags,
            &prog as *const libc::sock_fprog,
        )
    })
}

/// Installs the filter; with a listener, fails unless the kernel gave it the number
/// `predicted`, which the monitor was told and fetches it by.
fn install_filter(
    f: &crate::seccomp::PreparedFilter,
    predicted: Option<libc::c_int>,
) -> Result<(), Failure> {
    // With a listener, and where the kernel takes it (decided before the clone): once the
    // monitor has read a notification, only a fatal signal ends the caller's wait; another
    // signal would otherwise return a call the policy kills (EINTR) before the monitor's kill
    // lands.
    let flags = match (f.notify, f.killable_wait) {
        (false, _) => 0,
        (true, false) => libc::SECCOMP_FILTER_FLAG_NEW_LISTENER,
        (true, true) => {
            libc::SECCOMP_FILTER_FLAG_NEW_LISTENER | libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
        }
    };
    let r = install(&f.insns, flags, Step::InstallFilter)?;
    sys::check(r, Step::InstallFilter)?;
    // The listener (close-on-exec) is fetched by the monitor with pidfd_getfd, by the number
    // predicted. Another number would leave the monitor looking for it until its grace runs
    // out: the report of this failure (through the filter, which the policy may let pass)
    // ends the start at once instead.
    match predicted {
        Some(n) if f.notify && r != libc::c_long::from(n) => Err(Failure {
            step: Step::ListenerNumber,
            index: u32::try_from(r).unwrap_or(u32::MAX),
            errno: libc::EBADF,
        }),
        _ => Ok(()),
    }
}

/// `execveat(exe, "", argv, envp, AT_EMPTY_PATH, arg)`, `arg` being the filter's exec secret
/// (or the magic, see [`crate::seccomp::PreparedFilter::exec_arg`]); returns only on failure.
fn exec(plan: &Plan, exe: libc::c_int) -> Failure {
    let arg = plan.parts.filter.as_ref().map_or(MAGIC, |f| f.exec_arg);
    // SAFETY: argv and envp are NULL-terminated arrays of pointers to live C strings.
    unsafe {
        libc::syscall(
            libc::SYS_execveat,
            exe,
            c"".as_ptr(),
            plan.argv_ptrs.as_ptr(),
            plan.envp_ptrs.as_ptr(),
            libc::AT_EMPTY_PATH,
            arg,
        );
    }
    Failure::errno(Step::Exec)
}
