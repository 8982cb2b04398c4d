//! What a process inherits from the host that starts it, and a sandbox must not keep:
//!
//! - a real-time or deadline scheduling policy, or a negative nice value: a program spinning at
//!   real-time priority starves the host's tasks on its CPUs (`chrt -f 5 sandbox run ...`);
//! - a negative OOM score adjustment (a service started with `OOMScoreAdjust=-500`): the OOM
//!   killer would pass the sandbox over and take the host's processes instead;
//! - personality flags (`setarch -R`, a debugger): `ADDR_NO_RANDOMIZE` would run the program
//!   without address-space randomisation;
//! - the umask, for init alone: init makes the new root's mount points with modes of its own,
//!   which a host's `umask 0777` would turn into directories nobody may search. It applies the
//!   host's umask ([`Plan::host_umask`]) itself to those it makes in a bound host directory,
//!   and the program gets it back, as any child of the host would.
//!
//! Init gives them up first thing ([`shed`]), before the id maps, so the sandboxee, cloned from
//! it, never has them. Only raw system calls, between clone and exec.

use super::plan::Plan;
use super::steps::{Failure, Step};
use super::sys;
use std::sync::atomic::Ordering;

/// `SCHED_DEADLINE`, which the libc crate does not name.
const SCHED_DEADLINE: libc::c_int = 6;
/// The flag `sched_getscheduler` may add to the policy.
const SCHED_RESET_ON_FORK: libc::c_int = 0x4000_0000;

/// Gives up in this process (init) what it inherited from the host and a sandbox must not
/// keep (see the module's documentation), and records the host's umask in `plan` for the
/// program.
pub(crate) fn shed(plan: &Plan) -> Result<(), Failure> {
    normal_scheduling()?;
    no_oom_protection()?;
    plain_personality()?;
    // SAFETY: umask() cannot fail; it only swaps the process's file mode mask.
    let host = unsafe { libc::umask(0) };
    plan.host_umask.store(host, Ordering::Relaxed);
    Ok(())
}

/// In the sandboxee, before the exec: gives the program the host's umask, which init cleared
/// for itself.
pub(crate) fn restore_umask(plan: &Plan) {
    let host: libc::mode_t = plan.host_umask.load(Ordering::Relaxed);
    // SAFETY: umask() cannot fail; it only swaps the process's file mode mask.
    unsafe { libc::umask(host) };
}

/// The normal policy (`SCHED_OTHER`) in place of a real-time or deadline one, and nice 0 in
/// place of a negative nice value. Giving priority up needs no privilege; a failure (a host
/// filter refusing the calls) fails the sandbox rather than let it run above normal.
fn normal_scheduling() -> Result<(), Failure> {
    let failed = || Err(Failure::errno(Step::ShedHostTraits));
    // SAFETY: sched_getscheduler() of the calling process only reads.
    let policy = unsafe { libc::sched_getscheduler(0) };
    if policy < 0 {
        return failed();
    }
    if matches!(
        policy & !SCHED_RESET_ON_FORK,
        libc::SCHED_FIFO | libc::SCHED_RR | SCHED_DEADLINE
    ) {
        let param = libc::sched_param { sched_priority: 0 };
        // SAFETY: the calling process and a valid sched_param that outlives the call.
        if unsafe { libc::sched_setscheduler(0, libc::SCHED_OTHER, &param) } < 0 {
            return failed();
        }
    }
    // The raw call returns 20 - nice (1 to 40), so that no nice value looks like an error.
    // SAFETY: getpriority() of the calling process only reads.
    let raw = unsafe { libc::syscall(libc::SYS_getpriority, libc::PRIO_PROCESS, 0) };
    if raw < 0 {
        return failed();
    }
    if raw > 20 {
        // SAFETY: setpriority() of the calling process to nice 0, above its negative value.
        if unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, 0) } < 0 {
            return failed();
        }
    }
    Ok(())
}

/// An OOM score adjustment of 0 in place of a negative one (raising it needs no privilege).
/// Read at `/proc/self`, which is still the host's here. A host with no `/proc` leaves
/// nothing to read, and nothing is done.
fn no_oom_protection() -> Result<(), Failure> {
    let failed = || Err(Failure::errno(Step::ShedHostTraits));
    // SAFETY: a NUL-terminated literal; the descriptor is closed below.
    let fd = unsafe {
        libc::open(
            c"/proc/self/oom_score_adj".as_ptr(),
            libc::O_RDWR | libc::O_CLOEXEC | libc::O_NOCTTY,
        )
    };
    if fd < 0 {
        return if sys::errno() == libc::ENOENT {
            Ok(())
        } else {
            failed()
        };
    }
    let mut first = 0u8;
    // SAFETY: reads one byte into a live local.
    let read = unsafe { libc::read(fd, (&mut first as *mut u8).cast(), 1) };
    let written = if read == 1 && first == b'-' {
        // SAFETY: writes one byte from a static literal; the file ignores the offset.
        unsafe { libc::write(fd, c"0".as_ptr().cast(), 1) }
    } else {
        read.min(1)
    };
    let errno = sys::errno();
    // SAFETY: the descriptor opened above, which nothing else refers to.
    unsafe { libc::close(fd) };
    if written < 1 {
        // The errno of the failed read or write, not of the close.
        return Err(Failure {
            step: Step::ShedHostTraits,
            index: 0,
            errno,
        });
    }
    Ok(())
}

/// The plain Linux personality: no flag of the host's (`ADDR_NO_RANDOMIZE`, `UNAME26`, ...).
fn plain_personality() -> Result<(), Failure> {
    // SAFETY: personality() of the calling process with a valid persona.
    if unsafe { libc::personality(PER_LINUX) } < 0 {
        return Err(Failure::errno(Step::ShedHostTraits));
    }
    Ok(())
}

/// `PER_LINUX`: the personality of a native process with no flag set.
const PER_LINUX: libc::c_ulong = 0;
