//! System calls made without libc, for the time init and the sandboxee run side by side on the
//! same memory (from the sandboxee's clone to its exec, see [`super::init::clone_sandboxee`]):
//! the sandboxee's first steps, beside init's mounts, and init's calls from its pivot on.
//!
//! libc keeps a failed call's error in `errno`, a thread-local variable, and the two processes
//! share the thread the host cloned from, so its `errno` too: a failure in one could change the
//! error the other is about to report. These calls return the error instead (`-errno`) and
//! touch no memory but what they are given. Init's mounts, which go through libc, act on the
//! errno they get (a missing parent is made), so the sandboxee's first steps make no libc call.

use super::steps::{Failure, Step};
use std::ffi::CStr;
use std::sync::atomic::{AtomicU32, Ordering};

/// A system call with up to five arguments; returns the kernel's result (`-errno` on failure).
///
/// # Safety
/// The arguments must be valid for system call `nr`.
#[cfg(target_arch = "x86_64")]
unsafe fn syscall5(nr: libc::c_long, a: usize, b: usize, c: usize, d: usize, e: usize) -> isize {
    let ret: isize;
    // SAFETY: the x86_64 system call convention: number in rax, arguments in rdi, rsi, rdx,
    // r10, r8; the kernel clobbers rcx and r11 and returns in rax. No stack is used.
    unsafe {
        std::arch::asm!(
            "syscall",
            inlateout("rax") nr as isize => ret,
            in("rdi") a,
            in("rsi") b,
            in("rdx") c,
            in("r10") d,
            in("r8") e,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    ret
}

/// See the x86_64 version.
///
/// # Safety
/// The arguments must be valid for system call `nr`.
#[cfg(target_arch = "aarch64")]
unsafe fn syscall5(nr: libc::c_long, a: usize, b: usize, c: usize, d: usize, e: usize) -> isize {
    let ret: isize;
    // SAFETY: the aarch64 system call convention: number in x8, arguments in x0 to x4, result
    // in x0. No stack is used.
    unsafe {
        std::arch::asm!(
            "svc 0",
            in("x8") nr,
            inlateout("x0") a as isize => ret,
            in("x1") b,
            in("x2") c,
            in("x3") d,
            in("x4") e,
            options(nostack),
        );
    }
    ret
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
compile_error!(
    "sandbox-runtime makes its system calls between clone and exec itself on x86_64 and aarch64 \
     only: through libc, init and the sandboxee would share errno, which init's mounts act on"
);

/// The error of a result (0 on success).
fn error(r: isize) -> i32 {
    if r < 0 {
        -r as i32
    } else {
        0
    }
}

/// `Ok` for a non-negative result of a call made here, else the failure of item `index` of
/// `step` with the call's own error (not `errno`, which the other process may be writing).
pub(crate) fn check_at(r: isize, step: Step, index: u32) -> Result<isize, Failure> {
    if r < 0 {
        Err(Failure {
            step,
            index,
            errno: error(r),
        })
    } else {
        Ok(r)
    }
}

/// [`check_at`] for a step done once.
pub(crate) fn check(r: isize, step: Step) -> Result<isize, Failure> {
    check_at(r, step, 0)
}

/// `setsid()`.
pub(crate) fn setsid() -> isize {
    // SAFETY: no arguments.
    unsafe { syscall5(libc::SYS_setsid, 0, 0, 0, 0, 0) }
}

/// `setpgid(0, 0)`: a process group of the caller's own.
pub(crate) fn setpgid_self() -> isize {
    // SAFETY: integer arguments.
    unsafe { syscall5(libc::SYS_setpgid, 0, 0, 0, 0, 0) }
}

/// `getppid()`.
pub(crate) fn getppid() -> isize {
    // SAFETY: no arguments.
    unsafe { syscall5(libc::SYS_getppid, 0, 0, 0, 0, 0) }
}

/// `prctl(option, arg2, 0, 0, 0)`, for the options that take an integer second argument.
pub(crate) fn prctl(option: libc::c_int, arg2: libc::c_ulong) -> isize {
    // SAFETY: integer arguments; the caller passes an option whose second argument is one.
    unsafe { syscall5(libc::SYS_prctl, option as usize, arg2 as usize, 0, 0, 0) }
}

/// `dup3(old, new, 0)`: `new` becomes a copy of `old`, not close-on-exec. The two must differ
/// (`dup3` refuses equal ones, EINVAL): every caller moves a descriptor of the plan, none of
/// which is at its target (see [`super::plan::Plan::init_keep_fds`]). aarch64 has no `dup2`.
pub(crate) fn dup_to(old: libc::c_int, new: libc::c_int) -> isize {
    // SAFETY: integer arguments.
    unsafe { syscall5(libc::SYS_dup3, old as usize, new as usize, 0, 0, 0) }
}

/// `pipe2(fds, flags)`.
pub(crate) fn pipe2(fds: &mut [libc::c_int; 2], flags: libc::c_int) -> isize {
    // SAFETY: fds is a live array of two ints the kernel fills.
    unsafe {
        syscall5(
            libc::SYS_pipe2,
            fds.as_mut_ptr() as usize,
            flags as usize,
            0,
            0,
            0,
        )
    }
}

/// `write(fd, bytes)`: the count written, or `-errno`.
pub(crate) fn write(fd: libc::c_int, bytes: &[u8]) -> isize {
    // SAFETY: bytes is a live buffer of bytes.len() bytes, which the kernel only reads.
    unsafe {
        syscall5(
            libc::SYS_write,
            fd as usize,
            bytes.as_ptr() as usize,
            bytes.len(),
            0,
            0,
        )
    }
}

/// Closes every descriptor not in `keep` (sorted ascending) with `close_range`.
pub(crate) fn close_all_but(keep: &[u32]) -> isize {
    let close_range = |first: u32, last: u32| {
        // SAFETY: close_range takes integers only.
        unsafe {
            syscall5(
                libc::SYS_close_range,
                first as usize,
                last as usize,
                0,
                0,
                0,
            )
        }
    };
    let mut next = 0u32;
    for &k in keep {
        if k > next {
            let r = close_range(next, k - 1);
            if r < 0 {
                return r;
            }
        }
        next = next.max(k.saturating_add(1));
    }
    close_range(next, u32::MAX)
}

/// The device and inode numbers of what `path` names (symbolic links followed), or `None` if
/// it cannot be looked at.
pub(crate) fn identity(path: &CStr) -> Option<(u64, u64)> {
    // SAFETY: stat is plain old data; zero is a valid initial value.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: path is NUL-terminated and st a live stat the kernel fills.
    let r = unsafe {
        syscall5(
            libc::SYS_newfstatat,
            libc::AT_FDCWD as usize,
            path.as_ptr() as usize,
            &mut st as *mut libc::stat as usize,
            0,
            0,
        )
    };
    (r == 0).then_some((st.st_dev, st.st_ino))
}

/// `umount2(path, MNT_DETACH)`: 0, or the errno.
pub(crate) fn detach(path: &CStr) -> i32 {
    // SAFETY: path is NUL-terminated; the flag is an integer.
    let r = unsafe {
        syscall5(
            libc::SYS_umount2,
            path.as_ptr() as usize,
            libc::MNT_DETACH as usize,
            0,
            0,
            0,
        )
    };
    error(r)
}

/// Blocks while `word` holds `expected`, for at most `timeout` (or until a wake-up; the caller
/// looks at the word again). A shared futex: the kernel's `CLONE_CHILD_CLEARTID` wake-up is one.
pub(crate) fn wait_while(word: &AtomicU32, expected: u32, timeout: std::time::Duration) {
    let ts = libc::timespec {
        tv_sec: timeout.as_secs() as libc::time_t,
        tv_nsec: timeout.subsec_nanos() as libc::c_long,
    };
    // SAFETY: word is a live 32-bit atomic; ts is a live timespec; the result is not needed
    // (the caller reads the word).
    unsafe {
        syscall5(
            libc::SYS_futex,
            word.as_ptr() as usize,
            libc::FUTEX_WAIT as usize,
            expected as usize,
            &ts as *const libc::timespec as usize,
            0,
        );
    }
}

/// Sleeps for `time` (the test hooks' pauses), as [`wait_while`] on a word nobody changes.
#[cfg(feature = "test-hooks")]
pub(crate) fn pause(time: std::time::Duration) {
    wait_while(&AtomicU32::new(0), 0, time);
}

/// Sets `word` to `value` and wakes whoever waits on it ([`wait_while`]).
pub(crate) fn set_and_wake(word: &AtomicU32, value: u32) {
    word.store(value, Ordering::Release);
    // SAFETY: word is a live 32-bit atomic; wakes every waiter.
    unsafe {
        syscall5(
            libc::SYS_futex,
            word.as_ptr() as usize,
            libc::FUTEX_WAKE as usize,
            i32::MAX as usize,
            0,
            0,
        );
    }
}

/// Whether child `pid` has ended (it stays to be reaped: `WNOWAIT`).
pub(crate) fn has_ended(pid: libc::pid_t) -> bool {
    // SAFETY: siginfo_t is plain old data; zero is a valid value for it.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    let options = libc::WEXITED | libc::WNOHANG | libc::WNOWAIT | libc::__WALL;
    // SAFETY: info is a live siginfo_t the kernel fills; no rusage.
    let r = unsafe {
        syscall5(
            libc::SYS_waitid,
            libc::P_PID as usize,
            pid as usize,
            &mut info as *mut libc::siginfo_t as usize,
            options as usize,
            0,
        )
    };
    // SAFETY: si_pid is set by the kernel when a child has ended, zero (as filled) otherwise.
    r < 0 || unsafe { info.si_pid() } != 0
}
