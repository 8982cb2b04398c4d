//! Lowering: the checked policy becomes, for each architecture, the IR the code generator
//! takes. Conditions on typed arguments become unsigned comparisons of the bits the kernel
//! uses: 16- and 32-bit arguments compare their low word only, 64-bit ones both words, and
//! signed ordering (`fd >= 0` on an `int`) is rewritten into unsigned comparisons around the
//! sign bit, so the code generator only ever needs unsigned operators.

use crate::action::{Tag, Verdict};
use crate::ir::{ArchIr, Branch, Cmp, CmpOp, Cond, Decision};
use crate::resolve::{
    truncate, CheckedArch, CheckedBranch, CheckedCmp, CheckedCond, CheckedPolicy,
};

/// Lowers every architecture of a checked policy, in [`crate::Arch::ALL`] order.
pub fn lower(policy: &CheckedPolicy) -> Vec<ArchIr> {
    let default = Verdict::new(policy.default, Tag::DEFAULT);
    policy
        .arches
        .iter()
        .map(|a| lower_arch(a, default))
        .collect()
}

fn lower_arch(checked: &CheckedArch, default: Verdict) -> ArchIr {
    let syscalls = checked
        .syscalls
        .iter()
        .map(|(nr, branches)| (*nr, lower_decision(branches, default)))
        .filter(|(_, d)| *d != Decision::Always(default))
        .collect();
    ArchIr {
        arch: checked.arch,
        default,
        syscalls,
    }
}

/// First-match branches become a [`Decision`]: an unconditional branch ends the list, branches
/// that can never hold are dropped, and trailing branches that give the fall-through verdict
/// anyway are dropped too.
fn lower_decision(branches: &[CheckedBranch], default: Verdict) -> Decision {
    let mut out: Vec<Branch> = Vec::new();
    let mut otherwise = default;
    for b in branches {
        let cond = b.cond.as_ref().map_or(Cond::True, lower_cond);
        if is_false(&cond) {
            continue;
        }
        if cond == Cond::True {
            otherwise = b.verdict();
            break;
        }
        out.push(Branch {
            cond,
            verdict: b.verdict(),
        });
    }
    while out.last().is_some_and(|b| b.verdict == otherwise) {
        out.pop();
    }
    if out.is_empty() {
        Decision::Always(otherwise)
    } else {
        Decision::Branches {
            branches: out,
            otherwise,
        }
    }
}

fn false_cond() -> Cond {
    Cond::Any(Vec::new())
}

fn is_false(c: &Cond) -> bool {
    matches!(c, Cond::Any(v) if v.is_empty())
}

fn not(c: Cond) -> Cond {
    match c {
        Cond::True => false_cond(),
        c if is_false(&c) => Cond::True,
        Cond::Not(inner) => *inner,
        c => Cond::Not(Box::new(c)),
    }
}

fn all(parts: Vec<Cond>) -> Cond {
    let mut out = Vec::new();
    for p in parts {
        match p {
            Cond::True => {}
            p if is_false(&p) => return false_cond(),
            Cond::All(inner) => out.extend(inner),
            p => out.push(p),
        }
    }
    match out.len() {
        0 => Cond::True,
        1 => out.pop().unwrap_or(Cond::True),
        _ => Cond::All(out),
    }
}

fn any(parts: Vec<Cond>) -> Cond {
    let mut out = Vec::new();
    for p in parts {
        match p {
            Cond::True => return Cond::True,
            p if is_false(&p) => {}
            Cond::Any(inner) => out.extend(inner),
            p => out.push(p),
        }
    }
    match out.len() {
        1 => out.pop().unwrap_or_else(false_cond),
        _ => Cond::Any(out),
    }
}

fn lower_cond(c: &CheckedCond) -> Cond {
    match c {
        CheckedCond::Cmp(cmp) => lower_cmp(cmp),
        CheckedCond::Not(a) => not(lower_cond(a)),
        CheckedCond::And(a, b) => all(vec![lower_cond(a), lower_cond(b)]),
        CheckedCond::Or(a, b) => any(vec![lower_cond(a), lower_cond(b)]),
    }
}

/// An unsigned comparison of the argument's low `bits`, folded when its result is fixed.
fn unsigned(arg: u8, bits: u32, mask: Option<u64>, op: CmpOp, value: u64) -> Cond {
    let width_mask = if bits == 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    let mask = mask.unwrap_or(u64::MAX) & width_mask;
    // The operand ranges over [0, mask]: fold comparisons whose result is fixed.
    let fixed = match op {
        CmpOp::Ge if value == 0 => Some(true),
        CmpOp::Ge if value > mask => Some(false),
        CmpOp::Le if value >= mask => Some(true),
        CmpOp::Lt if value == 0 => Some(false),
        CmpOp::Lt if value > mask => Some(true),
        CmpOp::Gt if value >= mask => Some(false),
        CmpOp::Eq | CmpOp::Ne if value & !mask != 0 => Some(op == CmpOp::Ne),
        _ => None,
    };
    match fixed {
        Some(true) => return Cond::True,
        Some(false) => return false_cond(),
        None => {}
    }
    Cond::Cmp(Cmp {
        arg,
        wide: bits == 64,
        mask: if bits == 64 { mask } else { mask & 0xffff_ffff },
        op,
        value,
    })
}

fn lower_cmp(c: &CheckedCmp) -> Cond {
    let bits = c.ty.bits();
    let ordering = !matches!(c.op, CmpOp::Eq | CmpOp::Ne);
    let value = truncate(c.value, bits);
    if !(c.ty.signed() && ordering && c.mask.is_none()) {
        return unsigned(c.arg, bits, c.mask, c.op, value);
    }
    // Signed ordering. With S the sign bit, x >=s v holds exactly when
    //   v >= 0: x <u S && x >=u v        (x is non-negative and at least v)
    //   v <  0: x <u S || x >=u v        (x is non-negative, or negative and at least v)
    // and the other operators follow: x >s v is x >=s v+1, x <s v is !(x >=s v), x <=s v is
    // !(x >=s v+1); for v the largest positive value, x >s v never holds.
    let sign = 1u64 << (bits - 1);
    let ge = |v: u64| -> Cond {
        let non_negative = unsigned(c.arg, bits, None, CmpOp::Lt, sign);
        let at_least = unsigned(c.arg, bits, None, CmpOp::Ge, v);
        if v < sign {
            all(vec![non_negative, at_least])
        } else {
            any(vec![non_negative, at_least])
        }
    };
    let gt = |v: u64| -> Cond {
        if v == sign - 1 {
            false_cond()
        } else {
            let width_mask = if bits == 64 {
                u64::MAX
            } else {
                (1u64 << bits) - 1
            };
            ge(v.wrapping_add(1) & width_mask)
        }
    };
    match c.op {
        CmpOp::Ge => ge(value),
        CmpOp::Gt => gt(value),
        CmpOp::Lt => not(ge(value)),
        CmpOp::Le => not(gt(value)),
        // Equality of bit patterns needs no rewrite (handled above).
        CmpOp::Eq | CmpOp::Ne => unsigned(c.arg, bits, None, c.op, value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tables::ArgType;

    /// Exhaustive check of the signed rewrite against the checked meaning on boundary values.
    #[test]
    fn signed_rewrite_matches_meaning() {
        let probes: Vec<u64> = [
            0u64,
            1,
            2,
            0x7fff_fffe,
            0x7fff_ffff,
            0x8000_0000,
            0x8000_0001,
            0xffff_ff9c,
            0xffff_fffe,
            0xffff_ffff,
            1 << 32,
            (1 << 32) | 5,
            0x7fff_ffff_ffff_ffff,
            0x8000_0000_0000_0000,
            0xffff_ffff_ffff_ff9c,
            u64::MAX,
        ]
        .to_vec();
        let values: Vec<i128> = vec![
            0,
            1,
            -1,
            -100,
            0x7fff_ffff,
            -0x8000_0000,
            0x8000_0000,
            0xffff_ffff,
            i128::from(i64::MAX),
            i128::from(i64::MIN),
        ];
        for ty in [ArgType::I32, ArgType::I64, ArgType::U32, ArgType::U64] {
            for op in [
                CmpOp::Lt,
                CmpOp::Le,
                CmpOp::Gt,
                CmpOp::Ge,
                CmpOp::Eq,
                CmpOp::Ne,
            ] {
                for &value in &values {
                    let bits = ty.bits();
                    if value < -(1i128 << (bits - 1)) || value > (1i128 << bits) - 1 {
                        continue;
                    }
                    let cmp = CheckedCmp {
                        arg: 0,
                        ty,
                        mask: None,
                        op,
                        value,
                    };
                    let lowered = lower_cmp(&cmp);
                    for &x in &probes {
                        let args = [x, 0, 0, 0, 0, 0];
                        assert_eq!(
                            lowered.holds(&args),
                            cmp.holds(&args),
                            "{ty:?} x={x:#x} {op:?} {value}: {lowered:?}"
                        );
                    }
                }
            }
        }
    }
}
