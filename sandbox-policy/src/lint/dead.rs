//! Rules that never apply though they have a condition, which the resolver cannot see: a
//! condition no call meets (`fd == 1 && fd == 2`, `count > 5 && count < 3`), or one whose
//! every call an earlier rule for the same syscall decides (`allow read if fd < 10;` then
//! `kill read if fd == 5;`). Decided exactly by [`crate::satisfiable`], within its bounds; a
//! rule it cannot decide draws nothing.

use crate::action::Tag;
use crate::arch::Arch;
use crate::compiled::RuleMeta;
use crate::diag::Diagnostic;
use crate::resolve::{CheckedBranch, CheckedCond, CheckedPolicy, Expanded, PRELUDE_LOCATION};
use crate::satisfiable::{can_hold, Budget};
use crate::tables;
use std::collections::{BTreeMap, BTreeSet};

/// The most earlier conditional rules weighed against a rule for one syscall: past that, only
/// the rule's own condition is decided.
const MAX_EARLIER: usize = 32;

/// Why a rule never applies to a syscall on an architecture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dead {
    /// No call meets its condition.
    NeverHolds,
    /// Every call that meets it meets an earlier rule's condition first.
    DecidedEarlier,
}

/// For one rule: each syscall it names, and for each architecture with the rule, why the rule
/// never applies there (`None`: it does apply, or that could not be decided).
type BySyscall = BTreeMap<&'static str, Vec<(Arch, Option<Dead>)>>;

/// Warns, once per rule and reason, where a rule of the policy's own (not a group's, nor one of
/// `copies`) never applies to a syscall it names, on every architecture that has the syscall or
/// on the ones named; but not that no call meets the condition of a rule in `explained`, for
/// which another warning says so already.
pub(super) fn dead_rules(
    expanded: &Expanded,
    checked: &CheckedPolicy,
    explained: &BTreeSet<usize>,
    copies: &BTreeSet<usize>,
) -> Vec<Diagnostic> {
    let mut budget = Budget::new(Budget::FOR_A_POLICY);
    let mut found: BTreeMap<usize, BySyscall> = BTreeMap::new();
    // rule index -> the first earlier rule found to decide some of its calls.
    let mut first_by: BTreeMap<usize, Tag> = BTreeMap::new();
    for per_arch in &checked.arches {
        for (nr, branches) in &per_arch.syscalls {
            let Some(spec) = tables::syscall_by_nr(per_arch.arch, *nr) else {
                continue;
            };
            for (at, branch) in branches.iter().enumerate() {
                let Some(index) = branch.tag.rule_index() else {
                    continue;
                };
                let own = expanded.rules.get(index).is_some_and(|r| r.group.is_none());
                let weighed = own && !copies.contains(&index);
                let Some(cond) = branch.cond.as_ref().filter(|_| weighed) else {
                    continue;
                };
                // Once the budget is spent, this is undecided at once, and recorded so.
                let dead = why_dead(cond, &branches[..at], &mut budget);
                if let Some((_, Some(earlier))) = dead {
                    first_by.entry(index).or_insert(earlier.tag);
                }
                let arches = found
                    .entry(index)
                    .or_default()
                    .entry(spec.name)
                    .or_default();
                arches.push((per_arch.arch, dead.map(|(why, _)| why)));
            }
        }
    }
    let mut warnings = Vec::new();
    for (index, syscalls) in found {
        let rule = &expanded.rules[index].rule;
        for reason in [Dead::NeverHolds, Dead::DecidedEarlier] {
            if reason == Dead::NeverHolds && explained.contains(&index) {
                continue;
            }
            let mut names = Vec::new();
            for (name, arches) in &syscalls {
                let dead_on: Vec<Arch> = arches
                    .iter()
                    .filter(|(_, d)| *d == Some(reason))
                    .map(|(a, _)| *a)
                    .collect();
                match dead_on.len() {
                    0 => {}
                    n if n == arches.len() => names.push((*name, format!("`{name}`"))),
                    _ => names.push((*name, format!("`{name}` on {}", list(&dead_on)))),
                }
            }
            let Some((first, _)) = names.first() else {
                continue;
            };
            let loc = rule
                .syscalls
                .iter()
                .find(|n| n.text == *first)
                .map_or(rule.loc, |n| n.loc);
            let to: Vec<String> = names.into_iter().map(|(_, shown)| shown).collect();
            let to = to.join(", ");
            warnings.push(match reason {
                Dead::NeverHolds => Diagnostic::new(
                    loc,
                    format!("this rule never applies to {to}: no call meets its condition"),
                )
                .with_help(
                    "its comparisons contradict one another, or compare a masked value with one \
                     it cannot reach; check the values and the operators",
                ),
                Dead::DecidedEarlier => {
                    let earlier = first_by.get(&index).and_then(|t| meta(checked, *t));
                    let (such_as, help) = match earlier {
                        Some(r) if r.location == PRELUDE_LOCATION => (
                            format!(", such as the prelude's `{}`", r.text),
                            "the prelude's rules come before the policy's, whatever it says \
                             (`sandbox explain` lists them); remove this rule",
                        ),
                        Some(r) => (
                            format!(", such as `{}` ({})", r.text, r.location),
                            "rules apply in order and the first match wins; remove this rule, \
                             or move it above the earlier ones (for a group's rule, above the \
                             `use`)",
                        ),
                        None => (String::new(), "remove this rule"),
                    };
                    Diagnostic::new(
                        loc,
                        format!(
                            "this rule never applies to {to}: every call it matches meets an \
                             earlier rule first{such_as}"
                        ),
                    )
                    .with_help(help)
                }
            });
        }
    }
    warnings
}

/// Why the branch with condition `cond`, after the branches `earlier`, never applies, if it
/// never does (and that can be decided); for [`Dead::DecidedEarlier`], the first earlier
/// branch that meets some of its calls.
fn why_dead<'b>(
    cond: &CheckedCond,
    earlier: &'b [CheckedBranch],
    budget: &mut Budget,
) -> Option<(Dead, Option<&'b CheckedBranch>)> {
    if !can_hold(cond, budget)? {
        return Some((Dead::NeverHolds, None));
    }
    if earlier.len() > MAX_EARLIER {
        return None;
    }
    // An earlier branch without a condition would have made this one an error already.
    let conds = earlier
        .iter()
        .map(|b| b.cond.clone())
        .collect::<Option<Vec<_>>>()?;
    let covered = conds
        .iter()
        .cloned()
        .reduce(|a, b| CheckedCond::Or(Box::new(a), Box::new(b)))?;
    if can_hold(&cond.clone().and(covered.negated()), budget)? {
        return None;
    }
    // The runtime's own check on `execveat` (no rule of the list) is never named.
    let first = earlier
        .iter()
        .zip(conds)
        .filter(|(b, _)| b.tag.rule_index().is_some())
        .find_map(|(branch, theirs)| {
            can_hold(&cond.clone().and(theirs), budget)
                .unwrap_or(false)
                .then_some(branch)
        });
    Some((Dead::DecidedEarlier, first))
}

/// What the policy's list says of the rule of `tag`, if it is a rule of the list.
fn meta(checked: &CheckedPolicy, tag: Tag) -> Option<&RuleMeta> {
    tag.rule_index().and_then(|i| checked.rules.get(i))
}

fn list(arches: &[Arch]) -> String {
    arches
        .iter()
        .map(|a| a.to_string())
        .collect::<Vec<_>>()
        .join(" and ")
}
