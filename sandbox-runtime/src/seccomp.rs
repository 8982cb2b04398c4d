//! The filter the sandboxee runs under, and the user-notification plumbing around it.
//!
//! # The one exec the runtime needs
//! The program must be exec'd after the filter is installed, but the user's policy should not
//! have to allow `execve`. The runtime prepends a prelude to the user's program:
//!
//! ```text
//! ld [arch]; jeq NATIVE, 0, user     ; foreign ABI: let the user program decide (it kills)
//! ld [nr];   jeq execveat, 0, user
//! ld [args[5].lo]; jeq MAGIC_LO, 0, user
//! ld [args[5].hi]; jeq MAGIC_HI, 0, user
//! ret USER_NOTIF                     ; the runtime's exec: ask the monitor
//! user: <the policy's program, kill returns turned into USER_NOTIF>
//! ```
//!
//! The monitor answers a notification with `SECCOMP_USER_NOTIF_FLAG_CONTINUE` only while the
//! sandboxee is still running the runtime's own code, which it knows for certain: the sandboxee
//! holds the only write end of a close-on-exec "exec pipe", so the pipe reads as hung up exactly
//! when the exec has succeeded (or the sandboxee died). After that, a magic `execveat` is
//! answered as the policy's own program answers it (allowed, failed with its errno, or a
//! violation), so the magic value, though public, grants nothing: the exec is one-shot and the
//! policy's exec ban holds. Any call the policy kills is a violation. The runtime's own calls
//! between installation and exec (the exec, or on its failure a report and `exit_group`) are
//! let through the same way, so a policy that kills `write` still gets a readable setup error.
//!
//! Kernels without user notification or `pidfd_getfd` (before 5.6) get the plain filter: the
//! prelude then returns ALLOW for the magic `execveat`, kills stay kills (reported as
//! SIGSYS), and the magic exec stays usable after the start: a documented weakening, chosen
//! over not running at all.

use crate::error::SpawnError;
use crate::Policy;
use sandbox_policy::arch::Arch;
use sandbox_policy::bpf::{self, data, ret, SockFilter};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::OnceLock;

/// The sixth argument of the runtime's own `execveat`, split into words.
pub(crate) const MAGIC_LO: u32 = 0x5342_4f58; // "SBOX"
/// High word of the magic.
pub(crate) const MAGIC_HI: u32 = 0x4558_4543; // "EXEC"
/// The whole magic value.
pub(crate) const MAGIC: u64 = ((MAGIC_HI as u64) << 32) | MAGIC_LO as u64;
/// Instructions in the prelude.
pub(crate) const PRELUDE_LEN: usize = 9;

/// The filter the sandboxee installs, prepared before the clone.
#[derive(Debug)]
pub(crate) struct PreparedFilter {
    /// Prelude + the policy's program (kills converted when `notify`).
    pub insns: Vec<SockFilter>,
    /// Whether kills were turned into user notifications (and a listener will be created).
    pub notify: bool,
}

/// Whether this kernel has what the notification monitor needs: `SECCOMP_GET_NOTIF_SIZES`
/// (user notification, 5.0) and `pidfd_getfd` (5.6).
pub(crate) fn notify_supported() -> bool {
    static SUPPORTED: OnceLock<bool> = OnceLock::new();
    *SUPPORTED.get_or_init(|| {
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

/// Builds the filter to install: the prelude, then the native program of `policy`, with every
/// `ret KILL_PROCESS|tag` turned into `ret USER_NOTIF` when `notify`.
pub(crate) fn prepare(policy: &Policy, notify: bool) -> Result<PreparedFilter, SpawnError> {
    let native = Arch::native().ok_or(SpawnError::NoProgramForArch)?;
    let prog = policy.program(native).ok_or(SpawnError::NoProgramForArch)?;
    let user: &[SockFilter] = &prog.filter;
    if user.len() + PRELUDE_LEN > bpf::BPF_MAXINSNS {
        return Err(SpawnError::FilterTooLong(user.len()));
    }
    let mut insns = prelude(native, notify);
    insns.extend(
        user.iter()
            .map(|&i| if notify { kill_to_notify(i) } else { i }),
    );
    Ok(PreparedFilter { insns, notify })
}

fn prelude(arch: Arch, notify: bool) -> Vec<SockFilter> {
    const LD_ABS: u16 = bpf::BPF_LD | bpf::BPF_W | bpf::BPF_ABS;
    const JEQ: u16 = bpf::BPF_JMP | bpf::BPF_JEQ | bpf::BPF_K;
    let ld = |off| SockFilter::stmt(LD_ABS, off);
    // Every false branch lands on the first user instruction, index PRELUDE_LEN.
    let to_user = |at: usize| u8::try_from(PRELUDE_LEN - at - 1).expect("short prelude");
    let on_magic = if notify { ret::USER_NOTIF } else { ret::ALLOW };
    let v = vec![
        ld(data::ARCH),
        SockFilter::jump(JEQ, arch.audit_arch(), 0, to_user(1)),
        ld(data::NR),
        SockFilter::jump(JEQ, execveat_nr(), 0, to_user(3)),
        ld(data::arg_lo(5)),
        SockFilter::jump(JEQ, MAGIC_LO, 0, to_user(5)),
        ld(data::arg_hi(5)),
        SockFilter::jump(JEQ, MAGIC_HI, 0, to_user(7)),
        SockFilter::stmt(bpf::BPF_RET | bpf::BPF_K, on_magic),
    ];
    debug_assert_eq!(v.len(), PRELUDE_LEN);
    v
}

/// `execveat`'s number on this machine.
pub(crate) fn execveat_nr() -> u32 {
    libc::SYS_execveat as u32
}

fn kill_to_notify(i: SockFilter) -> SockFilter {
    let is_ret_k = i.code == bpf::BPF_RET | bpf::BPF_K;
    if is_ret_k && i.k & ret::ACTION_FULL == ret::KILL_PROCESS {
        SockFilter::stmt(i.code, ret::USER_NOTIF)
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

/// Whether `fd` is a seccomp notification listener (so a descriptor fetched by number is what
/// the sandboxee said it was).
pub(crate) fn is_listener(fd: &OwnedFd) -> bool {
    let link = format!("/proc/self/fd/{}", fd.as_raw_fd());
    std::fs::read_link(link).is_ok_and(|p| p.as_os_str() == "anon_inode:seccomp notify")
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

/// How the monitor answers a notification.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reply {
    /// Let the call run (only for the runtime's own calls before the exec).
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

    fn data(nr: i32, arch: u32, args: [u64; 6]) -> libc::seccomp_data {
        libc::seccomp_data {
            nr,
            arch,
            instruction_pointer: 0,
            args,
        }
    }

    #[test]
    fn prelude_lets_only_magic_execveat_reach_the_monitor() {
        let user = [SockFilter::stmt(
            bpf::BPF_RET | bpf::BPF_K,
            ret::KILL_PROCESS | 7,
        )];
        let mut insns = prelude(Arch::X86_64, true);
        insns.extend(user.iter().map(|&i| kill_to_notify(i)));
        let nr = execveat_nr() as i32;
        let magic = data(nr, AUDIT_ARCH_X86_64, [0, 0, 0, 0, 0x1000, MAGIC]);
        assert_eq!(evaluate(&insns, &magic), Some(ret::USER_NOTIF));
        let plain = data(nr, AUDIT_ARCH_X86_64, [0, 0, 0, 0, 0x1000, 0]);
        assert_eq!(evaluate(&insns, &plain), Some(ret::USER_NOTIF));
        assert_eq!(evaluate(&user, &plain), Some(ret::KILL_PROCESS | 7));
        let foreign = data(nr, 0x4000_0003, [0, 0, 0, 0, 0x1000, MAGIC]);
        let mut fallback = prelude(Arch::X86_64, false);
        fallback.extend(user);
        assert_eq!(evaluate(&fallback, &magic), Some(ret::ALLOW));
        assert_eq!(evaluate(&fallback, &foreign), Some(ret::KILL_PROCESS | 7));
    }
}
