//! The sandbox's capabilities: the limits every process in it inherits, and the sandboxee's
//! empty sets before its exec.
//!
//! The limits (locked securebits, empty bounding and ambient sets, [`limit`]) are set once,
//! before the program: a spare's init sets them ahead of its request, where they cost nothing
//! on the way to a start, and the sandboxee of a fresh init sets them itself, beside init's
//! mounts (see [`super::init::clone_sandboxee`]), where they would otherwise come after init's
//! pivot. Every process of the sandbox but init descends
//! from the sandboxee, so either way all of them have the limits; init never execs, so a full
//! bounding set of its own grants it nothing. [`super::plan::Plan::capabilities_limited`] says
//! which way it goes. A sandboxee that inherited them checks them ([`check_limited`]); every
//! sandboxee then empties its own sets ([`drop_all`]).

use super::raw;
use super::steps::{Failure, Step};
use super::sys;
use crate::first_use::OnceBox;

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

/// The highest capability this kernel knows (`/proc/sys/kernel/cap_last_cap`), read once, in
/// the process that clones inits ([`prepare`]); `None` if it cannot be read.
static LAST_CAP: OnceBox<Option<u32>> = OnceBox::new();

/// Reads what [`limit`] needs to know of the kernel, before any clone: the child only reads it.
pub(crate) fn prepare() {
    LAST_CAP.get_or_init(|| {
        let text = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap").ok();
        Box::new(text.and_then(|t| t.trim().parse().ok().filter(|n| *n < 64)))
    });
}

/// Locks [`SECUREBITS`] and empties the bounding and ambient sets of the calling process, for
/// everything it starts to inherit: no exec in the sandbox can then gain a capability, and no
/// process in it can raise an ambient one. The caller keeps its effective capabilities (the
/// bounding set only caps what an exec grants). Each of the forty-odd bounding-set drops copies
/// the credentials (about 1.4 µs each on the test machine), which is why it matters where this
/// runs. Every capability up to the kernel's last is dropped, and any failure is one; only
/// where the last is not known does the first capability the kernel refuses as unknown end
/// the drops.
pub(crate) fn limit() -> Result<(), Failure> {
    let r = raw::prctl(libc::PR_SET_SECUREBITS, SECUREBITS as libc::c_ulong);
    raw::check(r, Step::Securebits)?;
    let last = LAST_CAP.get().copied().flatten();
    for cap in 0..=last.unwrap_or(63) {
        let r = raw::prctl(libc::PR_CAPBSET_DROP, cap.into());
        if r == -(libc::EINVAL as isize) && last.is_none() {
            break; // past the last capability this kernel knows
        }
        raw::check_at(r, Step::BoundingSet, cap)?;
    }
    let r = raw::prctl(
        libc::PR_CAP_AMBIENT,
        libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
    );
    raw::check(r, Step::AmbientCaps)?;
    Ok(())
}

/// Checks that the calling process has the limits [`limit`] sets: securebits as it locks them,
/// and the bounding set without capability 0 nor the kernel's last. A few reads and no
/// credential copy; a sandboxee that inherited the limits (from a spare's init) fails here
/// instead of running its program with a full bounding set if they did not come with it.
pub(crate) fn check_limited() -> Result<(), Failure> {
    let last = LAST_CAP.get().copied().flatten().unwrap_or(0);
    let held = [0, last]
        .into_iter()
        .any(|cap| raw::prctl(libc::PR_CAPBSET_READ, cap.into()) != 0);
    if raw::prctl(libc::PR_GET_SECUREBITS, 0) != SECUREBITS as isize || held {
        return Err(Failure {
            step: Step::InheritedLimits,
            index: 0,
            errno: libc::EPERM,
        });
    }
    Ok(())
}

/// `capget`/`capset`'s header (`struct __user_cap_header_struct`).
#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

impl CapHeader {
    /// Version 3 (`_LINUX_CAPABILITY_VERSION_3`, two [`CapData`] of 32 capabilities each), of
    /// the calling thread.
    const fn own() -> Self {
        Self {
            version: 0x2008_0522,
            pid: 0,
        }
    }
}

/// One of the two halves of a thread's sets (`struct __user_cap_data_struct`).
#[repr(C)]
#[derive(Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// No capability at all.
const NO_CAPS: [CapData; 2] = [CapData {
    effective: 0,
    permitted: 0,
    inheritable: 0,
}; 2];

/// Empties the calling process's effective, permitted and inheritable sets (the bounding and
/// ambient sets are empty already, see [`limit`]).
pub(crate) fn drop_all() -> Result<(), Failure> {
    let header = CapHeader::own();
    // SAFETY: capset reads one header and two data structs (version 3).
    let r = unsafe {
        libc::syscall(
            libc::SYS_capset,
            &header as *const CapHeader,
            NO_CAPS.as_ptr(),
        )
    };
    sys::check(r, Step::DropCaps)?;
    Ok(())
}

/// `CAP_SYS_PTRACE`'s number (capability numbers are not in the `libc` crate).
pub(crate) const CAP_SYS_PTRACE: u32 = 19;

/// Whether the calling thread has capability `cap` (below 64) in its effective set (`capget`;
/// capabilities are per thread). False if `capget` fails.
pub(crate) fn has_effective(cap: u32) -> bool {
    let mut header = CapHeader::own();
    let mut data = NO_CAPS;
    // SAFETY: capget writes one header and two data structs (version 3).
    let r = unsafe {
        libc::syscall(
            libc::SYS_capget,
            &mut header as *mut CapHeader,
            data.as_mut_ptr(),
        )
    };
    let word = data.get((cap / 32) as usize).map_or(0, |d| d.effective);
    r == 0 && word & (1 << (cap % 32)) != 0
}
