//! Normalised decisions: what the code for one syscall number has to do, reduced to return
//! values (tags that do not change the returned word are forgotten) and conditions with every
//! comparison whose outcome is fixed folded away. Two numbers whose normalised decisions are
//! equal can share one range and one block of code.

use crate::bpf::ret;
use crate::ir::{Cmp, CmpOp, Cond, Decision};

/// A condition after constant folding and flattening.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum SCond {
    /// A condition whose outcome does not depend on the arguments.
    Const(bool),
    /// One comparison that can go either way.
    Cmp(Cmp),
    /// Negation.
    Not(Box<SCond>),
    /// Every part holds; at least two parts, none an `All`.
    All(Vec<SCond>),
    /// Some part holds; at least two parts, none an `Any`.
    Any(Vec<SCond>),
}

/// What the code for a syscall number does.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum LeafKey {
    /// Return this value whatever the arguments.
    Ret(u32),
    /// Look at the arguments.
    Args(ArgsLeaf),
}

/// First-match branches over argument conditions.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct ArgsLeaf {
    /// Conditions (never constant) and the value returned when each is the first to hold.
    pub branches: Vec<(SCond, u32)>,
    /// The value returned when none holds.
    pub otherwise: u32,
}

impl LeafKey {
    /// Whether some call reaching this leaf goes ahead (allow or log).
    pub(crate) fn permits(&self) -> bool {
        match self {
            LeafKey::Ret(v) => ret_permits(*v),
            LeafKey::Args(a) => {
                ret_permits(a.otherwise) || a.branches.iter().any(|(_, v)| ret_permits(*v))
            }
        }
    }
}

/// Whether a return value lets the call run.
pub(crate) fn ret_permits(value: u32) -> bool {
    matches!(value & ret::ACTION_FULL, ret::ALLOW | ret::LOG)
}

/// The outcome of `operand OP value` when it is the same for every operand that `operand & mask`
/// can produce (operands lie in `0..=mask` and have no bit outside `mask`).
pub(crate) fn const_cmp(op: CmpOp, mask: u64, value: u64) -> Option<bool> {
    if mask == 0 {
        return Some(op.holds(0, value));
    }
    let outside = value & !mask != 0;
    match op {
        CmpOp::Eq if outside => Some(false),
        CmpOp::Ne if outside => Some(true),
        CmpOp::Gt if value >= mask => Some(false),
        CmpOp::Ge if value == 0 => Some(true),
        CmpOp::Ge if value > mask => Some(false),
        CmpOp::Lt if value == 0 => Some(false),
        CmpOp::Lt if value > mask => Some(true),
        CmpOp::Le if value >= mask => Some(true),
        _ => None,
    }
}

/// Normalises a comparison: narrow ones keep only the low 32 bits of the mask; comparisons with
/// a fixed outcome become constants.
fn simplify_cmp(c: &Cmp) -> SCond {
    let mut c = *c;
    if !c.wide {
        c.mask &= 0xffff_ffff;
    }
    match const_cmp(c.op, c.mask, c.value) {
        Some(b) => SCond::Const(b),
        None => SCond::Cmp(c),
    }
}

/// Folds constants and flattens nested `All`/`Any`/`Not`.
pub(crate) fn simplify(cond: &Cond) -> SCond {
    match cond {
        Cond::True => SCond::Const(true),
        Cond::Cmp(c) => simplify_cmp(c),
        Cond::Not(inner) => match simplify(inner) {
            SCond::Const(b) => SCond::Const(!b),
            SCond::Not(x) => *x,
            other => SCond::Not(Box::new(other)),
        },
        Cond::All(parts) => junction(parts, true),
        Cond::Any(parts) => junction(parts, false),
    }
}

/// `All` (when `all`) or `Any` of `parts`, simplified.
fn junction(parts: &[Cond], all: bool) -> SCond {
    let mut out = Vec::new();
    for part in parts {
        match simplify(part) {
            // The neutral element disappears; the absorbing one decides.
            SCond::Const(b) if b == all => {}
            SCond::Const(b) => return SCond::Const(b),
            SCond::All(inner) if all => out.extend(inner),
            SCond::Any(inner) if !all => out.extend(inner),
            other => out.push(other),
        }
    }
    match out.len() {
        0 => SCond::Const(all),
        1 => out.pop().unwrap_or(SCond::Const(all)),
        _ if all => SCond::All(out),
        _ => SCond::Any(out),
    }
}

/// Normalises a decision.
pub(crate) fn normalize(decision: &Decision) -> LeafKey {
    let (branches, mut otherwise) = match decision {
        Decision::Always(v) => return LeafKey::Ret(v.ret_value()),
        Decision::Branches {
            branches,
            otherwise,
        } => (branches, otherwise.ret_value()),
    };
    let mut out = Vec::new();
    // Looked up in a set: a policy may have tens of thousands of branches for one call.
    let mut tested = std::collections::BTreeSet::new();
    for branch in branches {
        let value = branch.verdict.ret_value();
        match simplify(&branch.cond) {
            SCond::Const(false) => {}
            SCond::Const(true) => {
                // Later branches can never be reached.
                otherwise = value;
                break;
            }
            // A condition an earlier branch already tested cannot be the first to hold.
            cond if tested.contains(&cond) => {}
            cond => {
                tested.insert(cond.clone());
                out.push((cond, value));
            }
        }
    }
    // A last branch returning what falling through returns changes nothing.
    while out.last().is_some_and(|(_, v)| *v == otherwise) {
        out.pop();
    }
    if out.is_empty() {
        LeafKey::Ret(otherwise)
    } else {
        LeafKey::Args(ArgsLeaf {
            branches: out,
            otherwise,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::{Action, Tag, Verdict};
    use crate::ir::Branch;

    fn cmp(op: CmpOp, mask: u64, value: u64, wide: bool) -> Cond {
        Cond::Cmp(Cmp {
            arg: 0,
            wide,
            mask,
            op,
            value,
        })
    }

    #[test]
    fn const_cmp_is_sound() {
        let ops = CmpOp::ALL;
        for mask in [0u64, 1, 2, 3, 6, 7, 8] {
            for value in 0..12u64 {
                for op in ops {
                    if let Some(b) = const_cmp(op, mask, value) {
                        for x in 0..32u64 {
                            assert_eq!(op.holds(x & mask, value), b, "{op:?} {mask} {value}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn folds_and_flattens() {
        let a = cmp(CmpOp::Eq, u64::MAX, 1, true);
        let never = cmp(CmpOp::Gt, 0xff, 0xff, false);
        let c = Cond::All(vec![
            Cond::True,
            Cond::All(vec![a.clone(), a.clone()]),
            Cond::Not(Box::new(never.clone())),
        ]);
        assert!(matches!(simplify(&c), SCond::All(v) if v.len() == 2));
        assert_eq!(
            simplify(&Cond::Any(vec![never.clone(), never])),
            SCond::Const(false)
        );
        // Narrow comparisons ignore the mask's high word.
        assert_eq!(
            simplify(&cmp(CmpOp::Eq, 0xffff_ffff_0000_0000, 0, false)),
            SCond::Const(true)
        );
    }

    #[test]
    fn normalises_decisions() {
        let allow = Verdict::new(Action::Allow, Tag(3));
        let deny = Verdict::new(Action::Errno(1), Tag(4));
        let d = Decision::Branches {
            branches: vec![
                Branch {
                    cond: cmp(CmpOp::Eq, u64::MAX, 5, true),
                    verdict: allow,
                },
                Branch {
                    cond: cmp(CmpOp::Eq, u64::MAX, 6, true),
                    verdict: deny,
                },
            ],
            otherwise: Verdict::new(Action::Errno(1), Tag::DEFAULT),
        };
        match normalize(&d) {
            LeafKey::Args(a) => {
                assert_eq!(a.branches.len(), 1);
                assert_eq!(a.otherwise, ret::ERRNO | 1);
            }
            other => panic!("{other:?}"),
        }
        let always = Decision::Branches {
            branches: vec![Branch {
                cond: Cond::True,
                verdict: allow,
            }],
            otherwise: deny,
        };
        assert_eq!(normalize(&always), LeafKey::Ret(ret::ALLOW));
    }

    #[test]
    fn a_condition_tested_before_is_dropped_whatever_it_returns() {
        // Two groups allowing the same call under the same condition, then one denying it:
        // only the first test can decide.
        let c = cmp(CmpOp::Eq, 0x243, 0, false);
        let branch = |verdict| Branch {
            cond: c.clone(),
            verdict,
        };
        let d = Decision::Branches {
            branches: vec![
                branch(Verdict::new(Action::Allow, Tag(3))),
                branch(Verdict::new(Action::Allow, Tag(5))),
                branch(Verdict::new(Action::Errno(1), Tag(6))),
            ],
            otherwise: Verdict::new(Action::Kill, Tag::DEFAULT),
        };
        match normalize(&d) {
            LeafKey::Args(a) => assert_eq!(a.branches, vec![(simplify(&c), ret::ALLOW)]),
            other => panic!("{other:?}"),
        }
    }
}
