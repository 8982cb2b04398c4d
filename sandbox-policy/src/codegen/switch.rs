//! Equality tests of one argument word against several constants, compiled as a search over
//! the word's values (the `jge`/`jeq` tree [`super::tree`] builds for syscall numbers) instead
//! of one `jeq` per constant: a value matching none of n constants passes about log2(n) tests
//! instead of n, and neighbouring constants (`SEEK_SET`, `SEEK_CUR`, `SEEK_END`) become one
//! range, one test. Used only where the search is shorter than the chain under the same
//! weights and tests no value whose calls matter (a permitted outcome) later than the chain,
//! which tests them in the order the rules list them: an author who lists the common value
//! first keeps its one-test path.

use super::asm::{Asm, Label};
use super::ranges::Range;
use super::tree::{self, Tree};
use crate::bpf::{data, BPF_JEQ, BPF_JGE};
use crate::ir::{Cmp, CmpOp};
use std::collections::BTreeMap;

/// Above this many value ranges a switch's tree is simply balanced, not planned.
const MOST_RANGES_PLANNED: usize = 128;

/// The word an equality test reads, as `word(offset) & mask`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Word {
    /// `seccomp_data` offset of the 32-bit word.
    pub offset: u32,
    /// The mask applied to it.
    pub mask: u32,
}

/// `(word & mask) == value` as one word and one 32-bit value, if `c` is an equality test
/// that reads a single word (a 32-bit argument, or a 64-bit one whose mask and value have no
/// high bits) and can go either way.
pub(crate) fn equality_on_one_word(c: &Cmp, op: CmpOp) -> Option<(Word, u32)> {
    if c.op != op {
        return None;
    }
    let mask = if c.wide {
        u32::try_from(c.mask).ok()?
    } else {
        c.mask as u32
    };
    let value = u32::try_from(c.value).ok()?;
    // A value with bits outside the mask never matches: the caller's folding handles it.
    if mask == 0 || value & !mask != 0 {
        return None;
    }
    let word = Word {
        offset: data::arg_lo(c.arg),
        mask,
    };
    Some((word, value))
}

/// One constant of a switch: where a value equal to it goes, and how much a short path to it
/// matters (the units of [`super::ranges`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Case {
    /// The constant.
    pub value: u32,
    /// Where control goes when the word equals it.
    pub target: Label,
    /// The weight of the calls that carry it.
    pub weight: u128,
    /// Whether the search may not test it later than the chain would (its calls matter, and
    /// the order the rules list it in may say how often they come).
    pub no_later: bool,
}

/// A planned search: the tree over the value ranges, and each leaf's target.
struct Plan {
    tree: Tree,
    targets: Vec<Label>,
}

/// Where a value equal to no case goes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Gap {
    /// The target.
    pub target: Label,
    /// The weight of each run of values between two constants.
    pub weight: u128,
    /// Whether the search may not test such a value later than the chain would.
    pub no_later: bool,
}

/// Emits a jump to the target of the first case whose value equals `word`, or to `otherwise`'s,
/// as a search tree, if that runs fewer instructions under these weights than testing the
/// cases one by one in order and tests nothing marked `no_later` later than the chain would.
/// Returns whether it emitted anything; if not, the caller emits its chain.
pub(crate) fn emit(asm: &mut Asm, word: Word, cases: &[Case], otherwise: Gap) -> bool {
    let Some(plan) = plan(word.mask, cases, otherwise) else {
        return false;
    };
    asm.load(word.offset, word.mask);
    emit_node(asm, &plan.tree, &plan.targets);
    true
}

/// The search for `cases`, or `None` where a chain of `jeq` is as short.
fn plan(mask: u32, cases: &[Case], otherwise: Gap) -> Option<Plan> {
    let Gap {
        target: otherwise,
        weight: gap_weight,
        no_later: gap_no_later,
    } = otherwise;
    // The first case with a value decides it, as the chain would.
    let mut first: BTreeMap<u32, Case> = BTreeMap::new();
    let mut in_order: Vec<Case> = Vec::new();
    for case in cases {
        if case.value & !mask == 0 && !first.contains_key(&case.value) {
            first.insert(case.value, *case);
            in_order.push(*case);
        }
    }
    if in_order.len() < 2 {
        return None;
    }
    let mut targets = vec![otherwise];
    let mut leaf_of = |label: Label| match targets.iter().position(|t| *t == label) {
        Some(i) => i,
        None => {
            targets.push(label);
            targets.len() - 1
        }
    };
    // Values above the mask never occur: the last range ends at the mask.
    let mut spans: Vec<(u32, u32, usize, u128)> = Vec::new();
    let mut next: u64 = 0;
    for (value, case) in &first {
        if u64::from(*value) > next {
            spans.push((next as u32, value - 1, 0, gap_weight));
        }
        spans.push((*value, *value, leaf_of(case.target), case.weight));
        next = u64::from(*value) + 1;
    }
    if next <= u64::from(mask) {
        spans.push((next as u32, mask, 0, gap_weight));
    }
    let mut ranges: Vec<Range> = Vec::new();
    let mut weights: Vec<u128> = Vec::new();
    for (lo, hi, leaf, weight) in spans {
        match (ranges.last_mut(), weights.last_mut()) {
            (Some(last), Some(w)) if last.leaf == leaf => {
                last.hi = hi;
                *w = w.saturating_add(weight);
            }
            _ => {
                ranges.push(Range { lo, hi, leaf });
                weights.push(weight);
            }
        }
    }
    // The optimal tree costs cubic time: a hostile policy could hold hundreds of long lists.
    let tree = if ranges.len() > MOST_RANGES_PLANNED {
        tree::balanced(&ranges, 0, ranges.len() - 1)
    } else {
        tree::build(&ranges, &weights)
    };
    let chained = chain_steps(mask, &in_order);
    let gap_steps = chained.last().copied().unwrap_or(0);
    // The search runs an `and` first under a mask; then one test per tree level.
    let and = usize::from(mask != u32::MAX);
    let searched = |value: u32| tree::depth_of(&tree, value) + and;
    let cases_no_later = in_order
        .iter()
        .zip(&chained)
        .all(|(c, steps)| !c.no_later || searched(c.value) <= *steps);
    let gap_ranges = || ranges.iter().zip(&weights).filter(|(r, _)| r.leaf == 0);
    let gaps_no_later = !gap_no_later || gap_ranges().all(|(r, _)| searched(r.lo) <= gap_steps);
    let weighted = |steps: usize, weight: u128| weight.saturating_mul(steps as u128);
    let search_cost: u128 = in_order
        .iter()
        .map(|c| weighted(searched(c.value), c.weight))
        .chain(gap_ranges().map(|(r, w)| weighted(searched(r.lo), *w)))
        .sum();
    let chain_cost: u128 = in_order
        .iter()
        .zip(&chained)
        .map(|(c, steps)| weighted(*steps, c.weight))
        .chain(gap_ranges().map(|(_, w)| weighted(gap_steps, *w)))
        .sum();
    (cases_no_later && gaps_no_later && search_cost < chain_cost).then_some(Plan { tree, targets })
}

/// The instructions the chain of `jeq` (what the caller emits otherwise) runs, after loading
/// the word, up to and including the test of each case: one test per case, and one `and` under
/// a mask from the first value that a `jset` cannot test (one other than 0 or the mask's only
/// bit). The last entry counts for a value matching none.
fn chain_steps(mask: u32, in_order: &[Case]) -> Vec<usize> {
    let jset_tests = |v: u32| v == 0 || (mask.is_power_of_two() && v == mask);
    let mut anded = false;
    in_order
        .iter()
        .enumerate()
        .map(|(i, c)| {
            anded |= mask != u32::MAX && !jset_tests(c.value);
            i + 1 + usize::from(anded)
        })
        .collect()
}

/// The label a jump to `tree` targets: its leaf's target, or a fresh label for a node.
fn entry(asm: &mut Asm, tree: &Tree, targets: &[Label]) -> Label {
    match tree {
        Tree::Leaf(leaf) => targets[*leaf],
        _ => asm.label(),
    }
}

/// Emits `tree` here, the accumulator holding the word.
fn emit_node(asm: &mut Asm, tree: &Tree, targets: &[Label]) {
    match tree {
        Tree::Leaf(leaf) => asm.ja(targets[*leaf]),
        Tree::Split { at, below, above } => {
            let (lb, la) = (entry(asm, below, targets), entry(asm, above, targets));
            asm.jump(BPF_JGE, *at, la, lb);
            for (sub, label) in [(below, lb), (above, la)] {
                if !matches!(**sub, Tree::Leaf(_)) {
                    asm.place(label);
                    emit_node(asm, sub, targets);
                }
            }
        }
        Tree::Chain { tests, base } => {
            for (i, (value, leaf)) in tests.iter().enumerate() {
                let f = if i + 1 == tests.len() {
                    targets[*base]
                } else {
                    asm.label()
                };
                asm.jump(BPF_JEQ, *value, targets[*leaf], f);
                if i + 1 != tests.len() {
                    asm.place(f);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cases for `values`, all to one target: permitted ones in the order listed (weights
    /// halving, none tested later than listed), or refused ones (light, anywhere).
    fn cases(asm: &mut Asm, values: &[u32], permitted: bool) -> Vec<Case> {
        let t = asm.label();
        values
            .iter()
            .enumerate()
            .map(|(i, &value)| Case {
                value,
                target: t,
                weight: if permitted { 1024 >> i.min(6) } else { 16 },
                no_later: permitted,
            })
            .collect()
    }

    fn gap(asm: &mut Asm, permitted: bool) -> Gap {
        Gap {
            target: asm.label(),
            weight: if permitted { 1024 } else { 16 },
            no_later: permitted,
        }
    }

    #[test]
    fn neighbouring_constants_are_one_range() {
        let mut asm = Asm::new();
        let c = cases(&mut asm, &[0, 1, 2], true);
        let g = gap(&mut asm, true);
        let plan = plan(u32::MAX, &c, g).expect("a search is shorter");
        assert!(
            matches!(plan.tree, Tree::Split { at: 3, .. }),
            "{:?}",
            plan.tree
        );
        for v in [0, 2, 3, u32::MAX] {
            assert_eq!(tree::depth_of(&plan.tree, v), 1);
        }
    }

    #[test]
    fn a_permitted_value_is_never_tested_later_than_listed() {
        // The futex group's commands under `& 0x7f`: FUTEX_WAIT (0) costs the chain one
        // `jset`, the search an `and` and a test.
        let mut asm = Asm::new();
        let c = cases(&mut asm, &[0, 1, 9, 10, 3, 4, 5], true);
        let g = gap(&mut asm, false);
        assert!(plan(0x7f, &c, g).is_none());
        // Unmasked, the first value is one test in the chain and two in any search.
        let c = cases(&mut asm, &[1, 2, 9, 10, 3, 4, 5], true);
        assert!(plan(u32::MAX, &c, g).is_none());
        // The same values refused: only the values matching none matter, and are searched.
        let c = cases(&mut asm, &[1, 2, 9, 10, 3, 4, 5], false);
        let g = gap(&mut asm, true);
        let plan = plan(u32::MAX, &c, g).expect("a search is shorter");
        for v in [0, 6, 8, 11, u32::MAX] {
            assert!(tree::depth_of(&plan.tree, v) <= 3, "{v}: {:?}", plan.tree);
        }
    }

    #[test]
    fn two_scattered_constants_stay_a_chain() {
        let mut asm = Asm::new();
        let c = cases(&mut asm, &[5, 9], true);
        let g = gap(&mut asm, true);
        assert!(plan(u32::MAX, &c, g).is_none());
    }

    #[test]
    fn refused_constants_are_searched_for_the_values_that_match_none() {
        // The `ioctl` guard's eight requests, listed as the prelude lists them.
        let mut asm = Asm::new();
        let values = [
            0x5412,
            0x541c,
            0x5414,
            0x4004_5436,
            0x540c,
            0x540a,
            0x5423,
            0x5452,
        ];
        let c = cases(&mut asm, &values, false);
        let g = gap(&mut asm, true);
        let plan = plan(u32::MAX, &c, g).expect("a search is shorter");
        for v in values
            .iter()
            .flat_map(|v| [v - 1, *v, v + 1])
            .chain([0, u32::MAX])
        {
            assert!(
                tree::depth_of(&plan.tree, v) <= 5,
                "{v:#x}: {:?}",
                plan.tree
            );
        }
        assert!(tree::depth_of(&plan.tree, 0) <= 3, "{:?}", plan.tree);
    }

    #[test]
    fn the_chain_counts_its_and_from_the_first_value_a_jset_cannot_test() {
        let mut asm = Asm::new();
        let c = cases(&mut asm, &[0, 0x40, 3, 5], true);
        assert_eq!(chain_steps(0x40, &c[..2]), [1, 2]);
        assert_eq!(chain_steps(0xff, &c), [1, 3, 4, 5]);
        assert_eq!(chain_steps(u32::MAX, &c), [1, 2, 3, 4]);
    }
}
