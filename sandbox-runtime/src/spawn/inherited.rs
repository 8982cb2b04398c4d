//! What a process inherits from the host that starts it, and a sandbox must not keep:
//!
//! - a real-time scheduling policy, or a negative nice value: a program spinning at real-time
//!   priority starves the host's tasks on its CPUs (`chrt -f 5 sandbox run ...`). (A host
//!   under the deadline policy cannot clone init at all, `EAGAIN`, unless it asked to reset it
//!   on fork, which gives init the normal policy);
//! - real-time I/O priority (`ionice -c1`): the program's reads and writes would go ahead of
//!   every other process's on the host's disks;
//! - room to take real-time or raised priority back (`RLIMIT_RTPRIO`, `RLIMIT_NICE`, which a
//!   service manager may raise, as systemd's `LimitRTPRIO=`): both become 0, hard limits too;
//! - a negative OOM score adjustment (a service started with `OOMScoreAdjust=-500`): the OOM
//!   killer would pass the sandbox over and take the host's processes instead;
//! - personality flags (`setarch -R`, a debugger): `ADDR_NO_RANDOMIZE` would run the program
//!   without address-space randomisation;
//! - the umask, for init alone: init makes the new root's mount points with modes of its own,
//!   which a host's `umask 0777` would turn into directories nobody may search. It applies the
//!   host's umask ([`super::plan::InitStart::host_umask`]) itself to those it makes in a bound
//!   host directory, and the program gets it back, as any child of the host would.
//!
//! Init gives them up first thing ([`shed`]), before the id maps, so the sandboxee, cloned from
//! it, never has them. Only raw system calls, between clone and exec.

use super::plan::Plan;
use super::steps::{Failure, Step};
use super::sys;
use std::sync::atomic::Ordering;

/// The flag `sched_getscheduler` may add to the policy.
const SCHED_RESET_ON_FORK: libc::c_long = 0x4000_0000;
/// `IOPRIO_WHO_PROCESS`: `ioprio_get` and `ioprio_set` of one thread (0: the caller).
const IOPRIO_WHO_PROCESS: libc::c_long = 1;
/// Where an I/O priority value holds its class.
const IOPRIO_CLASS_SHIFT: u32 = 13;
/// `IOPRIO_CLASS_RT`, the real-time I/O class.
const IOPRIO_CLASS_RT: libc::c_long = 1;
/// No class (`IOPRIO_CLASS_NONE`, level 0): the I/O priority follows the nice value.
const IOPRIO_NONE: libc::c_long = 0;

/// Gives up in this process (init) what it inherited from the host and a sandbox must not
/// keep (see the module's documentation), and records the host's umask in `plan` for the
/// program.
pub(crate) fn shed(plan: &Plan) -> Result<(), Failure> {
    normal_scheduling()?;
    normal_io_priority()?;
    no_priority_limits()?;
    no_oom_protection()?;
    plain_personality()?;
    // SAFETY: umask() cannot fail; it only swaps the process's file mode mask.
    let host = unsafe { libc::umask(0) };
    plan.init_start.host_umask.store(host, Ordering::Relaxed);
    Ok(())
}

/// In the sandboxee, before the exec: gives the program the host's umask, which init cleared
/// for itself.
pub(crate) fn restore_umask(plan: &Plan) {
    let host: libc::mode_t = plan.init_start.host_umask.load(Ordering::Relaxed);
    // SAFETY: umask() cannot fail; it only swaps the process's file mode mask.
    unsafe { libc::umask(host) };
}

/// The normal policy (`SCHED_OTHER`) in place of a real-time one, and nice 0 in place of a
/// negative nice value. Giving priority up needs no privilege; a failure (a host filter
/// refusing the calls) fails the sandbox rather than let it run above normal. Raw system
/// calls: some C libraries (musl) do not pass these on to the kernel.
fn normal_scheduling() -> Result<(), Failure> {
    let failed = || Err(Failure::errno(Step::ShedHostTraits));
    // SAFETY: sched_getscheduler() of the calling process only reads.
    let policy = unsafe { libc::syscall(libc::SYS_sched_getscheduler, 0) };
    if policy < 0 {
        return failed();
    }
    let real_time = [libc::SCHED_FIFO, libc::SCHED_RR].map(libc::c_long::from);
    if real_time.contains(&(policy & !SCHED_RESET_ON_FORK)) {
        let param = libc::sched_param { sched_priority: 0 };
        // SAFETY: the calling process and a valid sched_param that outlives the call.
        let r = unsafe {
            libc::syscall(
                libc::SYS_sched_setscheduler,
                0,
                libc::SCHED_OTHER,
                &param as *const libc::sched_param,
            )
        };
        if r < 0 {
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

/// No real-time I/O class: a thread in it is put back in none, where its I/O priority follows
/// its nice value (giving it up needs no privilege). A kernel built without the block layer
/// has no I/O priorities (`ENOSYS`), and nothing is done.
fn normal_io_priority() -> Result<(), Failure> {
    // SAFETY: ioprio_get() of the calling thread only reads.
    let priority = unsafe { libc::syscall(libc::SYS_ioprio_get, IOPRIO_WHO_PROCESS, 0) };
    if priority < 0 {
        return if sys::errno() == libc::ENOSYS {
            Ok(())
        } else {
            Err(Failure::errno(Step::ShedHostTraits))
        };
    }
    if priority >> IOPRIO_CLASS_SHIFT == IOPRIO_CLASS_RT {
        // SAFETY: ioprio_set() of the calling thread with integer arguments.
        let r = unsafe { libc::syscall(libc::SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, IOPRIO_NONE) };
        if r < 0 {
            return Err(Failure::errno(Step::ShedHostTraits));
        }
    }
    Ok(())
}

/// `RLIMIT_RTPRIO` and `RLIMIT_NICE` at 0, soft and hard: without a capability (which a
/// sandbox never has), they are all that lets a process take a real-time policy or a nice
/// value below its own. Lowering a limit needs no privilege.
fn no_priority_limits() -> Result<(), Failure> {
    let none = libc::rlimit64 {
        rlim_cur: 0,
        rlim_max: 0,
    };
    for resource in [libc::RLIMIT_RTPRIO, libc::RLIMIT_NICE] {
        // SAFETY: prlimit64 of the calling process, from a live rlimit64, keeping no old one.
        // Raw: a C library may do more in its setrlimit (musl's signals every thread it knows).
        let r = unsafe {
            libc::syscall(
                libc::SYS_prlimit64,
                0,
                resource,
                &none as *const libc::rlimit64,
                std::ptr::null_mut::<libc::rlimit64>(),
            )
        };
        if r < 0 {
            return Err(Failure::errno(Step::ShedHostTraits));
        }
    }
    Ok(())
}

/// An OOM score adjustment of 0 in place of a negative one (raising it needs no privilege).
/// Read at `/proc/self`, which is still the host's here, and opened for writing only when
/// negative: a host whose `/proc` is read-only (a container's) has nothing to lower. A host
/// with no `/proc` leaves nothing to read, and nothing is done.
fn no_oom_protection() -> Result<(), Failure> {
    let path = c"/proc/self/oom_score_adj";
    let open = |flags| {
        // SAFETY: a NUL-terminated literal; the caller closes the descriptor.
        unsafe { libc::open(path.as_ptr(), flags | libc::O_CLOEXEC | libc::O_NOCTTY) }
    };
    let fd = open(libc::O_RDONLY);
    if fd < 0 {
        return if sys::errno() == libc::ENOENT {
            Ok(())
        } else {
            Err(Failure::errno(Step::ShedHostTraits))
        };
    }
    let mut first = 0u8;
    // SAFETY: reads one byte into a live local.
    let read = unsafe { libc::read(fd, (&mut first as *mut u8).cast(), 1) };
    let read = closed_after(fd, read)?;
    if read == 0 || first != b'-' {
        return Ok(());
    }
    let fd = open(libc::O_WRONLY);
    if fd < 0 {
        return Err(Failure::errno(Step::ShedHostTraits));
    }
    // SAFETY: writes one byte from a static literal to the descriptor just opened.
    let written = unsafe { libc::write(fd, c"0".as_ptr().cast(), 1) };
    closed_after(fd, written).map(drop)
}

/// Closes `fd`, which nothing else refers to, after a read or write on it returned `r`: `r`
/// itself, or the failure with that call's errno (not the close's) if it failed.
fn closed_after(fd: libc::c_int, r: isize) -> Result<isize, Failure> {
    let errno = sys::errno();
    // SAFETY: as the caller says, ours alone.
    unsafe { libc::close(fd) };
    if r < 0 {
        return Err(Failure {
            step: Step::ShedHostTraits,
            index: 0,
            errno,
        });
    }
    Ok(r)
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
