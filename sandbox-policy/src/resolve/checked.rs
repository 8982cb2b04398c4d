//! The checked policy: every name resolved to a number for each architecture, every argument to
//! its index and kernel type, shadowed rules removed. Its interpreter, [`CheckedPolicy::decide`],
//! is the policy's meaning, written as plainly as possible (signed comparisons on signed types
//! done with signed integers): the generated filter must agree with it on every input.

use crate::action::{Action, Tag, Verdict};
use crate::arch::{is_x32_call, Arch};
use crate::compiled::RuleMeta;
use crate::ir::CmpOp;
use crate::tables::ArgType;
use std::collections::BTreeMap;

/// `args[arg] [& mask] OP value` on an argument of known type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckedCmp {
    /// Argument index.
    pub arg: u8,
    /// The kernel's type for it: how many bits count and whether ordering is signed.
    pub ty: ArgType,
    /// The mask, already known to fit the type's width.
    pub mask: Option<u64>,
    /// The operator.
    pub op: CmpOp,
    /// The constant, known to fit the width as a signed or unsigned number.
    pub value: i128,
}

/// Truncates a value to `bits` as the kernel does (two's complement).
pub fn truncate(value: i128, bits: u32) -> u64 {
    let modulus = 1i128 << bits;
    value.rem_euclid(modulus) as u64
}

/// Reads the low `bits` of a pattern as a signed number.
pub fn sign_extend(pattern: u64, bits: u32) -> i128 {
    let pattern = i128::from(pattern) & ((1i128 << bits) - 1);
    if pattern >= 1i128 << (bits - 1) {
        pattern - (1i128 << bits)
    } else {
        pattern
    }
}

impl CheckedCmp {
    /// Whether the comparison holds, following C semantics on the argument's kernel type.
    pub fn holds(&self, args: &[u64; 6]) -> bool {
        let bits = self.ty.bits();
        let raw = truncate(i128::from(args[usize::from(self.arg)]), bits);
        if self.mask.is_none() && self.ty.signed() {
            let lhs = sign_extend(raw, bits);
            let rhs = sign_extend(truncate(self.value, bits), bits);
            return match self.op {
                CmpOp::Eq => lhs == rhs,
                CmpOp::Ne => lhs != rhs,
                CmpOp::Lt => lhs < rhs,
                CmpOp::Le => lhs <= rhs,
                CmpOp::Gt => lhs > rhs,
                CmpOp::Ge => lhs >= rhs,
            };
        }
        let lhs = raw & self.mask.unwrap_or(u64::MAX);
        self.op.holds(lhs, truncate(self.value, bits))
    }
}

/// A resolved condition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckedCond {
    /// One comparison.
    Cmp(CheckedCmp),
    /// `!a`
    Not(Box<CheckedCond>),
    /// `a && b`
    And(Box<CheckedCond>, Box<CheckedCond>),
    /// `a || b`
    Or(Box<CheckedCond>, Box<CheckedCond>),
}

impl CheckedCond {
    /// `self && other`.
    pub(crate) fn and(self, other: CheckedCond) -> CheckedCond {
        CheckedCond::And(Box::new(self), Box::new(other))
    }

    /// `!self`.
    pub(crate) fn negated(self) -> CheckedCond {
        CheckedCond::Not(Box::new(self))
    }

    /// Evaluates the condition.
    pub fn holds(&self, args: &[u64; 6]) -> bool {
        match self {
            CheckedCond::Cmp(c) => c.holds(args),
            CheckedCond::Not(c) => !c.holds(args),
            CheckedCond::And(a, b) => a.holds(args) && b.holds(args),
            CheckedCond::Or(a, b) => a.holds(args) || b.holds(args),
        }
    }

    /// Whether the condition holds for every call whose argument `index` is `value`
    /// (`Some(true)`), for none of them (`Some(false)`), or depends on the other arguments
    /// (`None`). Comparisons on other arguments read as unknown, in three-valued logic, so a
    /// known answer is always right, though some conditions that do not depend on them stay
    /// unknown (`fd == 1 || fd != 1`).
    pub fn holds_given(&self, index: usize, value: u64) -> Option<bool> {
        match self {
            CheckedCond::Cmp(c) if usize::from(c.arg) == index => {
                let mut args = [0u64; 6];
                args[index] = value;
                Some(c.holds(&args))
            }
            CheckedCond::Cmp(_) => None,
            CheckedCond::Not(c) => c.holds_given(index, value).map(|h| !h),
            CheckedCond::And(a, b) => {
                match (a.holds_given(index, value), b.holds_given(index, value)) {
                    (Some(false), _) | (_, Some(false)) => Some(false),
                    (Some(true), Some(true)) => Some(true),
                    _ => None,
                }
            }
            CheckedCond::Or(a, b) => {
                match (a.holds_given(index, value), b.holds_given(index, value)) {
                    (Some(true), _) | (_, Some(true)) => Some(true),
                    (Some(false), Some(false)) => Some(false),
                    _ => None,
                }
            }
        }
    }
}

/// One rule's effect on one syscall.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckedBranch {
    /// The condition; `None` for an unconditional rule.
    pub cond: Option<CheckedCond>,
    /// The action.
    pub action: Action,
    /// The rule's tag (index + 1 in [`CheckedPolicy::rules`]).
    pub tag: Tag,
}

impl CheckedBranch {
    /// The verdict this branch gives.
    pub fn verdict(&self) -> Verdict {
        Verdict::new(self.action, self.tag)
    }
}

/// The policy for one architecture.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckedArch {
    /// The architecture.
    pub arch: Arch,
    /// For each syscall number the policy names, its branches in the order they apply.
    pub syscalls: BTreeMap<u32, Vec<CheckedBranch>>,
}

impl CheckedArch {
    /// One entry per architecture, in [`Arch::ALL`] order, naming no syscall yet.
    pub fn none_named() -> Vec<CheckedArch> {
        Arch::ALL
            .iter()
            .map(|&arch| CheckedArch {
                arch,
                syscalls: BTreeMap::new(),
            })
            .collect()
    }
}

/// A fully checked policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckedPolicy {
    /// The default action.
    pub default: Action,
    /// Every rule, numbered by tag.
    pub rules: Vec<RuleMeta>,
    /// One entry per architecture, in [`Arch::ALL`] order.
    pub arches: Vec<CheckedArch>,
}

/// What decided a call, as the policy's meaning says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decided {
    /// The verdict.
    pub verdict: Verdict,
    /// The rule that decided, or `None` for the default and the prelude's checks.
    pub rule: Option<usize>,
}

impl CheckedPolicy {
    /// The policy for `arch`.
    pub fn arch(&self, arch: Arch) -> &CheckedArch {
        self.arches
            .iter()
            .find(|a| a.arch == arch)
            .unwrap_or(&self.arches[0])
    }

    /// The policy's meaning: the verdict for a call on `arch` whose `seccomp_data` carries
    /// `audit_arch`, `nr` and `args`.
    pub fn decide(&self, arch: Arch, audit_arch: u32, nr: u32, args: &[u64; 6]) -> Decided {
        if audit_arch != arch.audit_arch() {
            return Decided {
                verdict: Verdict::new(Action::Kill, Tag::ARCH),
                rule: None,
            };
        }
        if is_x32_call(audit_arch, nr) {
            return Decided {
                verdict: Verdict::new(Action::Kill, Tag::X32),
                rule: None,
            };
        }
        let branches = self.arch(arch).syscalls.get(&nr).map(Vec::as_slice);
        for b in branches.unwrap_or_default() {
            if b.cond.as_ref().is_none_or(|c| c.holds(args)) {
                return Decided {
                    verdict: b.verdict(),
                    rule: b.tag.rule_index(),
                };
            }
        }
        Decided {
            verdict: Verdict::new(self.default, Tag::DEFAULT),
            rule: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_ints_compare_as_the_kernel_sees_them() {
        let ge0 = CheckedCmp {
            arg: 0,
            ty: ArgType::I32,
            mask: None,
            op: CmpOp::Ge,
            value: 0,
        };
        assert!(ge0.holds(&[5, 0, 0, 0, 0, 0]));
        assert!(!ge0.holds(&[0xffff_ff9c, 0, 0, 0, 0, 0]));
        assert!(!ge0.holds(&[0xffff_ffff_ffff_ff9c, 0, 0, 0, 0, 0]));
        // High bits are ignored for an int: 1 << 32 | 5 is 5.
        assert!(ge0.holds(&[(1 << 32) | 5, 0, 0, 0, 0, 0]));
        let at_fdcwd = CheckedCmp {
            op: CmpOp::Eq,
            value: -100,
            ..ge0
        };
        assert!(at_fdcwd.holds(&[0xffff_ff9c, 0, 0, 0, 0, 0]));
        assert!(at_fdcwd.holds(&[0xffff_ffff_ffff_ff9c, 0, 0, 0, 0, 0]));
    }

    #[test]
    fn truncation_and_sign_extension() {
        assert_eq!(truncate(-1, 32), 0xffff_ffff);
        assert_eq!(truncate(-1, 64), u64::MAX);
        assert_eq!(sign_extend(0xffff_ff9c, 32), -100);
        assert_eq!(sign_extend(0x7fff_ffff, 32), 0x7fff_ffff);
    }
}
