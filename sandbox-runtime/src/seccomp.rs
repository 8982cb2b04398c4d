//! The filter the sandboxee runs under, and the user-notification plumbing around it.
//!
//! # The one exec the runtime needs
//! The program must be exec'd after the filter is installed, but the user's policy should not
//! have to allow `execveat`. The runtime's exec carries [`MAGIC`] in the sixth register, which
//! the kernel ignores for `execveat`; every compiled program sends such a call to the runtime
//! first thing in `execveat`'s branch (`ret KILL|RUNTIME_EXEC`, see the compiler's prelude), so
//! no other syscall pays for the check. With user notification that kill becomes a
//! notification like every other kill, and the monitor answers it with
//! `SECCOMP_USER_NOTIF_FLAG_CONTINUE` only while the sandboxee is still running the runtime's
//! own code, which it knows for certain: the sandboxee holds the only write end of a
//! close-on-exec "exec pipe", so the pipe reads as hung up exactly when the exec has succeeded
//! (or the sandboxee died). A magic `execveat` after that is answered exactly as the policy
//! answers an `execveat` (no rule can look at the sixth register), so the public magic value
//! grants nothing. The runtime's own calls between installation and exec (only the exec, or on
//! its failure a report and `exit_group`) are let through the same way, so a policy that kills
//! `write` still gets a readable setup error.
//!
//! Kernels without user notification or `pidfd_getfd` (before 5.6) get the program with the
//! exec check's kill turned into ALLOW and its magic replaced by a secret drawn for the sandbox
//! ([`ExecCheck`]): kills stay kills (reported as SIGSYS), and the runtime's exec passes by the
//! secret, which nothing in the sandbox can read, so no exec passes after the start. A program
//! whose check is not laid out as the runtime expects keeps the public magic there, and the
//! magic exec then stays usable after the start: a documented weakening, chosen over not
//! running at all.

use crate::error::SpawnError;
use crate::first_use::{OnceBool, OnceBox};
use crate::Policy;
use sandbox_policy::arch::Arch;
use sandbox_policy::bpf::{self, ret, SockFilter};
use sandbox_policy::host_guard::Guards;
use sandbox_policy::{Action, Tag, Verdict};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// The sixth register of the runtime's own `execveat`.
pub(crate) const MAGIC: u64 = sandbox_policy::RUNTIME_EXEC_MAGIC;

/// The filter the sandboxee installs, prepared before the clone.
#[derive(Debug)]
pub(crate) struct PreparedFilter {
    /// The policy's program (kills converted when `notify`, the exec check otherwise), the
    /// host guards laid in where [`prepare`] says so.
    pub insns: Vec<SockFilter>,
    /// Whether kills were turned into user notifications (and a listener will be created).
    pub notify: bool,
    /// Whether the filter is installed with `SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV`: with a
    /// listener, on kernels that take it ([`killable_wait_supported`]), decided before the
    /// clone so that the sandboxee makes one `seccomp()` call.
    pub killable_wait: bool,
    /// What the runtime's `execveat` carries in its sixth register: [`MAGIC`], which goes to
    /// the monitor; or, without user notification, a secret drawn for this filter, which the
    /// filter itself lets through (see [`ExecCheck`]).
    pub exec_arg: u64,
}

/// One set of guards' programs for this machine's architecture (see
/// [`sandbox_policy::host_guard`]): to stack under a policy's filter, and to run alone (killing
/// other ABIs' calls); or why there are none.
type GuardPrograms = Result<[Vec<SockFilter>; 2], String>;

/// The programs of each set of guards in [`Guards::SOME`], in its order, each made once per
/// process by [`host_guards`] when a spawn first needs it.
static HOST_GUARDS: [OnceBox<GuardPrograms>; 3] = [const { OnceBox::new() }; 3];

/// Makes the programs of `guards`, once per process: called before a clone whose sandboxee
/// installs them or whose monitor asks them, which then finds them with [`host_guard_made`]
/// without allocating. Nothing for no guard.
pub(crate) fn host_guards(guards: Guards) -> Result<(), SpawnError> {
    use sandbox_policy::host_guard::{program, ForeignCalls};
    let Some(slot) = guards.index().and_then(|i| HOST_GUARDS.get(i)) else {
        return Ok(());
    };
    let made = slot.get_or_init(|| {
        let make_both = || {
            let native =
                Arch::native().ok_or_else(|| "no architecture of this machine".to_string())?;
            let make = |foreign| program(native, guards, foreign).map_err(|e| e.to_string());
            Ok([
                make(ForeignCalls::LeftToPolicy)?,
                make(ForeignCalls::Killed)?,
            ])
        };
        Box::new(make_both())
    });
    match made {
        Ok(_) => Ok(()),
        Err(e) => Err(SpawnError::HostGuard(e.clone())),
    }
}

/// Makes every set's programs (see [`host_guards`]): for a process that clones sandboxes of
/// any kind and may not allocate by then (the fork server).
pub(crate) fn every_host_guard() -> Result<(), SpawnError> {
    Guards::SOME.into_iter().try_for_each(host_guards)
}

/// The program of `guards` to stack under a policy's filter (`under_policy`) or to run alone,
/// if [`host_guards`] made it in this process (or in the one this one was cloned from): a
/// plain read, safe between clone and exec. `None` for no guard.
pub(crate) fn host_guard_made(guards: Guards, under_policy: bool) -> Option<&'static [SockFilter]> {
    let programs = HOST_GUARDS.get(guards.index()?)?.get()?.as_ref().ok()?;
    let [stacked, alone] = programs;
    Some(if under_policy { stacked } else { alone })
}

/// Whether this kernel takes `SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV` (Linux 5.19+), asked
/// once per process: a kernel that does not refuses the flags with EINVAL before it reads the
/// program, one that does fails to read the null program given here (EFAULT). Nothing is
/// installed either way.
pub(crate) fn killable_wait_supported() -> bool {
    static SUPPORTED: OnceBool = OnceBool::new();
    SUPPORTED.get_or_init(|| {
        let flags =
            libc::SECCOMP_FILTER_FLAG_NEW_LISTENER | libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
        // SAFETY: a null program: the kernel checks the flags, then fails to copy it.
        let r = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                flags,
                std::ptr::null::<libc::sock_fprog>(),
            )
        };
        r == -1 && io::Error::last_os_error().raw_os_error() == Some(libc::EFAULT)
    })
}

/// Whether a filter with a listener can go on top of this process's own filters. The kernel
/// takes one listener per chain of filters (a second is refused with `EBUSY`), and a host run
/// by a container runtime that answers system calls itself (LXD's, Sysbox's) may already have
/// one: its sandboxes then get the policy's kills as the kernel's, as on a kernel without
/// user notification. Asked once per process. Only a process under a filter
/// (`PR_GET_SECCOMP`) can have a listener, and only such a process pays for the look: a
/// child, cloned for it, installs a `ret ALLOW` filter with a listener and says whether it
/// was refused as a second one.
pub(crate) fn listener_available() -> bool {
    static AVAILABLE: OnceBool = OnceBool::new();
    AVAILABLE.get_or_init(|| {
        // SAFETY: prctl with an integer option only reads this process's seccomp mode.
        let mode = unsafe { libc::prctl(libc::PR_GET_SECCOMP) };
        mode == 0 || !second_listener_refused()
    })
}

/// Whether a child of this process is refused a filter with a listener as a second one in its
/// chain (`EBUSY`). A child that cannot be made or ends otherwise tells nothing: `false`, and
/// a sandbox's own install then names what the kernel says.
fn second_listener_refused() -> bool {
    /// The child's exit status when its filter was refused as a second listener.
    const BUSY: libc::c_int = 3;
    let allow = [SockFilter::stmt(bpf::BPF_RET | bpf::BPF_K, ret::ALLOW)];
    let prog = libc::sock_fprog {
        len: 1,
        filter: allow.as_ptr() as *mut libc::sock_filter,
    };
    // No exit signal: only a wait that names this child (with __WALL) can reap it, never a
    // host's own wait for any child. Signals blocked across the clone: none of the host's
    // handlers runs in the child, which leaves with any still pending.
    let blocked = crate::spawn::sys::SignalsBlocked::now();
    // SAFETY: a fork-like clone (no new stack, no CLONE_VM). The child makes raw system calls
    // on memory prepared before the clone (the program above) and leaves with _exit, touching
    // no lock another thread of this process may have held.
    let pid = unsafe { libc::syscall(libc::SYS_clone, 0, 0, 0, 0, 0) };
    if pid != 0 {
        drop(blocked);
    }
    if pid == 0 {
        // SAFETY: as above: prctl and seccomp read integers and the live program; _exit ends
        // the child at once.
        unsafe {
            libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
            let r = libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                libc::SECCOMP_FILTER_FLAG_NEW_LISTENER,
                &prog as *const libc::sock_fprog,
            );
            let busy = r < 0 && *libc::__errno_location() == libc::EBUSY;
            libc::_exit(if busy { BUSY } else { 0 });
        }
    }
    if pid < 0 {
        return false;
    }
    let mut status = 0;
    loop {
        // SAFETY: waits for the child just cloned, into a live int.
        let r = unsafe { libc::waitpid(pid as libc::pid_t, &mut status, libc::__WALL) };
        if r >= 0 || io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            break;
        }
    }
    libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == BUSY
}

/// Whether this kernel has what the notification monitor needs: `SECCOMP_GET_NOTIF_SIZES`
/// (user notification, 5.0) and `pidfd_getfd` (5.6).
///
/// With the `test-hooks` feature, a test can make the runtime behave as on a kernel without them
/// (`test_hooks::simulate_no_user_notification`).
pub(crate) fn notify_supported() -> bool {
    static SUPPORTED: OnceBool = OnceBool::new();
    SUPPORTED.get_or_init(|| {
        #[cfg(feature = "test-hooks")]
        if crate::test_hooks::no_user_notification() {
            return false;
        }
        let mut sizes = libc::seccomp_notif_sizes {
            seccomp_notif: 0,
            seccomp_notif_resp: 0,
            seccomp_data: 0,
        };
        // SAFETY: SECCOMP_GET_NOTIF_SIZES writes one seccomp_notif_sizes to the pointer given.
        let r = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_GET_NOTIF_SIZES,
                0,
                &mut sizes as *mut libc::seccomp_notif_sizes,
            )
        };
        if r != 0 || usize::from(sizes.seccomp_notif) > std::mem::size_of::<libc::seccomp_notif>() {
            return false;
        }
        // SAFETY: pidfd_getfd on an invalid pidfd only returns an error.
        let r = unsafe { libc::syscall(libc::SYS_pidfd_getfd, -1, 0, 0) };
        r == -1 && io::Error::last_os_error().raw_os_error() != Some(libc::ENOSYS)
    })
}

/// Builds the filter to install from the native program of `policy`: every
/// `ret KILL_PROCESS|tag` becomes `ret USER_NOTIF` when `notify`; otherwise only the exec
/// check's kill becomes ALLOW, for the secret the check then compares with ([`ExecCheck`]),
/// so the runtime can still exec.
///
/// For a sandbox that reaches a host terminal (`guards.terminal`) the program is the policy's
/// own with the terminal guard in, which the compiler made alongside the plain one. The other
/// guards (see [`host_guards`]) are laid into it where the two fit in one
/// ([`sandbox_policy::stack`]): one filter to install, and one program to run on every call the
/// kernel's cache does not answer. The guards returned are those left to install as a filter of
/// their own. A merged program decides every call as the guard stacked under the policy's
/// filter would, except a call the policy kills: merged before the kills become notifications,
/// whose rank is below the guard's errno, such a call stays the policy's kill, reported, where
/// the stacked guard would have refused it with EPERM (as the kernel does stacked on a kernel
/// without user notification, where a kill outranks an errno). So the learn and
/// log-violations modes, which let such a call run, ask the guard first (`Monitor::observe`).
pub(crate) fn prepare(
    policy: &Policy,
    notify: bool,
    guards: Guards,
) -> Result<(PreparedFilter, Guards), SpawnError> {
    let (policys, mut left) = native_program(policy, guards)?;
    let merged = if left.is_empty() {
        None
    } else {
        host_guards(left)?;
        host_guard_made(left, true).and_then(|guard| sandbox_policy::stack::merged(policys, guard))
    };
    if merged.is_some() {
        left = Guards::NONE;
    }
    let user: &[SockFilter] = merged.as_deref().unwrap_or(policys);
    let convert = if notify {
        kill_to_notify
    } else {
        exec_check_to_allow
    };
    let mut insns: Vec<SockFilter> = user.iter().map(|&i| convert(i)).collect();
    // Only where no monitor takes the exec (see [`ExecCheck`]).
    let fallback = (!notify)
        .then(|| ExecCheck::find(user).zip(secret()))
        .flatten();
    let exec_arg = match fallback {
        Some((check, secret)) => {
            check.allow(&mut insns, secret);
            secret
        }
        None => MAGIC,
    };
    let filter = PreparedFilter {
        insns,
        notify,
        killable_wait: notify && killable_wait_supported(),
        exec_arg,
    };
    Ok((filter, left))
}

/// The program of `policy` for this machine's architecture, with the terminal guard in where
/// `guards` asks for it and the compiler made it, and the guards it does not have yet; or why
/// the kernel could not take it: checked before anything is made for a sandbox.
pub(crate) fn native_program(
    policy: &Policy,
    guards: Guards,
) -> Result<(&[SockFilter], Guards), SpawnError> {
    let native = Arch::native().ok_or(SpawnError::NoProgramForArch)?;
    let arch_program = policy.program(native).ok_or(SpawnError::NoProgramForArch)?;
    let guarded = &arch_program.terminal_guarded;
    let (program, left): (&[SockFilter], Guards) = if guards.terminal && !guarded.is_empty() {
        let left = Guards {
            terminal: false,
            ..guards
        };
        (guarded, left)
    } else {
        (&arch_program.filter, guards)
    };
    if program.is_empty() {
        return Err(SpawnError::EmptyProgram);
    }
    if program.len() > bpf::BPF_MAXINSNS {
        return Err(SpawnError::FilterTooLong(program.len()));
    }
    Ok((program, left))
}

/// Eight random bytes from the kernel, for one filter's exec secret.
fn secret() -> Option<u64> {
    let mut b = [0u8; 8];
    // SAFETY: b is a live buffer of b.len() bytes.
    let n = unsafe { libc::getrandom(b.as_mut_ptr().cast(), b.len(), 0) };
    (n == b.len() as isize).then(|| u64::from_ne_bytes(b))
}

/// Where a program's exec check is: `ld [60]`, `jeq #high` (true to the next), `ld [56]`,
/// `jeq #low` (true to the return), `ret KILL|RUNTIME_EXEC`, comparing the sixth register with
/// [`MAGIC`], as the compiler lays it out.
///
/// On a kernel without user notification the runtime's exec then carries a secret drawn per
/// sandbox instead of the public magic, and the filter lets it through itself. Nothing in the
/// sandbox can read the secret (it lives in the filter, which only a process with
/// `CAP_SYS_ADMIN` in the host's user namespace can read, and in the memory of the host and of
/// init, whose `/proc` files the program cannot open), so no exec is allowed to anyone else
/// afterwards, where the allowed magic used to stay usable. With user notification the exec
/// keeps going through the monitor: its notification is what holds the exec until the monitor
/// has taken the listener out of the sandboxee, whose own copy the exec closes (taken after,
/// it would be gone, and every call the policy kills would fail with ENOSYS instead).
struct ExecCheck {
    high: usize,
    low: usize,
}

impl ExecCheck {
    /// Finds the check, or `None` if the program does not hold exactly this layout with each
    /// step reached from the one before only (patching it then changes no other path).
    fn find(prog: &[SockFilter]) -> Option<ExecCheck> {
        let check = Verdict::new(Action::Kill, Tag::RUNTIME_EXEC).ret_value();
        let mut rets = (0..prog.len()).filter(|&i| is_ret_k(prog[i]) && prog[i].k == check);
        let ret = rets.next()?;
        if rets.next().is_some() {
            return None;
        }
        let preds = predecessors(prog);
        // Each step's one way in: the return from the low compare's true branch, the low load
        // from the high compare's true branch.
        let only_from = |i: usize| match preds[i].as_slice() {
            [(from, true)] => Some(*from),
            _ => None,
        };
        let low = only_from(ret)?;
        let low_load = low.checked_sub(1)?;
        let high = only_from(low_load)?;
        let high_load = high.checked_sub(1)?;
        let is = |i: usize, code: u16, k: u32| prog[i].code == code && prog[i].k == k;
        let ld = bpf::BPF_LD | bpf::BPF_W | bpf::BPF_ABS;
        let jeq = bpf::BPF_JMP | bpf::BPF_JEQ | bpf::BPF_K;
        let laid_out = is(high_load, ld, bpf::data::arg_hi(5))
            && is(high, jeq, (MAGIC >> 32) as u32)
            && is(low_load, ld, bpf::data::arg_lo(5))
            && is(low, jeq, MAGIC as u32)
            && preds[high] == [(high_load, false)]
            && preds[low] == [(low_load, false)];
        laid_out.then_some(ExecCheck { high, low })
    }

    /// Makes the check compare with `secret` in place of [`MAGIC`] (its return is ALLOW
    /// already, from [`exec_check_to_allow`]).
    fn allow(&self, prog: &mut [SockFilter], secret: u64) {
        prog[self.high].k = (secret >> 32) as u32;
        prog[self.low].k = secret as u32;
    }
}

/// For each instruction, the instructions that lead to it, with whether by a jump's true
/// branch (`true`) or otherwise (a false branch, an unconditional jump or falling through).
fn predecessors(prog: &[SockFilter]) -> Vec<Vec<(usize, bool)>> {
    let mut preds = vec![Vec::new(); prog.len()];
    let mut add = |to: usize, from: usize, on_true: bool| {
        if let Some(p) = preds.get_mut(to) {
            p.push((from, on_true));
        }
    };
    for (i, insn) in prog.iter().enumerate() {
        let class = insn.code & 0x07;
        if class == bpf::BPF_RET {
            continue;
        }
        if class != bpf::BPF_JMP {
            add(i + 1, i, false);
        } else if insn.code & 0xf0 == bpf::BPF_JA {
            add(i + 1 + insn.k as usize, i, false);
        } else {
            add(i + 1 + usize::from(insn.jt), i, true);
            add(i + 1 + usize::from(insn.jf), i, false);
        }
    }
    preds
}

/// `execveat`'s number on this machine.
pub(crate) fn execveat_nr() -> u32 {
    libc::SYS_execveat as u32
}

fn is_ret_k(i: SockFilter) -> bool {
    i.code == bpf::BPF_RET | bpf::BPF_K
}

fn kill_to_notify(i: SockFilter) -> SockFilter {
    if is_ret_k(i) && i.k & ret::ACTION_FULL == ret::KILL_PROCESS {
        SockFilter::stmt(i.code, ret::USER_NOTIF)
    } else {
        i
    }
}

fn exec_check_to_allow(i: SockFilter) -> SockFilter {
    let exec_check = Verdict::new(Action::Kill, Tag::RUNTIME_EXEC).ret_value();
    if is_ret_k(i) && i.k == exec_check {
        SockFilter::stmt(i.code, ret::ALLOW)
    } else {
        i
    }
}

/// Runs a program over the data of one notification, as the kernel would, and returns its
/// return value (`None` if the program cannot be run to a return, which a verified program
/// never does). Used to name the rule behind a notification, over the ORIGINAL program.
pub(crate) fn evaluate(prog: &[SockFilter], d: &libc::seccomp_data) -> Option<u32> {
    let data = sandbox_policy::eval::SeccompData {
        nr: d.nr,
        arch: d.arch,
        instruction_pointer: d.instruction_pointer,
        args: d.args,
    };
    sandbox_policy::eval::run(prog, &data).ok().map(|o| o.ret)
}

/// Takes a copy of descriptor `fd` of process `pidfd` (`pidfd_getfd`, Linux 5.6+).
pub(crate) fn pidfd_getfd(pidfd: RawFd, fd: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_getfd only reads its integer arguments; a returned fd is new and ours.
    let r = unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd, fd, 0) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: r is a fresh descriptor nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(r as RawFd) })
}

/// The `f_type` that `fstatfs` gives for a file of the kernel's anonymous-inode file system
/// (`ANON_INODE_FS_MAGIC`), where seccomp listeners live, with eventfds, epoll instances and
/// the like.
const ANON_INODE_FS_MAGIC: u64 = 0x0904_1934;

/// `SECCOMP_IOCTL_NOTIF_ID_VALID` as Linux 5.0 to 5.7 numbered it (`_IOR`, not `_IOW` as
/// `libc` has it): later kernels take both numbers, and 5.6 and 5.7 (which have the
/// `pidfd_getfd` the monitor needs) only this one.
const NOTIF_ID_VALID_EVERY_KERNEL: libc::Ioctl = 0x8008_2102u32 as libc::Ioctl;

/// Whether `fd` is a seccomp notification listener (so a descriptor fetched by number is what
/// the sandboxee said it was): a file of the anonymous-inode file system that answers
/// `SECCOMP_IOCTL_NOTIF_ID_VALID` as a listener does, for an id with no notification, with
/// ENOENT (or 0 should the id be pending). The ioctl's type (`'!'`) is seccomp's alone, and
/// the other anonymous files refuse it (ENOTTY, EINVAL); no other file is asked. Two system
/// calls, on the way from the filter's install to the exec's answer, and no `/proc`.
pub(crate) fn is_listener(fd: &OwnedFd) -> bool {
    // SAFETY: statfs is plain old data; zero is a valid value for it.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: fd is open and st is a live statfs the kernel fills.
    if unsafe { libc::fstatfs(fd.as_raw_fd(), &mut st) } != 0
        || st.f_type as u64 != ANON_INODE_FS_MAGIC
    {
        return false;
    }
    let no_such_id: u64 = 0;
    // SAFETY: NOTIF_ID_VALID reads one u64 from the pointer given.
    let r = unsafe {
        libc::ioctl(
            fd.as_raw_fd(),
            NOTIF_ID_VALID_EVERY_KERNEL,
            &no_such_id as *const u64,
        )
    };
    r == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::ENOENT)
}

/// `SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP` (Linux 6.6): notifications and replies wake the other
/// side on the waker's CPU.
const USER_NOTIF_FD_SYNC_WAKE_UP: u64 = 1;

/// Asks the kernel to hand each notification to the monitor, and each reply back to the
/// notifying thread, on the CPU that is already running (the notifying thread sleeps until the
/// reply anyway), instead of waking the other side on another CPU. A call sent to the monitor
/// then costs one switch each way rather than two cross-CPU wake-ups. Best effort: kernels
/// before 6.6 refuse the flag and keep the usual wake-ups.
pub(crate) fn sync_wake_ups(listener: &OwnedFd) {
    let flags = USER_NOTIF_FD_SYNC_WAKE_UP;
    // SAFETY: NOTIF_SET_FLAGS takes its flags by value; no memory is passed.
    unsafe {
        libc::ioctl(
            listener.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_SET_FLAGS,
            flags,
        )
    };
}

/// Receives one notification. `Ok(None)` when the notifying call went away (ENOENT) or the
/// receive was interrupted.
pub(crate) fn recv_notif(listener: &OwnedFd) -> io::Result<Option<libc::seccomp_notif>> {
    // SAFETY: seccomp_notif is plain old data; the kernel requires it zeroed before RECV.
    let mut notif: libc::seccomp_notif = unsafe { std::mem::zeroed() };
    // SAFETY: NOTIF_RECV writes one seccomp_notif (sizes checked in notify_supported).
    let r = unsafe {
        libc::ioctl(
            listener.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_RECV,
            &mut notif as *mut libc::seccomp_notif,
        )
    };
    if r < 0 {
        let e = io::Error::last_os_error();
        return match e.raw_os_error() {
            Some(libc::ENOENT) | Some(libc::EINTR) => Ok(None),
            _ => Err(e),
        };
    }
    Ok(Some(notif))
}

/// Whether notification `id` is still pending on `listener`: its caller is still blocked in
/// it, so a pid taken from it still names that caller (`SECCOMP_IOCTL_NOTIF_ID_VALID`).
pub(crate) fn notification_pending(listener: &OwnedFd, id: u64) -> bool {
    // SAFETY: NOTIF_ID_VALID reads one u64 from the pointer given.
    let r = unsafe {
        libc::ioctl(
            listener.as_raw_fd(),
            NOTIF_ID_VALID_EVERY_KERNEL,
            &id as *const u64,
        )
    };
    r == 0
}

/// How the monitor answers a notification.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reply {
    /// Let the call run: the runtime's own calls before the exec, the runtime's exec after it
    /// where the policy allows exec, and what the learn and log-violations modes let run.
    Continue,
    /// Fail the call with this errno.
    Fail(i32),
}

/// Answers notification `id`. Errors (the caller died meanwhile) are ignored: the answer no
/// longer matters then.
pub(crate) fn send_reply(listener: &OwnedFd, id: u64, reply: Reply) {
    let (error, flags) = match reply {
        Reply::Continue => (0, libc::SECCOMP_USER_NOTIF_FLAG_CONTINUE as u32),
        Reply::Fail(e) => (-e, 0),
    };
    let mut resp = libc::seccomp_notif_resp {
        id,
        val: 0,
        error,
        flags,
    };
    // SAFETY: NOTIF_SEND reads one seccomp_notif_resp from the pointer.
    unsafe {
        libc::ioctl(
            listener.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_SEND,
            &mut resp as *mut libc::seccomp_notif_resp,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sandbox_policy::arch::AUDIT_ARCH_X86_64;

    /// A listener of a filter installed on a thread of this process (`ret ALLOW`, so the
    /// thread runs on as before, and ends).
    fn a_listener() -> OwnedFd {
        std::thread::spawn(|| {
            // SAFETY: prctl with integer arguments, on this thread only.
            assert_eq!(
                unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) },
                0
            );
            let allow = [SockFilter::stmt(bpf::BPF_RET | bpf::BPF_K, ret::ALLOW)];
            let prog = libc::sock_fprog {
                len: 1,
                filter: allow.as_ptr() as *mut libc::sock_filter,
            };
            // SAFETY: SET_MODE_FILTER reads one sock_fprog and its one instruction.
            let fd = unsafe {
                libc::syscall(
                    libc::SYS_seccomp,
                    libc::SECCOMP_SET_MODE_FILTER,
                    libc::SECCOMP_FILTER_FLAG_NEW_LISTENER,
                    &prog as *const libc::sock_fprog,
                )
            };
            assert!(fd >= 0, "{}", io::Error::last_os_error());
            // SAFETY: fd is fresh and ours.
            unsafe { OwnedFd::from_raw_fd(fd as RawFd) }
        })
        .join()
        .unwrap()
    }

    #[test]
    fn a_listener_is_told_from_other_anonymous_files_and_from_pipes() {
        assert!(is_listener(&a_listener()));
        // SAFETY: eventfd with integer arguments; a returned fd is fresh and ours.
        let event = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
        assert!(event >= 0);
        // SAFETY: as above.
        let event = unsafe { OwnedFd::from_raw_fd(event) };
        assert!(!is_listener(&event));
        // SAFETY: epoll_create1 with an integer argument.
        let epoll = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        assert!(epoll >= 0);
        // SAFETY: a fresh descriptor, ours.
        let epoll = unsafe { OwnedFd::from_raw_fd(epoll) };
        assert!(!is_listener(&epoll));
        let (read, _write) = nix::unistd::pipe().unwrap();
        assert!(!is_listener(&read));
        let file = OwnedFd::from(std::fs::File::open("/proc/self/status").unwrap());
        assert!(!is_listener(&file));
    }

    fn data(nr: i32, arch: u32, args: [u64; 6]) -> libc::seccomp_data {
        libc::seccomp_data {
            nr,
            arch,
            instruction_pointer: 0,
            args,
        }
    }

    /// The probe says what the kernel's version says: the flag came with Linux 5.19.
    #[test]
    fn killable_wait_is_supported_from_linux_5_19() {
        let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
        let mut parts = release
            .trim()
            .split(|c: char| !c.is_ascii_digit())
            .map(|p| p.parse::<u32>().unwrap_or(0));
        let version = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
        assert_eq!(killable_wait_supported(), version >= (5, 19), "{release}");
    }

    fn compiled(text: &str) -> Policy {
        let c =
            sandbox_policy::compile_text("t.policy", None, text, &mut sandbox_policy::NoIncludes);
        c.result.expect("compiles").policy
    }

    #[test]
    fn an_empty_program_is_refused_before_anything_is_started() {
        let mut policy = compiled("default allow;\n");
        let mut programs = policy.programs.to_vec();
        for p in &mut programs {
            p.filter = Vec::new().into();
        }
        policy.programs = programs.into();
        assert!(matches!(
            prepare(&policy, true, Guards::NONE),
            Err(SpawnError::EmptyProgram)
        ));
        assert!(matches!(
            prepare(&policy, false, Guards::NONE),
            Err(SpawnError::EmptyProgram)
        ));
    }

    /// With user notification the runtime's exec goes to the monitor by the magic; without, it
    /// passes the filter by a secret drawn for the sandbox, and the magic meets the policy.
    #[test]
    fn the_runtime_exec_goes_to_the_monitor_or_passes_by_its_secret() {
        let policy = compiled("default kill;\nerrno(EPERM) execveat;\n");
        let nr = execveat_nr() as i32;
        let with = |arg: u64| data(nr, AUDIT_ARCH_X86_64, [0, 0, 0, 0, 0x1000, arg]);

        let notify = prepare(&policy, true, Guards::NONE).unwrap().0;
        assert_eq!(notify.exec_arg, MAGIC);
        assert_eq!(evaluate(&notify.insns, &with(MAGIC)), Some(ret::USER_NOTIF));
        assert_eq!(evaluate(&notify.insns, &with(0)), Some(ret::ERRNO | 1));
        let foreign = data(nr, 0x4000_0003, [0, 0, 0, 0, 0x1000, MAGIC]);
        assert_eq!(evaluate(&notify.insns, &foreign), Some(ret::USER_NOTIF));

        let fallback = prepare(&policy, false, Guards::NONE).unwrap().0;
        let secret = fallback.exec_arg;
        assert_ne!(secret, MAGIC, "no secret drawn");
        assert_eq!(evaluate(&fallback.insns, &with(secret)), Some(ret::ALLOW));
        assert_eq!(
            evaluate(&fallback.insns, &with(MAGIC)),
            Some(ret::ERRNO | 1)
        );
        // Half the secret is not enough.
        for arg in [secret & 0xffff_ffff, secret ^ 1, secret ^ 1 << 32] {
            assert_eq!(
                evaluate(&fallback.insns, &with(arg)),
                Some(ret::ERRNO | 1),
                "{arg:#x}"
            );
        }
        let foreign = data(nr, 0x4000_0003, [0, 0, 0, 0, 0x1000, secret]);
        assert_eq!(
            evaluate(&fallback.insns, &foreign),
            Some(ret::KILL_PROCESS | 0xffff)
        );
        // Two sandboxes do not share a secret.
        assert_ne!(
            prepare(&policy, false, Guards::NONE).unwrap().0.exec_arg,
            secret
        );
    }

    /// A filter with the set-id guard laid in still lets the runtime's exec through (to the
    /// monitor, or by its secret), refuses set-id modes the policy allows, and keeps the
    /// policy's kills, set-id modes or not, for the monitor (or the kernel) to end the sandbox.
    #[test]
    fn a_filter_with_the_set_id_guard_in_keeps_the_exec_and_the_kills() {
        let policy = compiled("default kill;\nallow fchmod;\nerrno(EPERM) execveat;\n");
        let nr = execveat_nr() as i32;
        let exec = |arg: u64| data(nr, AUDIT_ARCH_X86_64, [0, 0, 0, 0, 0x1000, arg]);
        let call =
            |nr: libc::c_long, mode: u64| data(nr as i32, AUDIT_ARCH_X86_64, [3, mode, 0, 0, 0, 0]);
        let fchmod = |mode| call(libc::SYS_fchmod, mode);
        let fchmodat = |mode| {
            data(
                libc::SYS_fchmodat as i32,
                AUDIT_ARCH_X86_64,
                [3, 0, mode, 0, 0, 0],
            )
        };
        for notify in [true, false] {
            let (alone, alone_left) = prepare(&policy, notify, Guards::NONE).unwrap();
            let (f, left) = prepare(&policy, notify, Guards::SET_ID).unwrap();
            assert!(left.is_empty() && alone_left.is_empty());
            assert!(f.insns.len() > alone.insns.len());
            let runtime_exec = if notify { ret::USER_NOTIF } else { ret::ALLOW };
            let kill = if notify {
                ret::USER_NOTIF
            } else {
                ret::KILL_PROCESS
            };
            let action = |d| evaluate(&f.insns, &d).map(|r| r & ret::ACTION_FULL);
            assert_eq!(evaluate(&f.insns, &exec(f.exec_arg)), Some(runtime_exec));
            assert_eq!(evaluate(&f.insns, &exec(0)), Some(ret::ERRNO | 1));
            assert_eq!(evaluate(&f.insns, &fchmod(0o755)), Some(ret::ALLOW));
            assert_eq!(evaluate(&f.insns, &fchmod(0o4755)), Some(ret::ERRNO | 1));
            // fchmodat is the policy's to kill, with a set-id mode too.
            assert_eq!(action(fchmodat(0o755)), Some(kill), "notify {notify}");
            assert_eq!(action(fchmodat(0o4755)), Some(kill), "notify {notify}");
            assert_eq!(
                action(call(libc::SYS_ptrace, 0)),
                Some(kill),
                "notify {notify}"
            );
        }
    }

    /// A sandbox that reaches a host terminal gets the program the compiler made with the
    /// terminal guard in (nothing left to stack), with the set-id guard laid in as well where
    /// asked; one that does not gets the policy's own program, whose `ioctl` the guard does not
    /// touch.
    #[test]
    fn the_terminal_guard_comes_with_the_program_made_for_it() {
        let policy = compiled("default kill;\nallow ioctl, fchmod;\n");
        let ioctl = |request: u64| {
            data(
                libc::SYS_ioctl as i32,
                AUDIT_ARCH_X86_64,
                [0, request, 0, 0, 0, 0],
            )
        };
        let fchmod = data(
            libc::SYS_fchmod as i32,
            AUDIT_ARCH_X86_64,
            [3, 0o4755, 0, 0, 0, 0],
        );
        let tiocsti = ioctl(libc::TIOCSTI);
        let refused = Some(ret::ERRNO | 1);
        for notify in [true, false] {
            let (plain, left) = prepare(&policy, notify, Guards::NONE).unwrap();
            assert!(left.is_empty());
            assert_eq!(evaluate(&plain.insns, &tiocsti), Some(ret::ALLOW));
            let (guarded, left) = prepare(&policy, notify, Guards::TERMINAL).unwrap();
            assert!(left.is_empty());
            let native = policy.native_program().unwrap();
            assert_eq!(guarded.insns.len(), native.terminal_guarded.len());
            assert_eq!(evaluate(&guarded.insns, &tiocsti), refused);
            assert_eq!(
                evaluate(&guarded.insns, &ioctl(libc::TCGETS)),
                Some(ret::ALLOW)
            );
            assert_eq!(evaluate(&guarded.insns, &fchmod), Some(ret::ALLOW));
            let (both, left) = prepare(&policy, notify, Guards::BOTH).unwrap();
            assert!(left.is_empty());
            assert_eq!(evaluate(&both.insns, &tiocsti), refused);
            assert_eq!(evaluate(&both.insns, &fchmod), refused);
        }
    }

    /// The compiler lays the exec check out as the runtime expects in policies of every shape
    /// (so the fallback's secret is what runs), and only the compared words change.
    #[test]
    fn the_exec_check_is_found_in_every_shape_of_policy() {
        let texts = [
            "default kill;\n",
            "default allow;\n",
            "default errno(EPERM);\nallow execveat, execve;\n",
            "default kill;\nallow execveat if flags == AT_EMPTY_PATH;\nuse dynamic_startup;\n",
            "default kill;\nuse dynamic_startup, malloc, exit, stdio, files_read, signals, time;\n",
        ];
        for text in texts {
            let policy = compiled(text);
            let prog = &policy.program(Arch::native().unwrap()).unwrap().filter;
            assert!(ExecCheck::find(prog).is_some(), "{text}");
            let f = prepare(&policy, false, Guards::NONE).unwrap().0;
            let changed = prog
                .iter()
                .zip(&f.insns)
                .filter(|(a, b)| exec_check_to_allow(**a) != **b)
                .count();
            // The two compared words: the fallback makes the check's return ALLOW either way.
            assert_eq!(changed, 2, "{text}");
        }
    }

    /// A check reached some other way is left alone: the exec then goes through the monitor
    /// with the magic, as before.
    #[test]
    fn a_check_laid_out_otherwise_is_left_to_the_monitor() {
        let policy = compiled("default kill;\n");
        let prog = policy
            .program(Arch::native().unwrap())
            .unwrap()
            .filter
            .to_vec();
        let check = ExecCheck::find(&prog).expect("found");
        // A second way into the low word's load (and so its compare): a jump inserted first
        // lands on it. Every jump is relative, so the insertion only moved the program by one
        // and added the extra way in.
        let mut other = prog.clone();
        other.insert(0, SockFilter::jump(bpf::BPF_JMP | bpf::BPF_JA, 0, 0, 0));
        other[0].k = (check.low - 1) as u32;
        assert!(ExecCheck::find(&other).is_none());
        // The compared value is not the magic.
        let mut wrong = prog.clone();
        wrong[check.high].k ^= 1;
        assert!(ExecCheck::find(&wrong).is_none());
    }
}
