//! The sandbox's capabilities: the limits every process in it inherits, and the sandboxee's
//! empty sets before its exec.
//!
//! The limits (locked securebits, empty bounding and ambient sets, [`limit`]) are set once,
//! before the program: a spare's init sets them ahead of its request, where they cost nothing
//! on the way to a start, and the sandboxee of a fresh init sets them itself, beside init's
//! detach of the host root (see [`super::init::fork_sandboxee`]), where they would otherwise
//! come between init's pivot and that detach. Every process of the sandbox but init descends
//! from the sandboxee, so either way all of them have the limits; init never execs, so a full
//! bounding set of its own grants it nothing. [`super::plan::Plan::capabilities_limited`] says
//! which way it goes. The sandboxee then checks them ([`check_limited`]) and empties its own
//! sets ([`drop_all`]).

use super::steps::{Failure, Step};
use super::sys;

/// The securebits of the whole sandbox: no root semantics (`NOROOT`), no capability changes on
/// a change of uid (`NO_SETUID_FIXUP`), no ambient capability raised (`NO_CAP_AMBIENT_RAISE`),
/// each locked, and `KEEP_CAPS` locked off.
pub(crate) const SECUREBITS: libc::c_int = libc::SECBIT_NOROOT
    | libc::SECBIT_NOROOT_LOCKED
    | libc::SECBIT_NO_SETUID_FIXUP
    | libc::SECBIT_NO_SETUID_FIXUP_LOCKED
    | libc::SECBIT_KEEP_CAPS_LOCKED
    | libc::SECBIT_NO_CAP_AMBIENT_RAISE
    | libc::SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;

/// Locks [`SECUREBITS`] and empties the bounding and ambient sets of the calling process, for
/// everything it starts to inherit: no exec in the sandbox can then gain a capability, and no
/// process in it can raise an ambient one. The caller keeps its effective capabilities (the
/// bounding set only caps what an exec grants). Each of the forty-odd bounding-set drops copies
/// the credentials (about 1.4 µs each on the test machine), which is why it matters where this
/// runs.
pub(crate) fn limit() -> Result<(), Failure> {
    // SAFETY: prctl with integer arguments.
    let r = unsafe {
        libc::prctl(
            libc::PR_SET_SECUREBITS,
            SECUREBITS as libc::c_ulong,
            0,
            0,
            0,
        )
    };
    sys::check(r.into(), Step::Securebits)?;
    for cap in 0..64 {
        // SAFETY: prctl with integer arguments.
        let r = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0) };
        if r < 0 {
            if sys::errno() == libc::EINVAL {
                break; // past the last capability this kernel knows
            }
            return Err(Failure::at(Step::BoundingSet, cap as u32));
        }
    }
    // SAFETY: prctl with integer arguments.
    let r = unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL,
            0,
            0,
            0,
        )
    };
    sys::check(r.into(), Step::AmbientCaps)?;
    Ok(())
}

/// Checks that the calling process has the limits [`limit`] sets: securebits as it locks them,
/// and the bounding set without capability 0. Two reads and no credential copy; a sandboxee
/// started on a path that skipped [`limit`] fails here instead of running its program with a
/// full bounding set.
pub(crate) fn check_limited() -> Result<(), Failure> {
    // SAFETY: prctl with integer arguments.
    let bits = unsafe { libc::prctl(libc::PR_GET_SECUREBITS, 0, 0, 0, 0) };
    // SAFETY: prctl with integer arguments.
    let cap0 = unsafe { libc::prctl(libc::PR_CAPBSET_READ, 0, 0, 0, 0) };
    if bits != SECUREBITS || cap0 != 0 {
        return Err(Failure {
            step: Step::InheritedLimits,
            index: 0,
            errno: libc::EPERM,
        });
    }
    Ok(())
}

/// Empties the calling process's effective, permitted and inheritable sets (the bounding and
/// ambient sets are empty already, see [`limit`]).
pub(crate) fn drop_all() -> Result<(), Failure> {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    let header = Header {
        version: 0x2008_0522, // _LINUX_CAPABILITY_VERSION_3
        pid: 0,
    };
    let zero = || Data {
        effective: 0,
        permitted: 0,
        inheritable: 0,
    };
    let data = [zero(), zero()];
    // SAFETY: capset reads one header and two data structs (version 3).
    let r = unsafe { libc::syscall(libc::SYS_capset, &header as *const Header, data.as_ptr()) };
    sys::check(r, Step::DropCaps)?;
    Ok(())
}
