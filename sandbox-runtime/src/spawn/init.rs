//! The sandbox's init: pid 1 of the new pid namespace, the process the parent cloned.
//!
//! It does the namespace-wide set-up (ids, network, hostname, file system), forks the
//! sandboxee (pid 2), which sets the capability limits every other process in the sandbox
//! inherits (a spare's init sets them itself, ahead: see [`super::capabilities`]), and then only
//! reaps: when the sandboxee ends, init kills and reaps whatever else is left in the namespace,
//! reports the sandboxee's wait status and exits. The monitor ends a running sandbox early
//! (a time-out, a violation) by killing the program and asking init, on the report socket, to
//! end the rest now ([`kind::END_NOW`]), which init does at once and then reaps and reports as
//! at any end, counting everyone's CPU time; killing init (the monitor's fallback, and a kill
//! from outside) kills the whole sandbox at once too, the kernel then killing the rest,
//! uncounted.
//!
//! Why a separate init rather than the program as pid 1: a namespace's pid 1 ignores every
//! signal it has no handler for, even from itself (`kill -SEGV $$` would do nothing), and must
//! reap orphans. Init is protected from the sandboxee: it keeps its capabilities in the
//! sandbox's user namespace, which the sandboxee lacks (the kernel lets a process without
//! `CAP_SYS_PTRACE` ptrace another, or read its memory, only if it holds every capability the
//! other does), and once the program runs it also becomes non-dumpable, a second barrier. It
//! resets every signal action it inherited from the host to the default (so no host handler
//! runs in it, and no signal from inside reaches it).

use super::mounts;
use super::plan::{Plan, ROOT_PENDING};
use super::sandboxee;
use super::steps::{kind, Failure, Report, Step};
use super::sys;
use crate::spawn::idmap::SANDBOX_ID;
use std::os::fd::{FromRawFd, OwnedFd};
use std::sync::atomic::Ordering;
use std::time::Duration;

/// The namespaces every sandbox's init is cloned into (and the signal its parent gets when it
/// ends): user, mount, pid, IPC, UTS and cgroup, and network unless the host's is shared.
pub(crate) fn clone_flags(new_net: bool) -> libc::c_ulong {
    let mut flags = libc::CLONE_NEWUSER
        | libc::CLONE_NEWNS
        | libc::CLONE_NEWPID
        | libc::CLONE_NEWIPC
        | libc::CLONE_NEWUTS
        | libc::CLONE_NEWCGROUP
        | libc::SIGCHLD;
    if new_net {
        flags |= libc::CLONE_NEWNET;
    }
    flags as libc::c_ulong
}

/// Clones init with [`clone_flags`] for `plan` plus `extra` (the fork server adds
/// `CLONE_PARENT`) and returns its pid. The child runs `main` on its copy of the plan ([`run`],
/// or a spare's, see [`super::spare`]) and never returns here.
pub(crate) fn clone(
    plan: &Plan,
    extra: libc::c_ulong,
    main: fn(&Plan) -> !,
) -> std::io::Result<libc::pid_t> {
    clone_returning(plan, extra, main, None)
}

/// [`clone`] with no extra flag, also returning a pidfd of init that the clone itself made
/// (`CLONE_PIDFD`, Linux 5.2+): no `pidfd_open` on the way from the clone to init's release,
/// and init is never named by a pid that could be reused. `None` from a kernel that ignored
/// the flag, or refused it (then the clone is made again without it).
pub(crate) fn clone_with_pidfd(
    plan: &Plan,
    main: fn(&Plan) -> !,
) -> std::io::Result<(libc::pid_t, Option<OwnedFd>)> {
    let mut pidfd: libc::c_int = -1;
    let pid = match clone_returning(plan, 0, main, Some(&mut pidfd)) {
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            return clone(plan, 0, main).map(|pid| (pid, None));
        }
        other => other?,
    };
    // SAFETY: a descriptor the kernel just made for this process (close-on-exec), owned here.
    let pidfd = (pidfd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(pidfd) });
    Ok((pid, pidfd))
}

/// The clone behind [`clone`] and [`clone_with_pidfd`], which asks for a pidfd in `pidfd`.
fn clone_returning(
    plan: &Plan,
    extra: libc::c_ulong,
    main: fn(&Plan) -> !,
    pidfd: Option<&mut libc::c_int>,
) -> std::io::Result<libc::pid_t> {
    let mut flags = clone_flags(plan.parts.new_net && !plan.net_made_ahead) | extra;
    let parent_tid = match pidfd {
        Some(slot) => {
            flags |= libc::CLONE_PIDFD as libc::c_ulong;
            slot as *mut libc::c_int
        }
        None => std::ptr::null_mut(),
    };
    // Looked up here, in the parent, so that the child only reads the results.
    let arguments = host_arguments();
    super::capabilities::prepare();
    // Init starts as a copy of this process, its signal handlers included, until `start`
    // resets them: with every signal blocked across the clone, none of the host's runs in it.
    // Init's reset unblocks them; here the mask comes back when this guard drops.
    let _blocked = sys::SignalsBlocked::now();
    // SAFETY: a fork-like clone (no new stack, no CLONE_VM). The child works on a copy of this
    // address space. Init only makes raw system calls on the plan, which was fully prepared
    // before, so no lock another thread of the parent held at the clone is touched; a spare
    // also allocates, which is sound because only the fork server clones one, whose one other
    // thread then holds no lock a spare needs (see `netns::start_over_in_this_process`).
    // With CLONE_PIDFD the kernel writes the pidfd's number to `parent_tid` (the third
    // argument on every architecture), a live int of the caller's.
    let pid = unsafe { libc::syscall(libc::SYS_clone, flags, 0, parent_tid, 0, 0) };
    if pid == 0 {
        hide_host_arguments(arguments);
        set_init_name();
        main(plan);
    }
    if pid < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(pid as libc::pid_t)
}

/// What init shows as its command line (`/proc/1/cmdline`) in place of the host's.
const INIT_NAME: &[u8] = b"sandbox-init";

/// Does, in the process that will clone inits, what their clone needs looked up beforehand
/// (where the host's command line is, see [`hide_host_arguments`]; the kernel's last
/// capability, see [`super::capabilities::prepare`]; its Landlock ABI, see
/// [`super::reopen::abi`]; the host guards, see [`crate::seccomp::every_host_guard`]), so that a
/// process forked from it later (the fork server) gets it whole.
pub(crate) fn prepare_clone() {
    host_arguments();
    super::capabilities::prepare();
    super::reopen::abi();
    // A failure is the spawn's to report, before its clone.
    let _ = crate::seccomp::every_host_guard();
}

/// Where the host process's command line is in its memory (`arg_start`, `arg_end` of
/// `/proc/self/stat`), read once; `None` if it cannot be read. Init is a copy of the host (or of
/// the fork server, itself a copy made early), so the same addresses hold the same text there.
fn host_arguments() -> Option<(usize, usize)> {
    static AREA: crate::first_use::OnceBox<Option<(usize, usize)>> =
        crate::first_use::OnceBox::new();
    *AREA.get_or_init(|| Box::new(read_host_arguments()))
}

/// [`host_arguments`], read from `/proc/self/stat`.
fn read_host_arguments() -> Option<(usize, usize)> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses and may hold anything.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_ascii_whitespace();
    // `state` is field 3; `arg_start` and `arg_end` are fields 48 and 49.
    let start = fields.nth(48 - 3)?.parse().ok()?;
    let end = fields.next()?.parse().ok()?;
    (start < end).then_some((start, end))
}

/// Overwrites, in init's own copy of the host's memory, the host's command line with
/// [`INIT_NAME`] and zeros: `/proc/PID/cmdline` reads that memory and, unlike the rest of
/// init's `/proc` entries, is not closed to the sandboxee by init being non-dumpable, so the
/// host's arguments (paths, options, a token passed on the command line) would show there.
fn hide_host_arguments(area: Option<(usize, usize)>) {
    let Some((start, end)) = area else {
        return;
    };
    let len = end - start;
    let name = &INIT_NAME[..INIT_NAME.len().min(len.saturating_sub(1))];
    // SAFETY: [start, end) is the host's argument text, which the kernel mapped writable at the
    // top of the main thread's stack and which stays mapped for the process's life; this
    // process is a copy-on-write copy of the host (or of the fork server), so the writes land
    // in its own pages, and nothing here or later reads the arguments.
    unsafe {
        std::ptr::write_bytes(start as *mut u8, 0, len);
        std::ptr::copy_nonoverlapping(name.as_ptr(), start as *mut u8, name.len());
    }
}

/// Names init `sandbox-init` (`/proc/1/comm`) rather than after the host thread that cloned it.
pub(crate) fn set_init_name() {
    set_name(c"sandbox-init");
}

/// Names this process `name` (`/proc/PID/comm`, what `ps` shows).
pub(crate) fn set_name(name: &std::ffi::CStr) {
    // SAFETY: prctl reads a NUL-terminated name, cut at 16 bytes.
    unsafe { libc::prctl(libc::PR_SET_NAME, name.as_ptr(), 0, 0, 0) };
}

/// Init's main: never returns.
pub(crate) fn run(plan: &Plan) -> ! {
    match setup(plan) {
        Ok(pid) => reap(plan, pid),
        Err(f) => {
            sys::send_report(plan.report_fd, Report::failure(f));
            sys::exit(1)
        }
    }
}

/// The steps in order; returns the sandboxee's pid (inside the namespace). The sandboxee's first
/// steps look no path up: it is cloned before the new root is made and makes them beside it.
fn setup(plan: &Plan) -> Result<libc::pid_t, Failure> {
    start(plan)?;
    wait_for_id_maps(plan.sync_fd, plan.host_pidfd)?;
    set_up_namespaces(plan)?;
    // At the host root, which the pivot then turns into the new root for init and the
    // sandboxee alike: neither keeps the host's working directory, a directory of the host tree.
    sys::check(sys::chdir(mounts::ROOT), Step::ChdirToRoot)?;
    let pid = clone_sandboxee(plan, Ahead::Fresh)?;
    // On a failure from here init reports it and exits, and the kernel kills the sandboxee
    // with the rest of init's pid namespace before it has looked any path up. (If both fail at
    // once, the host keeps the first report to reach it.)
    build_root(plan, &mut [])?.detach_beside(&plan.host_root_detach);
    wait_for_exec(plan, pid);
    Ok(pid)
}

/// The first steps, before the id maps: die with the parent, reset the host's signal
/// actions, give up the host's scheduling priority, OOM protection, personality and umask
/// ([`super::inherited`]), leave the host's session keyring, drop every descriptor the plan
/// does not name, and leave the host's controlling terminal.
pub(crate) fn start(plan: &Plan) -> Result<(), Failure> {
    parent_death_signal(plan)?;
    sys::check(sys::reset_signals(), Step::InitSignals)?;
    super::inherited::shed(plan)?;
    new_session_keyring()?;
    close_inherited(plan)?;
    leave_controlling_terminal(plan);
    Ok(())
}

/// Gives up the controlling terminal init inherited from the host, if any, for init alone
/// (`TIOCNOTTY` on `/dev/tty`, which names it; init leads no session, so the host's session
/// keeps its terminal), and records in the plan whether init is left without one: `/dev/tty`
/// then fails with `ENXIO`. The sandboxee, cloned later, inherits that (see
/// [`super::sandboxee`]). Where init keeps a terminal (`/dev/tty` missing or refused here,
/// a terminal in exclusive mode), the plan says so and the sandboxee leads a new session
/// instead, which leaves it. Before the pivot: `/dev/tty` is the host's.
fn leave_controlling_terminal(plan: &Plan) {
    let open_tty = || {
        // SAFETY: a NUL-terminated literal; each caller closes the descriptor.
        unsafe {
            libc::open(
                c"/dev/tty".as_ptr(),
                libc::O_RDONLY | libc::O_NOCTTY | libc::O_NONBLOCK | libc::O_CLOEXEC,
            )
        }
    };
    let no_terminal = |fd: libc::c_int| fd < 0 && sys::errno() == libc::ENXIO;
    let close = |fd: libc::c_int| {
        if fd >= 0 {
            // SAFETY: a descriptor of ours, just opened, that nothing else refers to.
            unsafe { libc::close(fd) };
        }
    };
    let tty = open_tty();
    if tty < 0 {
        plan.init_start
            .controlling_terminal_left
            .store(no_terminal(tty), Ordering::Relaxed);
        return;
    }
    #[cfg(feature = "test-hooks")]
    if crate::test_hooks::keeps_controlling_terminal() {
        close(tty);
        return;
    }
    // SAFETY: an ioctl without argument on the descriptor just opened.
    unsafe { libc::ioctl(tty, libc::TIOCNOTTY) };
    close(tty);
    // Whatever TIOCNOTTY answered, what counts is whether a terminal is still there.
    let again = open_tty();
    let left = no_terminal(again);
    close(again);
    plan.init_start
        .controlling_terminal_left
        .store(left, Ordering::Relaxed);
}

/// Replaces the session keyring init inherited from the host with a new, empty one, which the
/// sandbox's processes inherit in turn. No namespace covers keyrings: the host's session keyring (a
/// login's, which `pam_keyinit` makes) and every key linked in it would otherwise be the sandbox's
/// to read, search and add to, whatever its ids, by possession. (Each user namespace has user
/// keyrings of its own. Permissions granted to a key's owner look at no namespace: a sandbox that
/// runs as its unprivileged host user still has those.) Made before the ids change, so the keyring
/// is charged to the host user's key quota (root's has room for a million), not to the shared one
/// of the sandbox's host id. A kernel without keyrings (`ENOSYS`), or a filter of the host's that
/// refuses them (`EPERM`, as Docker's does), leaves the sandbox, which inherits that filter, none
/// to reach.
fn new_session_keyring() -> Result<(), Failure> {
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
    // SAFETY: keyctl with integer arguments; a null name asks for an anonymous keyring.
    let r = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_JOIN_SESSION_KEYRING,
            std::ptr::null::<libc::c_char>(),
        )
    };
    if r < 0 && !matches!(sys::errno(), libc::ENOSYS | libc::EPERM) {
        return Err(Failure::errno(Step::SessionKeyring));
    }
    Ok(())
}

/// The namespace-wide set-up, once the id maps are written: [`set_up_namespaces`], then
/// [`build_root`]. Returns the host root, still to be detached.
pub(crate) fn build_namespaces(
    plan: &Plan,
    bound: &mut [mounts::Bound],
) -> Result<mounts::StackedHostRoot, Failure> {
    set_up_namespaces(plan)?;
    build_root(plan, bound)
}

/// Ids, network, hostname and the closing of nested user namespaces: the namespace-wide set-up,
/// which looks no path of the sandbox's up.
fn set_up_namespaces(plan: &Plan) -> Result<(), Failure> {
    if plan.parts.clear_groups {
        clear_groups()?;
    }
    set_ids()?;
    // The kernel cleared the death signal if the change of ids changed init's ids on the host
    // (as host root: 0 to 65534).
    parent_death_signal(plan)?;
    parent_still_there(plan)?;
    if plan.parts.new_net && !plan.net_made_ahead {
        loopback_up()?;
    }
    set_hostname(plan)?;
    if !plan.parts.user_namespaces {
        close_user_namespaces()?;
    }
    Ok(())
}

/// Sets `user.max_user_namespaces` to 0 in the sandbox's user namespace (init's own, where it
/// has `CAP_SYS_RESOURCE`): no process of the sandbox can then make a user namespace, the one
/// way a process without capabilities gets them, and none can undo it, since writing the
/// limit takes that capability in this namespace. (`/proc/sys` shows each process the entries
/// of its own user namespace, so the host's `/proc`, still init's root here, serves.) A host
/// where this cannot be done (no `/proc/sys`, a read-only one, a security module refusing the
/// write) starts no sandbox that does not allow user namespaces: the spawn fails, naming this
/// step.
fn close_user_namespaces() -> Result<(), Failure> {
    let limit = c"/proc/sys/user/max_user_namespaces";
    #[cfg(feature = "test-hooks")]
    let limit = if crate::test_hooks::fails_closing_user_namespaces() {
        c"/proc/sys/user/no_such_limit"
    } else {
        limit
    };
    // SAFETY: a NUL-terminated literal.
    let fd = unsafe { libc::open(limit.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC) };
    let fd = sys::check(fd.into(), Step::CloseUserNamespaces)? as libc::c_int;
    // SAFETY: writes one byte of a literal to the descriptor just opened.
    let written = unsafe { libc::write(fd, b"0".as_ptr().cast(), 1) };
    let result = sys::check(written as libc::c_long, Step::CloseUserNamespaces);
    // SAFETY: ours; nothing else refers to it.
    unsafe { libc::close(fd) };
    result.map(drop)
}

/// The file system: the new root, recorded in the plan
/// ([`super::plan::InitStart::set_new_root`]), everything mounted in it (recording in `bound`
/// what each bind shows, see [`mounts::build`]), and the pivot into it. Returns the host root, still to be detached.
fn build_root(
    plan: &Plan,
    bound: &mut [mounts::Bound],
) -> Result<mounts::StackedHostRoot, Failure> {
    mounts::private_propagation()?;
    let roots = mounts::make_new_root()?;
    plan.init_start.set_new_root(roots.new_root_id()?);
    let host_umask = plan
        .init_start
        .host_umask
        .load(std::sync::atomic::Ordering::Relaxed);
    mounts::build(&plan.parts.mounts, &roots, host_umask, bound)?;
    mounts::enter_new_root(roots)
}

/// Drops every descriptor the host had open at the clone that this sandbox does not use.
pub(crate) fn close_inherited(plan: &Plan) -> Result<(), Failure> {
    super::raw::check(
        super::raw::close_all_but(&plan.init_keep_fds),
        Step::CloseFds,
    )?;
    Ok(())
}

/// Dies with the parent: the parent *thread*, strictly, which is why an init that watches the
/// host's pidfd instead ([`Plan::watch_host`], a sandbox cloned directly from the host) takes
/// no such signal. For the others the parent is a thread that lasts as long as the host: the
/// fork server's clone thread, or the server itself for its spares.
fn parent_death_signal(plan: &Plan) -> Result<(), Failure> {
    if plan.host_pidfd >= 0 {
        return Ok(());
    }
    // SAFETY: prctl with integer arguments.
    let r = unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) };
    sys::check(r.into(), Step::ParentDeathSignal)?;
    Ok(())
}

/// Fails if the peer of the report socket has hung up (the host's end; for a spare, the fork
/// server's end of its channel, and the server dies with the host), or the host's pidfd reads
/// as ready (the host has ended). Checked after the death signal is set again, it tells whether
/// the host died while init had none: the kernel's signal covers the time after, or, watching
/// the host's pidfd, [`reap`] does.
fn parent_still_there(plan: &Plan) -> Result<(), Failure> {
    let mut p = [plan.report_fd, plan.host_pidfd].map(|fd| libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    });
    p[0].events = 0;
    // SAFETY: a live array of two pollfds (a negative fd is skipped); no waiting.
    let r = unsafe { libc::poll(p.as_mut_ptr(), 2, 0) };
    let hung_up = p[0].revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0;
    if r > 0 && (hung_up || p[1].revents != 0) {
        return Err(Failure {
            step: Step::ParentDeathSignal,
            index: 0,
            errno: libc::ESRCH,
        });
    }
    Ok(())
}

/// Blocks until the parent has written the id maps (for a spare: until the host releases the
/// sandbox it was handed, see [`super::spare`]). End of file means the parent died before (the
/// death signal set before this read covers the time after), and so does `host_pidfd`, unless
/// -1, reading as ready: the host has ended (another process it forked may still hold its end
/// of `fd`).
pub(crate) fn wait_for_id_maps(fd: libc::c_int, host_pidfd: libc::c_int) -> Result<(), Failure> {
    let host_ended = Failure {
        step: Step::WaitForIdMaps,
        index: 0,
        errno: libc::EPIPE,
    };
    if host_pidfd >= 0 {
        let mut p = [fd, host_pidfd].map(|fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        });
        loop {
            // SAFETY: a live array of two pollfds; no time-out.
            let r = unsafe { libc::poll(p.as_mut_ptr(), 2, -1) };
            if r > 0 {
                break;
            }
            if r < 0 && sys::errno() != libc::EINTR {
                return Err(Failure::errno(Step::WaitForIdMaps));
            }
        }
        if p[1].revents != 0 {
            return Err(host_ended);
        }
    }
    let mut b = 0u8;
    loop {
        // SAFETY: reads one byte into a live local.
        let r = unsafe { libc::read(fd, (&mut b as *mut u8).cast(), 1) };
        match r {
            1 => return Ok(()),
            0 => return Err(host_ended),
            _ if sys::errno() == libc::EINTR => continue,
            _ => return Err(Failure::errno(Step::WaitForIdMaps)),
        }
    }
}

fn clear_groups() -> Result<(), Failure> {
    // The raw call: glibc's setgroups() broadcasts to every thread it believes exists, and
    // the copy of the parent's thread list here names threads this process does not have.
    // SAFETY: an empty group list.
    let r = unsafe { libc::syscall(libc::SYS_setgroups, 0, std::ptr::null::<libc::gid_t>()) };
    sys::check(r, Step::ClearGroups)?;
    Ok(())
}

/// Becomes uid/gid 1000 inside. Capabilities in the namespace are kept: no id inside is 0, so
/// the kernel's "leaving root" rule does not clear them; the sandboxee drops them explicitly.
fn set_ids() -> Result<(), Failure> {
    let id = SANDBOX_ID;
    // SAFETY: integer arguments.
    let r = unsafe { libc::syscall(libc::SYS_setresgid, id, id, id) };
    sys::check(r, Step::SetGid)?;
    // SAFETY: integer arguments.
    let r = unsafe { libc::syscall(libc::SYS_setresuid, id, id, id) };
    sys::check(r, Step::SetUid)?;
    Ok(())
}

/// Brings `lo` up in the new network namespace.
fn loopback_up() -> Result<(), Failure> {
    sys::check(sys::loopback_up(), Step::Loopback)?;
    Ok(())
}

fn set_hostname(plan: &Plan) -> Result<(), Failure> {
    let name = plan.parts.hostname.as_bytes();
    // SAFETY: name is a live buffer of name.len() bytes.
    let r = unsafe { libc::sethostname(name.as_ptr().cast(), name.len()) };
    sys::check(r.into(), Step::Hostname)?;
    Ok(())
}

/// What init did before the sandboxee's clone, and so what is left to do beside it.
pub(crate) enum Ahead {
    /// A freshly cloned init: the new root is still to be made, pivoted into and the host root
    /// detached, beside the sandboxee's first steps, and the capability limits are the
    /// sandboxee's to set (see [`super::capabilities`]).
    Fresh,
    /// A spare's init: the new root made, the host root detached and the capability limits
    /// set, all ahead of the request.
    Spare,
}

/// A spare's init starts the sandboxee ([`clone_sandboxee`]) and returns once it has exec'd
/// (or ended).
pub(crate) fn fork_sandboxee(plan: &Plan) -> Result<libc::pid_t, Failure> {
    let pid = clone_sandboxee(plan, Ahead::Spare)?;
    wait_for_exec(plan, pid);
    Ok(pid)
}

/// Starts the sandboxee, which runs [`sandboxee::run`] and never returns here, and returns its
/// pid; [`wait_for_exec`] then waits for its exec, as a vfork's parent does.
///
/// The sandboxee shares init's memory on its own stack until its exec. Nothing is copied, so the
/// cost does not grow with the host's memory (init is itself a copy of the host), and init's memory
/// is not touched except that stack and the plan's words below. Init does not sleep through that
/// time as a vfork's parent would. A fresh init clones the sandboxee before it makes the new root,
/// mounts in it, pivots into it and detaches the host root, all beside the sandboxee's first
/// steps (descriptors, the capability limits), which look no path up and make their system calls
/// without libc ([`super::raw`]): the two share `errno`, which init's mounts write. Both stand at
/// the host root then, and the pivot moves the root and working directory of both to the new root.
/// The sandboxee then waits until it sees the new root alone ([`Plan::host_root_detach`]), before
/// its first path lookup. From init's pivot to the sandboxee's exec or exit, when the kernel clears
/// [`Plan::sandboxee_before_exec`], init in turn makes only such calls, so that the sandboxee may
/// go through libc. Without `CLONE_SIGHAND` the sandboxee gets a copy of init's signal actions and
/// mask, which init reset first thing, so it starts with every action at its default and nothing
/// blocked.
pub(crate) fn clone_sandboxee(plan: &Plan, ahead: Ahead) -> Result<libc::pid_t, Failure> {
    extern "C" fn entry(arg: *mut libc::c_void) -> libc::c_int {
        // SAFETY: arg is the plan init passed below; init waits until this process execs or
        // exits and never frees the plan, so the plan outlives every use here.
        let plan = unsafe { &*arg.cast::<Plan>() };
        sandboxee::run(plan)
    }
    let (root, limited) = match ahead {
        Ahead::Fresh => (ROOT_PENDING, false),
        Ahead::Spare => (0, true),
    };
    plan.host_root_detach.store(root, Ordering::Relaxed);
    plan.capabilities_limited.store(limited, Ordering::Relaxed);
    plan.sandboxee_before_exec.store(1, Ordering::Relaxed);
    let flags = libc::CLONE_VM | libc::CLONE_CHILD_CLEARTID | libc::SIGCHLD;
    // SAFETY: the stack is init's copy of the sandboxee stack mapping, with a guard page, which
    // nothing else in init's memory uses (init clones one sandboxee, see `ChildStack`);
    // the child reads the plan, which init changes only through its atomic words, and
    // allocates nothing; the word the kernel clears lives in the plan, which outlives the
    // child's use of this memory (init waits for it below).
    let pid = unsafe {
        libc::clone(
            entry,
            plan.sandboxee_stack.top(),
            flags,
            (plan as *const Plan).cast_mut().cast(),
            std::ptr::null_mut::<libc::pid_t>(),
            std::ptr::null_mut::<libc::c_void>(),
            plan.sandboxee_before_exec.as_ptr(),
        )
    };
    sys::check(pid.into(), Step::ForkSandboxee)?;
    Ok(pid)
}

/// Waits until the sandboxee `pid` has exec'd or ended. The kernel clears the word at the exec
/// or exit, except at an exit that dumps core: a look at the sandboxee now and then ends the
/// wait then.
fn wait_for_exec(plan: &Plan, pid: libc::pid_t) {
    while plan.sandboxee_before_exec.load(Ordering::Acquire) != 0 {
        super::raw::wait_while(&plan.sandboxee_before_exec, 1, Duration::from_millis(10));
        if plan.sandboxee_before_exec.load(Ordering::Acquire) != 0 && super::raw::has_ended(pid) {
            break;
        }
    }
}

/// Reaps until the sandboxee ends, ends everything else in the sandbox ([`end_the_rest`]),
/// reports the sandboxee's status with the sandbox's usage, and exits. The host has its outcome
/// from that report, without waiting for init's own exit (which frees a copy of the host's
/// memory and the sandbox's namespaces): nothing of the sandbox but init runs once it is sent.
///
/// Init waits for two things at once: a child's end (SIGCHLD, blocked and read through a
/// signalfd) and the monitor's request to end the sandbox now ([`kind::END_NOW`] on the report
/// socket, sent after a time-out or a violation), on which it kills every other process at once.
/// A hostile program could otherwise keep the rest running until init saw the program die: a
/// process that ptraces the program and never waits for it holds that back. Once the program
/// runs only init and the host hold the report socket's ends, so nothing inside can send, hold
/// back or drop that request; one sent before init got here waits in the socket. Init cloned
/// directly from the host also watches the host's pidfd ([`Plan::watch_host`]) and ends the
/// sandbox once the host has ended.
pub(crate) fn reap(plan: &Plan, sandboxee: libc::pid_t) -> ! {
    // SAFETY: prctl with integer arguments. Non-dumpable keeps the sandboxee (same uid) from
    // ptracing init or opening its /proc files even if init's capabilities were ever no longer
    // more than the sandboxee's: until now, that difference alone did.
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
    let report = plan.report_fd;
    let host = plan.host_pidfd;
    // Keep only the report socket and the host's pidfd: init holds no pipe or file of the
    // program's open. Closing the fork server's start pipe here tells the server the program
    // has started (see [`Plan::keep_until_started`]).
    let both = [report.min(host) as u32, report.max(host) as u32];
    let only_report = [report as u32];
    super::raw::close_all_but(if host >= 0 { &both } else { &only_report });
    let child_ends = child_ends_fd();
    let program_ended = program_end_fd(sandboxee);
    let mut fds = [child_ends, report, program_ended, host].map(|fd| libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    });
    loop {
        reap_ended(plan, sandboxee, child_ends >= 0);
        // SAFETY: fds is a live array of four pollfds (a negative fd is skipped); no time-out
        // and no change of the signal mask.
        let r = unsafe { libc::ppoll(fds.as_mut_ptr(), 4, std::ptr::null(), std::ptr::null()) };
        if r < 0 && sys::errno() == libc::EINTR {
            continue;
        }
        if r < 0 {
            // Init can no longer wait on both: it waits for the sandboxee's end alone (the
            // monitor's grace then ends it), rather than spin on the failing poll.
            reap_ended(plan, sandboxee, false);
        }
        if fds[1].revents & libc::POLLIN != 0 && end_requested(report) {
            // SAFETY: kill with integer arguments: from pid 1, -1 is every other process of its
            // pid namespace (and of namespaces nested in it).
            unsafe { libc::kill(-1, libc::SIGKILL) };
        }
        // The host's end of the report socket is gone, which its monitor holds until this
        // init's end (the host died, or exec'd another program, or the monitor unwound), or the
        // host has ended (init watches its pidfd rather than take a death signal): nobody
        // watches the sandbox or enforces its limits any more, so it ends now, as after the
        // monitor's request.
        let host_end_gone = fds[1].revents & (libc::POLLHUP | libc::POLLERR) != 0;
        if host_end_gone || fds[3].revents != 0 {
            // SAFETY: as above.
            unsafe { libc::kill(-1, libc::SIGKILL) };
            fds[1].fd = -1;
            fds[3].fd = -1;
        }
        if fds[0].revents != 0 {
            drain(child_ends);
        }
        if fds[2].revents != 0 {
            // The program has ended, but a tracer of it (a process of the sandbox) may hold its
            // exit status back from init: end every other process, which ends any trace and
            // hands the status to init's next wait.
            // SAFETY: as above.
            unsafe { libc::kill(-1, libc::SIGKILL) };
            fds[2].fd = -1;
        }
    }
}

/// A pidfd of the sandboxee, which reads as ready once it has ended, traced or not (a tracer
/// gets its exit status first, and may keep it from init); -1 where the kernel has none.
fn program_end_fd(sandboxee: libc::pid_t) -> libc::c_int {
    // SAFETY: pidfd_open with integer arguments; a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, sandboxee, 0) };
    libc::c_int::try_from(fd).unwrap_or(-1)
}

/// Reaps every child that has ended and returns; on the sandboxee's end, ends the rest,
/// reports and exits. Without a signalfd (`signalfd` false) it blocks until the sandboxee ends
/// instead: the monitor's requests then wait for the program's end, its grace for init still
/// running out. Where the program has a CPU limit, each ended child is looked at before it is
/// reaped, so that the sandboxee's own CPU time can still be read from its `/proc` entry (see
/// [`own_cpu_us`]); otherwise one `wait4` reaps whichever ended.
fn reap_ended(plan: &Plan, sandboxee: libc::pid_t, signalfd: bool) {
    let hang = if signalfd { libc::WNOHANG } else { 0 };
    loop {
        let (target, own_cpu) = match plan.cpu_ticks_per_sec {
            None => (-1, None),
            Some(ticks) => match ended_child(hang) {
                Ok(0) => return, // nothing more has ended yet
                Ok(pid) => (
                    pid,
                    (pid == sandboxee).then(|| own_cpu_us(pid, ticks)).flatten(),
                ),
                Err(libc::ECHILD) => sys::exit(0),
                Err(libc::EINTR) => continue,
                Err(_) => return,
            },
        };
        let mut status = 0;
        // SAFETY: rusage is plain old data; zero is a valid value for it.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: status is a live int and ru a live rusage the kernel fills.
        let r = unsafe { libc::wait4(target, &mut status, libc::__WALL | hang, &mut ru) };
        if r == sandboxee {
            // Without its own time, the time with its reaped children's: more, never less.
            end_and_report(plan, status, own_cpu.unwrap_or_else(|| cpu_us(&ru)));
        }
        if r == 0 {
            return; // nothing more has ended yet
        }
        if r < 0 && sys::errno() == libc::ECHILD {
            sys::exit(0);
        }
    }
}

/// The pid of a child that has ended, left unreaped (`WNOWAIT`); 0 with `WNOHANG` in `hang`
/// when none has yet; else the errno.
fn ended_child(hang: libc::c_int) -> Result<libc::pid_t, i32> {
    // SAFETY: siginfo_t is plain old data; zero is a valid value for it.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    let flags = libc::WEXITED | libc::WNOWAIT | libc::__WALL | hang;
    // SAFETY: info is a live siginfo_t the kernel fills.
    if unsafe { libc::waitid(libc::P_ALL, 0, &mut info, flags) } < 0 {
        return Err(sys::errno());
    }
    // SAFETY: filled by waitid (left zero with WNOHANG when nothing has ended).
    Ok(unsafe { info.si_pid() })
}

/// The user and system CPU time, in microseconds, of process `pid` itself (every thread of it,
/// not the children it reaped), from `/proc/PID/stat` while it is a zombie not yet reaped;
/// `None` where that cannot be read. Raw calls into buffers on the stack: nothing is allocated.
fn own_cpu_us(pid: libc::pid_t, ticks_per_sec: u64) -> Option<u64> {
    let path = sys::proc_path(pid, b"stat").ok()?;
    // SAFETY: path is NUL-terminated; a new descriptor or -1.
    let fd = unsafe { libc::open(path.as_ptr().cast(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return None;
    }
    let mut stat = [0u8; 1024];
    // SAFETY: stat is a live buffer of the length given.
    let got = unsafe { libc::read(fd, stat.as_mut_ptr().cast(), stat.len()) };
    // SAFETY: fd is ours.
    unsafe { libc::close(fd) };
    let ticks = cpu_ticks_of_stat(stat.get(..usize::try_from(got).ok()?)?)?;
    Some(ticks.saturating_mul(1_000_000) / ticks_per_sec)
}

/// `utime + stime` of a `/proc/PID/stat` line: the 14th and 15th fields, counted after the
/// command name's closing parenthesis (the name itself may hold spaces and parentheses).
fn cpu_ticks_of_stat(stat: &[u8]) -> Option<u64> {
    let close = stat.iter().rposition(|b| *b == b')')?;
    // After ") ": state is field 3, so utime and stime are the 12th and 13th from there.
    let mut fields = stat.get(close + 2..)?.split(|b| *b == b' ');
    let number = |f: &[u8]| {
        f.iter().try_fold(0u64, |n, d| {
            d.is_ascii_digit()
                .then(|| n.checked_mul(10)?.checked_add(u64::from(d - b'0')))
                .flatten()
        })
    };
    let utime = number(fields.nth(11)?)?;
    let stime = number(fields.next()?)?;
    utime.checked_add(stime)
}

/// Ends the rest of the sandbox, reports the sandboxee's wait `status` and CPU time
/// (`program_cpu_us`) with the sandbox's usage, and exits.
fn end_and_report(plan: &Plan, status: libc::c_int, program_cpu_us: u64) -> ! {
    end_the_rest();
    #[cfg(feature = "test-hooks")]
    if crate::test_hooks::slow_report() {
        let never = std::sync::atomic::AtomicU32::new(0);
        super::raw::wait_while(&never, 0, Duration::from_secs(3));
    }
    let (cpu_us, max_rss_kb) = usage();
    let msg = Report {
        kind: kind::EXIT_STATUS,
        value: status,
        cpu_us,
        max_rss_kb,
        program_cpu_us,
        ..Report::default()
    };
    sys::send_report(plan.report_fd, msg);
    sys::exit(0)
}

/// A signalfd that reads as ready when a child of init ends (SIGCHLD, blocked so that it is
/// only read there), or -1 if one cannot be made (SIGCHLD is then left unblocked).
fn child_ends_fd() -> libc::c_int {
    // SAFETY: sigset_t is plain old data; sigemptyset and sigaddset initialise it.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: set is a live sigset_t and SIGCHLD a valid signal.
    unsafe {
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGCHLD);
    }
    // SAFETY: set is initialised; the old mask is not asked for.
    if unsafe { libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) } != 0 {
        return -1;
    }
    // SAFETY: a new signalfd for set, which the kernel copies.
    let fd = unsafe { libc::signalfd(-1, &set, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK) };
    if fd < 0 {
        // SAFETY: as above.
        unsafe { libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut()) };
    }
    fd
}

/// Reads every queued signal off the signalfd `fd` (SIGCHLDs merge; `wait4` finds the
/// children).
fn drain(fd: libc::c_int) {
    // One signalfd_siginfo.
    let mut buf = [0u8; 128];
    // SAFETY: reads into a live buffer of its length, without blocking.
    while unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) } > 0 {}
}

/// Reads every message queued on the report socket (init's end); whether one asks to end the
/// sandbox now. The host sends init nothing else.
fn end_requested(report: libc::c_int) -> bool {
    let mut asked = false;
    loop {
        let mut buf = [0u8; Report::SIZE];
        // SAFETY: receives into a live buffer of its length, without blocking.
        let n = unsafe {
            libc::recv(
                report,
                buf.as_mut_ptr().cast(),
                buf.len(),
                libc::MSG_DONTWAIT,
            )
        };
        if n <= 0 {
            return asked;
        }
        let r = Report::from_bytes(&buf[..n as usize]);
        asked |= r.is_some_and(|r| r.kind == kind::END_NOW);
    }
}

/// Kills every other process of the sandbox and reaps them all, as the kernel would once init
/// exits, so that they are gone before the host is told the sandbox ended. Every process in the
/// pid namespace descends from init (joining it from outside takes capabilities over its user
/// namespace, which only the host has), so with no child left there is nothing to kill. A process
/// forking during the kill has the kill pending and its fork fails, so none is missed; orphans,
/// also those of a subreaper that dies, come to init to be reaped.
fn end_the_rest() {
    // SAFETY: no status or rusage asked for.
    let r = unsafe {
        libc::wait4(
            -1,
            std::ptr::null_mut(),
            libc::__WALL | libc::WNOHANG,
            std::ptr::null_mut(),
        )
    };
    if r < 0 && sys::errno() == libc::ECHILD {
        return;
    }
    // SAFETY: kill with integer arguments: from pid 1, -1 is every other process of its pid
    // namespace (and of namespaces nested in it).
    unsafe { libc::kill(-1, libc::SIGKILL) };
    loop {
        // SAFETY: as above, blocking.
        let r =
            unsafe { libc::wait4(-1, std::ptr::null_mut(), libc::__WALL, std::ptr::null_mut()) };
        if r < 0 && sys::errno() != libc::EINTR {
            return; // ECHILD: all reaped
        }
    }
}

/// Init's CPU time (µs) and peak resident set (KiB) with those of everything it reaped: what
/// the host's `wait4` on init would give.
fn usage() -> (u64, u64) {
    let get = |who| {
        // SAFETY: rusage is plain old data; zero is a valid value for it.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: ru is a live rusage the kernel fills.
        unsafe { libc::getrusage(who, &mut ru) };
        ru
    };
    let (own, reaped) = (get(libc::RUSAGE_SELF), get(libc::RUSAGE_CHILDREN));
    let cpu = cpu_us(&own) + cpu_us(&reaped);
    let rss = own.ru_maxrss.max(reaped.ru_maxrss).max(0) as u64;
    (cpu, rss)
}

/// User and system CPU time of `ru`, in microseconds.
fn cpu_us(ru: &libc::rusage) -> u64 {
    let us = |t: libc::timeval| (t.tv_sec.max(0) as u64) * 1_000_000 + t.tv_usec.max(0) as u64;
    us(ru.ru_utime) + us(ru.ru_stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_ticks_are_read_after_a_name_with_spaces_and_parentheses() {
        let line = b"2 (a) b (c) R 1 2 2 0 -1 4194560 100 0 0 0 250 17 3 4 20 0 1 0 5 0 0";
        assert_eq!(cpu_ticks_of_stat(line), Some(267));
        assert_eq!(cpu_ticks_of_stat(b"2 (x) R 1"), None);
        assert_eq!(cpu_ticks_of_stat(b"no parenthesis"), None);
    }

    /// This process's CPU time so far, in microseconds, by the clock the kernel keeps for it.
    fn process_cpu_us() -> u64 {
        let mut t = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: t is a live timespec.
        unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut t) };
        t.tv_sec as u64 * 1_000_000 + t.tv_nsec as u64 / 1000
    }

    #[test]
    fn a_running_process_own_cpu_time_is_read() {
        let before = process_cpu_us();
        while process_cpu_us() < before + 300_000 {}
        // SAFETY: no arguments.
        let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
        let me = std::process::id() as libc::pid_t;
        let us = own_cpu_us(me, ticks).expect("this process's stat");
        // Ticks are coarser than the clock: a tick's worth either way.
        assert!(us + 20_000 >= before + 300_000, "{us} µs");
        assert!(us <= process_cpu_us() + 20_000, "{us} µs");
    }
}
