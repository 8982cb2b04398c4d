//! Rules the compiler adds to every policy, visible in the disassembly and in `explain`.
//! (The architecture and x32 checks belong to code generation: they come before the number is
//! looked at.)

use super::{CheckedArch, CheckedBranch, CheckedCmp, CheckedCond};
use crate::action::{Action, Tag};
use crate::compiled::RuleMeta;
use crate::ir::CmpOp;
use crate::tables::{self, ArgType};

/// The value a sandbox runtime puts in the sixth argument register of its own
/// `execveat(fd, "", argv, envp, AT_EMPTY_PATH)`, which the kernel ignores (execveat takes
/// five arguments), so that its one exec can be recognised without the policy allowing exec.
pub const RUNTIME_EXEC_MAGIC: u64 = 0x4558_4543_5342_4f58; // "SBOXEXEC"

const ENOSYS: u16 = 38;

/// `clone3` passes its flags behind a pointer, where seccomp cannot see them: unless the policy
/// names it, it fails with ENOSYS so that libc falls back to `clone`, whose flags rules can check.
pub(super) fn add_clone3_enosys(rules: &mut Vec<RuleMeta>, arches: &mut [CheckedArch]) {
    let Some(tag) = Tag::rule(rules.len()) else {
        return;
    };
    let mut used = false;
    for checked in arches.iter_mut() {
        if let Some(spec) = tables::syscall_by_name(checked.arch, "clone3") {
            checked.syscalls.entry(spec.nr).or_insert_with(|| {
                used = true;
                vec![CheckedBranch {
                    cond: None,
                    action: Action::Errno(ENOSYS),
                    tag,
                }]
            });
        }
    }
    if used {
        rules.push(RuleMeta {
            location: "prelude".into(),
            text: "errno(ENOSYS) clone3".into(),
        });
    }
}

/// An `execveat` carrying [`RUNTIME_EXEC_MAGIC`] in its (unused) sixth register is sent to
/// the runtime with tag [`Tag::RUNTIME_EXEC`] before any of the policy's rules: the runtime's
/// monitor lets exactly its own exec through and answers any later one as the policy would.
/// No user rule can look at that register (the prototype has five arguments), so the policy's
/// meaning for every other call is unchanged, and the check costs nothing on any other
/// syscall's path. Without a runtime the branch kills, the safe direction.
pub(super) fn add_runtime_exec_check(arches: &mut [CheckedArch]) {
    for checked in arches.iter_mut() {
        let Some(spec) = tables::syscall_by_name(checked.arch, "execveat") else {
            continue;
        };
        let branch = CheckedBranch {
            cond: Some(CheckedCond::Cmp(CheckedCmp {
                arg: 5,
                ty: ArgType::U64,
                mask: None,
                op: CmpOp::Eq,
                value: i128::from(RUNTIME_EXEC_MAGIC),
            })),
            action: Action::Kill,
            tag: Tag::RUNTIME_EXEC,
        };
        checked
            .syscalls
            .entry(spec.nr)
            .or_default()
            .insert(0, branch);
    }
}
