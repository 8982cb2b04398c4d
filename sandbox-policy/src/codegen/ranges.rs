//! The 32-bit syscall-number space cut into maximal ranges of identical normalised decisions,
//! and the weight of each range (how much a short path to it matters).

use super::leaf::{normalize, LeafKey};
use crate::action::{Action, Tag, Verdict};
use crate::arch::{is_x32_call, Arch};
use crate::ir::ArchIr;
use crate::tables;
use std::collections::{BTreeMap, BTreeSet};

/// Numbers `lo..=hi`, all decided by leaf `leaf`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Range {
    /// The first number.
    pub lo: u32,
    /// The last number (inclusive).
    pub hi: u32,
    /// Index into [`Partition::leaves`].
    pub leaf: usize,
}

impl Range {
    /// Whether the range holds a single number.
    pub(crate) fn is_single(&self) -> bool {
        self.lo == self.hi
    }
}

/// The ranges, sorted and covering `0..=u32::MAX` without gaps, and the distinct leaves.
#[derive(Clone, Debug)]
pub(crate) struct Partition {
    /// Sorted, contiguous, adjacent ranges have different leaves.
    pub ranges: Vec<Range>,
    /// Distinct leaves, in order of first appearance from number 0 up.
    pub leaves: Vec<LeafKey>,
}

impl Partition {
    /// The index of the range holding `nr`.
    pub(crate) fn range_of(&self, nr: u32) -> usize {
        self.ranges.partition_point(|r| r.hi < nr)
    }
}

/// Whether `nr` is an x32 number that the prelude's x32 rule decides.
fn is_x32(arch: Arch, nr: u32) -> bool {
    is_x32_call(arch.audit_arch(), nr)
}

/// Cuts the number space of `ir` into ranges.
pub(crate) fn partition(ir: &ArchIr) -> Partition {
    let default = normalize(&crate::ir::Decision::Always(ir.default));
    let mut atoms: Vec<(u32, u32, LeafKey)> = ir
        .syscalls
        .iter()
        .filter(|(nr, _)| !is_x32(ir.arch, **nr))
        .map(|(nr, d)| (*nr, *nr, normalize(d)))
        .collect();
    if ir.arch == Arch::X86_64 {
        // Every number with bit 30 set: two blocks of the 32-bit space.
        let x32 = LeafKey::Ret(Verdict::new(Action::Kill, Tag::X32).ret_value());
        atoms.push((0x4000_0000, 0x7fff_ffff, x32.clone()));
        atoms.push((0xc000_0000, 0xffff_ffff, x32));
    }
    atoms.sort_by_key(|a| a.0);

    let mut spans: Vec<(u32, u32, LeafKey)> = Vec::new();
    let mut next: u64 = 0;
    for (lo, hi, key) in atoms {
        if u64::from(lo) > next {
            spans.push((next as u32, lo - 1, default.clone()));
        }
        spans.push((lo, hi, key));
        next = u64::from(hi) + 1;
    }
    if next <= u64::from(u32::MAX) {
        spans.push((next as u32, u32::MAX, default));
    }

    let mut ids: BTreeMap<LeafKey, usize> = BTreeMap::new();
    let mut leaves = Vec::new();
    let mut ranges: Vec<Range> = Vec::new();
    for (lo, hi, key) in spans {
        let leaf = *ids.entry(key).or_insert_with_key(|k| {
            leaves.push(k.clone());
            leaves.len() - 1
        });
        match ranges.last_mut() {
            Some(last) if last.leaf == leaf => last.hi = hi,
            _ => ranges.push(Range { lo, hi, leaf }),
        }
    }
    Partition { ranges, leaves }
}

/// The weight of one call that matters (a permitted syscall, or one unit of a caller's
/// frequency).
pub(crate) const UNIT: u128 = 1024;
/// The weight of a named syscall whose calls are refused: rare, but not never.
pub(crate) const REFUSED: u128 = 16;
/// Every range's own weight, so ranges nobody calls still prefer shallow places over deep ones.
const TINY: u128 = 1;

/// The weight of each range of `part`. With `frequencies`, each listed number weighs its
/// frequency; without, every syscall number the policy names or the architecture's table
/// knows weighs [`UNIT`] when its leaf permits the call and [`REFUSED`] otherwise.
pub(crate) fn weights(
    ir: &ArchIr,
    part: &Partition,
    frequencies: Option<&BTreeMap<u32, u64>>,
) -> Vec<u128> {
    let mut w = vec![TINY; part.ranges.len()];
    match frequencies {
        Some(freq) => {
            for (&nr, &f) in freq {
                let i = part.range_of(nr);
                if let Some(slot) = w.get_mut(i) {
                    *slot = slot.saturating_add(u128::from(f) * UNIT);
                }
            }
        }
        None => {
            let known: BTreeSet<u32> = ir
                .syscalls
                .keys()
                .copied()
                .chain(tables::syscalls(ir.arch).iter().map(|s| s.nr))
                .filter(|nr| !is_x32(ir.arch, *nr))
                .collect();
            for nr in known {
                let i = part.range_of(nr);
                let (Some(range), Some(slot)) = (part.ranges.get(i), w.get_mut(i)) else {
                    continue;
                };
                let permits = part.leaves.get(range.leaf).is_some_and(LeafKey::permits);
                *slot += if permits { UNIT } else { REFUSED };
            }
        }
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::Decision;

    #[test]
    fn ranges_cover_everything_and_merge() {
        let allow = Verdict::new(Action::Allow, Tag(1));
        let mut syscalls = BTreeMap::new();
        for nr in [0, 1, 2, 5, 0x4000_0001] {
            syscalls.insert(nr, Decision::Always(allow));
        }
        // Same return value as the default: merges with it.
        syscalls.insert(3, Decision::Always(Verdict::new(Action::Errno(1), Tag(2))));
        let ir = ArchIr {
            arch: Arch::X86_64,
            default: Verdict::new(Action::Errno(1), Tag::DEFAULT),
            syscalls,
        };
        let p = partition(&ir);
        let spans: Vec<(u32, u32)> = p.ranges.iter().map(|r| (r.lo, r.hi)).collect();
        assert_eq!(
            spans,
            vec![
                (0, 2),
                (3, 4),
                (5, 5),
                (6, 0x3fff_ffff),
                (0x4000_0000, 0x7fff_ffff),
                (0x8000_0000, 0xbfff_ffff),
                (0xc000_0000, 0xffff_ffff),
            ]
        );
        assert_eq!(p.leaves.len(), 3);
        assert_eq!(p.range_of(4), 1);
        assert_eq!(p.range_of(u32::MAX), 6);
        let w = weights(&ir, &p, None);
        assert_eq!(w[0], 3 * UNIT + TINY);
        assert!(w[1] >= REFUSED + TINY && w[1] < UNIT);
    }
}
