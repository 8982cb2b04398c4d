//! The set-id guard: rules a runtime adds to a sandbox's own when the sandbox can reach host
//! files it may own (a writable bind, a passed file or Unix socket), laid into the policy's
//! program where the two fit ([`crate::stack`]), else stacked as a filter of its own (one of
//! the [`crate::host_guard`]s). Such a
//! file stays on the host after the sandbox, where its set-user-ID and set-group-ID bits count
//! (the sandbox's `nosuid` mounts do not follow it): made set-id, it would run as the sandbox's
//! host ids for any host user who can reach it. The guard refuses every mode with either bit,
//! wherever a call can set one:
//!
//! - `chmod`, `fchmod`, `fchmodat`, `fchmodat2`, `mknod`, `mknodat` and `creat`: EPERM when the
//!   mode has `S_ISUID` or `S_ISGID`;
//! - `open` and `openat`: the same, when the flags create a file (`O_CREAT`, `O_TMPFILE`);
//! - `openat2`: ENOSYS, always. Its mode is behind a pointer, where no filter sees it; libc
//!   falls back to `openat`, as for `clone3`;
//! - `io_uring_setup`, `io_uring_enter`, `io_uring_register`: EPERM, always. A ring (made
//!   inside, or passed in) opens and creates files with no system call for a filter to see.
//!
//! Everything else is allowed: the sandbox's policy decides it. Calls of another architecture
//! or ABI (i386's `int 0x80`, x32), whose numbers and arguments the guard does not read, are
//! left to the policy's filter, which kills them, or killed by the guard itself where there is
//! no policy ([`host_guard::ForeignCalls`]). The guard is generated like any policy, without
//! the prelude (which is the policy's).

use crate::action::{Action, Tag};
use crate::arch::Arch;
use crate::bpf::SockFilter;
use crate::codegen::CodegenError;
use crate::host_guard::{self, ForeignCalls, Guards};
use crate::ir::CmpOp;
use crate::resolve::{CheckedArch, CheckedBranch, CheckedCmp, CheckedCond};
use crate::tables::{self, SyscallSpec};

/// `S_ISUID | S_ISGID`.
pub const SET_ID_BITS: u64 = 0o6000;
/// `O_CREAT`, the same on every supported architecture.
const O_CREAT: u64 = 0o100;
/// `__O_TMPFILE`, `O_TMPFILE` without `O_DIRECTORY`: the same on every supported architecture.
const O_TMPFILE_BIT: u64 = 0o20000000;
const EPERM: u16 = 1;
const ENOSYS: u16 = 38;

/// The calls whose mode argument alone sets a file's mode, by the argument's name.
const MODE_CALLS: [&str; 7] = [
    "chmod",
    "fchmod",
    "fchmodat",
    "fchmodat2",
    "mknod",
    "mknodat",
    "creat",
];
/// The calls that set a mode only when their flags create a file.
const CREATING_CALLS: [&str; 2] = ["open", "openat"];
/// The calls that make or drive an io_uring, whose operations no filter sees.
const RING_CALLS: [&str; 3] = ["io_uring_setup", "io_uring_enter", "io_uring_register"];

/// The guard's rules, one line each, in the order of their tags.
pub fn rules() -> Vec<String> {
    let mut rules: Vec<String> = MODE_CALLS
        .iter()
        .map(|c| format!("errno(EPERM) {c} if mode & (S_ISUID | S_ISGID) != 0"))
        .collect();
    rules.extend(CREATING_CALLS.iter().map(|c| {
        format!(
            "errno(EPERM) {c} if flags & (O_CREAT | __O_TMPFILE) != 0 && mode & (S_ISUID | S_ISGID) != 0"
        )
    }));
    rules.push("errno(ENOSYS) openat2".into());
    rules.extend(RING_CALLS.iter().map(|c| format!("errno(EPERM) {c}")));
    rules
}

/// The set-id guard alone, for `arch`: [`host_guard::program`] with [`Guards::SET_ID`].
pub fn program(arch: Arch, foreign: ForeignCalls) -> Result<Vec<SockFilter>, CodegenError> {
    host_guard::program(arch, Guards::SET_ID, foreign)
}

/// Adds the guard's branches to `arches`, each rule's tag drawn from `tag` in the order of
/// [`rules`].
pub(crate) fn add_branches(arches: &mut [CheckedArch], tag: &mut impl FnMut() -> Tag) {
    for call in MODE_CALLS {
        let t = tag();
        add(arches, call, |spec| {
            Some(refuse(set_id_mode(spec)?, Action::Errno(EPERM), t))
        });
    }
    for call in CREATING_CALLS {
        let t = tag();
        add(arches, call, |spec| {
            let creates = masked_nonzero(spec, "flags", O_CREAT | O_TMPFILE_BIT)?;
            let cond = CheckedCond::And(Box::new(creates), Box::new(set_id_mode(spec)?));
            Some(refuse(cond, Action::Errno(EPERM), t))
        });
    }
    let refused = std::iter::once(("openat2", ENOSYS)).chain(RING_CALLS.map(|c| (c, EPERM)));
    for (call, errno) in refused {
        let t = tag();
        add(arches, call, |_| {
            Some(CheckedBranch {
                cond: None,
                action: Action::Errno(errno),
                tag: t,
            })
        });
    }
}

/// Adds `call`'s branch, as `branch` makes it from the call's table entry, on every
/// architecture that has the call.
fn add(
    arches: &mut [CheckedArch],
    call: &str,
    branch: impl Fn(&SyscallSpec) -> Option<CheckedBranch>,
) {
    for checked in arches.iter_mut() {
        let Some(spec) = tables::syscall_by_name(checked.arch, call) else {
            continue;
        };
        if let Some(b) = branch(spec) {
            checked.syscalls.insert(spec.nr, vec![b]);
        }
    }
}

fn refuse(cond: CheckedCond, action: Action, tag: Tag) -> CheckedBranch {
    CheckedBranch {
        cond: Some(cond),
        action,
        tag,
    }
}

/// `mode & (S_ISUID | S_ISGID) != 0`, if the call has a `mode`.
fn set_id_mode(spec: &SyscallSpec) -> Option<CheckedCond> {
    masked_nonzero(spec, "mode", SET_ID_BITS)
}

/// `ARG & mask != 0` for the argument named `arg`, at the width its type has.
fn masked_nonzero(spec: &SyscallSpec, arg: &str, mask: u64) -> Option<CheckedCond> {
    let index = spec.args.iter().position(|a| a.name == arg)?;
    Some(CheckedCond::Cmp(CheckedCmp {
        arg: u8::try_from(index).ok()?,
        ty: spec.args[index].ty,
        mask: Some(mask),
        op: CmpOp::Ne,
        value: 0,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bpf::ret;
    use crate::eval::{self, SeccompData};

    fn verdict(arch: Arch, call: &str, args: [u64; 6]) -> u32 {
        let program = program(arch, ForeignCalls::LeftToPolicy).unwrap();
        let nr = tables::syscall_by_name(arch, call).unwrap().nr;
        let data = SeccompData::new(arch.audit_arch(), nr, args);
        eval::run(&program, &data).unwrap().ret
    }

    const REFUSED: u32 = ret::ERRNO | EPERM as u32;

    #[test]
    fn set_id_modes_are_refused_and_plain_ones_pass() {
        for arch in Arch::ALL {
            for (call, mode_at) in [("fchmod", 1), ("fchmodat", 2), ("mknodat", 2)] {
                for (mode, expected) in [
                    (0o4755, REFUSED),
                    (0o2755, REFUSED),
                    (0o755, ret::ALLOW),
                    // The kernel reads a umode_t: high bits do not hide the set-id ones.
                    (0xffff_ffff_0000_0800, REFUSED),
                    (0x1_0000_0000, ret::ALLOW),
                ] {
                    let mut args = [0; 6];
                    args[mode_at] = mode;
                    assert_eq!(
                        verdict(arch, call, args),
                        expected,
                        "{arch} {call} {mode:o}"
                    );
                }
            }
        }
    }

    #[test]
    fn opening_refuses_a_set_id_mode_only_when_it_creates() {
        for arch in Arch::ALL {
            let openat = |flags: u64, mode: u64| verdict(arch, "openat", [0, 0, flags, mode, 0, 0]);
            assert_eq!(openat(O_CREAT, 0o4755), REFUSED, "{arch}");
            assert_eq!(openat(O_TMPFILE_BIT | 0o2, 0o2700), REFUSED, "{arch}");
            assert_eq!(openat(O_CREAT, 0o755), ret::ALLOW, "{arch}");
            // Without O_CREAT the kernel ignores the mode.
            assert_eq!(openat(0, 0o4755), ret::ALLOW, "{arch}");
            assert_eq!(
                verdict(arch, "openat2", [0; 6]),
                ret::ERRNO | u32::from(ENOSYS),
                "{arch}"
            );
            for ring in RING_CALLS {
                assert_eq!(verdict(arch, ring, [0; 6]), REFUSED, "{arch} {ring}");
            }
            assert_eq!(verdict(arch, "read", [0; 6]), ret::ALLOW, "{arch}");
        }
    }

    #[test]
    fn other_architectures_and_abis_are_left_to_the_policy_or_killed() {
        let chmod = tables::syscall_by_name(Arch::X86_64, "chmod").unwrap().nr;
        let args = [0, 0o4755, 0, 0, 0, 0];
        let foreign = SeccompData::new(0x4000_0003, 15, args); // i386 chmod
        let x32 = SeccompData::new(Arch::X86_64.audit_arch(), chmod | 0x4000_0000, args);
        for (calls, expected) in [
            (ForeignCalls::LeftToPolicy, ret::ALLOW),
            (ForeignCalls::Killed, ret::KILL_PROCESS),
        ] {
            let program = program(Arch::X86_64, calls).unwrap();
            for data in [foreign, x32] {
                let got = eval::run(&program, &data).unwrap().ret;
                assert_eq!(got & ret::ACTION_FULL, expected, "{calls:?} {data:?}");
            }
            // Native calls are judged alike either way.
            let native = SeccompData::new(Arch::X86_64.audit_arch(), chmod, args);
            assert_eq!(eval::run(&program, &native).unwrap().ret, REFUSED);
        }
    }

    #[test]
    fn every_rule_has_its_text() {
        assert_eq!(host_guard::rules(Guards::SET_ID), rules());
        assert_eq!(
            rules().len(),
            MODE_CALLS.len() + CREATING_CALLS.len() + 1 + RING_CALLS.len()
        );
    }
}
