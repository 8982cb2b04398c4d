//! The policy's per-architecture IR rewritten as the peers see rules: for each syscall, each
//! action other than the default with the argument conditions under which it applies, as a
//! disjunction of conjunctions of single comparisons (what seccompiler's `SeccompRule`s and
//! libseccomp's `seccomp_rule_add_array` calls express).

use sandbox_policy::ir::{ArchIr, Cmp, CmpOp, Cond, Decision};
use sandbox_policy::Action;
use std::collections::BTreeMap;

/// Largest number of conjunctions one syscall's condition may expand to.
const MAX_CONJUNCTIONS: usize = 512;

/// A comparison operator as the peers know it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeerOp {
    /// `arg == value`
    Eq,
    /// `arg != value`
    Ne,
    /// `arg < value`
    Lt,
    /// `arg <= value`
    Le,
    /// `arg > value`
    Gt,
    /// `arg >= value`
    Ge,
    /// `arg & mask == value`
    MaskedEq(u64),
}

/// One comparison of one argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerCmp {
    /// Argument index.
    pub arg: u8,
    /// Whether all 64 bits take part (otherwise only the low 32).
    pub wide: bool,
    /// The operator.
    pub op: PeerOp,
    /// The right-hand side.
    pub value: u64,
}

/// Comparisons that must all hold. An empty conjunction always holds.
pub type Conj = Vec<PeerCmp>;

/// The rules of one syscall for one action: the action applies when any conjunction holds.
#[derive(Clone, Debug)]
pub struct ActionRules {
    /// The action.
    pub action: Action,
    /// The alternatives; `[[]]` means unconditionally.
    pub conjs: Vec<Conj>,
}

/// A policy as rules for the peers.
#[derive(Clone, Debug)]
pub struct PeerPolicy {
    /// The action for everything no rule matches.
    pub default: Action,
    /// Syscall number to its rules (actions other than the default only).
    pub syscalls: BTreeMap<u32, Vec<ActionRules>>,
}

impl PeerPolicy {
    /// Rewrites `ir`; fails with the reason when a condition has no peer equivalent.
    pub fn from_ir(ir: &ArchIr) -> Result<PeerPolicy, String> {
        let default = ir.default.action;
        let mut syscalls = BTreeMap::new();
        for (&nr, decision) in &ir.syscalls {
            let rules = decision_rules(decision, default)?;
            if !rules.is_empty() {
                syscalls.insert(nr, rules);
            }
        }
        Ok(PeerPolicy { default, syscalls })
    }
}

/// The rules of one decision, one entry per action that is not the default.
fn decision_rules(decision: &Decision, default: Action) -> Result<Vec<ActionRules>, String> {
    let mut actions: Vec<Action> = match decision {
        Decision::Always(v) => vec![v.action],
        Decision::Branches {
            branches,
            otherwise,
        } => branches
            .iter()
            .map(|b| b.verdict.action)
            .chain([otherwise.action])
            .collect(),
    };
    actions.sort();
    actions.dedup();
    let mut out = Vec::new();
    for action in actions.into_iter().filter(|&a| a != default) {
        let cond = condition_for(decision, action);
        let conjs = simplify(dnf(&cond, false)?);
        if !conjs.is_empty() {
            let mut peer_conjs = Vec::new();
            for conj in &conjs {
                let cmps = conj.iter().map(peer_cmp).collect::<Result<Vec<_>, _>>()?;
                peer_conjs.extend(merge_masks(cmps));
            }
            if !peer_conjs.is_empty() {
                out.push(ActionRules {
                    action,
                    conjs: peer_conjs,
                });
            }
        }
    }
    Ok(out)
}

/// The condition under which `decision` reaches `action`, with first-match order made explicit.
fn condition_for(decision: &Decision, action: Action) -> Cond {
    let never = || Cond::Not(Box::new(Cond::True));
    match decision {
        Decision::Always(v) if v.action == action => Cond::True,
        Decision::Always(_) => never(),
        Decision::Branches {
            branches,
            otherwise,
        } => {
            let mut acc = if otherwise.action == action {
                Cond::True
            } else {
                never()
            };
            for b in branches.iter().rev() {
                acc = if b.verdict.action == action {
                    Cond::Any(vec![b.cond.clone(), acc])
                } else {
                    Cond::All(vec![Cond::Not(Box::new(b.cond.clone())), acc])
                };
            }
            acc
        }
    }
}

/// `cond` (negated when `negate`) in disjunctive normal form over single comparisons.
fn dnf(cond: &Cond, negate: bool) -> Result<Vec<Vec<Cmp>>, String> {
    let out = match (cond, negate) {
        (Cond::True, false) => vec![vec![]],
        (Cond::True, true) => vec![],
        (Cond::Cmp(c), false) => vec![vec![*c]],
        (Cond::Cmp(c), true) => vec![vec![negated(*c)]],
        (Cond::Not(inner), _) => dnf(inner, !negate)?,
        (Cond::All(parts), false) | (Cond::Any(parts), true) => product(parts, negate)?,
        (Cond::Any(parts), false) | (Cond::All(parts), true) => {
            let mut out = Vec::new();
            for p in parts {
                out.extend(dnf(p, negate)?);
            }
            out
        }
    };
    if out.len() > MAX_CONJUNCTIONS {
        return Err(format!("more than {MAX_CONJUNCTIONS} alternatives"));
    }
    Ok(out)
}

/// The conjunction of the parts' normal forms, distributed over their alternatives.
fn product(parts: &[Cond], negate: bool) -> Result<Vec<Vec<Cmp>>, String> {
    let mut acc: Vec<Vec<Cmp>> = vec![vec![]];
    for p in parts {
        let alts = dnf(p, negate)?;
        let mut next = Vec::with_capacity(acc.len() * alts.len());
        for a in &acc {
            for b in &alts {
                next.push(a.iter().chain(b).copied().collect());
            }
        }
        if next.len() > MAX_CONJUNCTIONS {
            return Err(format!("more than {MAX_CONJUNCTIONS} alternatives"));
        }
        acc = next;
    }
    Ok(acc)
}

/// The comparison that holds exactly when `c` does not.
fn negated(c: Cmp) -> Cmp {
    Cmp {
        op: c.op.negated(),
        ..c
    }
}

/// Drops duplicate comparisons, self-contradictory conjunctions and conjunctions implied by
/// shorter ones.
fn simplify(conjs: Vec<Vec<Cmp>>) -> Vec<Vec<Cmp>> {
    let mut cleaned: Vec<Vec<Cmp>> = conjs
        .into_iter()
        .map(|mut c| {
            c.sort();
            c.dedup();
            c
        })
        .filter(|c| !c.iter().any(|x| c.contains(&negated(*x))))
        .collect();
    cleaned.sort_by_key(Vec::len);
    let mut out: Vec<Vec<Cmp>> = Vec::new();
    for c in cleaned {
        if !out.iter().any(|kept| kept.iter().all(|x| c.contains(x))) {
            out.push(c);
        }
    }
    out
}

/// `c` in the peers' vocabulary (which has masks only for equality).
fn peer_cmp(c: &Cmp) -> Result<PeerCmp, String> {
    let width = if c.wide { u64::MAX } else { 0xffff_ffff };
    let masked = c.mask & width != width;
    let op = match (c.op, masked) {
        (CmpOp::Eq, false) => PeerOp::Eq,
        (CmpOp::Ne, false) => PeerOp::Ne,
        (CmpOp::Lt, false) => PeerOp::Lt,
        (CmpOp::Le, false) => PeerOp::Le,
        (CmpOp::Gt, false) => PeerOp::Gt,
        (CmpOp::Ge, false) => PeerOp::Ge,
        (CmpOp::Eq, true) => PeerOp::MaskedEq(c.mask & width),
        // One bit: `x & bit != 0` is `x & bit == bit`, and the other way round.
        (CmpOp::Ne, true) if c.mask.count_ones() == 1 && (c.value == 0 || c.value == c.mask) => {
            return Ok(PeerCmp {
                arg: c.arg,
                wide: c.wide,
                op: PeerOp::MaskedEq(c.mask),
                value: c.mask ^ c.value,
            });
        }
        (op, true) => {
            return Err(format!(
                "`arg{} & {:#x} {} {:#x}` has no masked equivalent",
                c.arg,
                c.mask,
                op.symbol(),
                c.value
            ))
        }
    };
    Ok(PeerCmp {
        arg: c.arg,
        wide: c.wide,
        op,
        value: c.value,
    })
}

/// Joins masked equalities on the same argument into one (`x & a == b && x & c == d` is
/// `x & (a|c) == (b|d)` when they agree on shared bits), since libseccomp takes one comparison
/// per argument in a rule. `None` when they contradict each other.
fn merge_masks(cmps: Vec<PeerCmp>) -> Option<Conj> {
    let mut out: Conj = Vec::with_capacity(cmps.len());
    for c in cmps {
        let PeerOp::MaskedEq(mask) = c.op else {
            out.push(c);
            continue;
        };
        let same = out
            .iter_mut()
            .find(|o| o.arg == c.arg && o.wide == c.wide && matches!(o.op, PeerOp::MaskedEq(_)));
        match same {
            Some(o) => {
                let PeerOp::MaskedEq(m) = o.op else {
                    unreachable!("matched a masked equality")
                };
                if o.value & mask != c.value & m {
                    return None;
                }
                o.op = PeerOp::MaskedEq(m | mask);
                o.value |= c.value;
            }
            None => out.push(c),
        }
    }
    Some(out)
}

/// Arguments under which `ir` reaches `Allow` for `nr`, if the search finds any: all zero, or
/// values built from the comparisons of one alternative of the allow condition.
pub fn allow_args(ir: &ArchIr, nr: u32) -> Option<[u64; 6]> {
    let allows = |args: &[u64; 6]| ir.decide(nr, args).action == Action::Allow;
    if allows(&[0; 6]) {
        return Some([0; 6]);
    }
    let decision = ir.syscalls.get(&nr)?;
    let conjs = dnf(&condition_for(decision, Action::Allow), false).ok()?;
    conjs.iter().find_map(|conj| {
        let mut args = [0u64; 6];
        for arg in 0..6u8 {
            let cmps: Vec<&Cmp> = conj.iter().filter(|c| c.arg == arg).collect();
            let found = candidates(&cmps)
                .into_iter()
                .find(|&v| cmps.iter().all(|c| c.op.holds(c.operand(v), c.value)))?;
            args[usize::from(arg)] = found;
        }
        allows(&args).then_some(args)
    })
}

/// Values worth trying for one argument constrained by `cmps`.
fn candidates(cmps: &[&Cmp]) -> Vec<u64> {
    let mut out = vec![0, u64::MAX, 0xffff_ffff];
    for c in cmps {
        out.extend([c.value, c.value.wrapping_add(1), c.value.wrapping_sub(1)]);
    }
    out
}
