//! The dispatch tree over syscall-number ranges: `jge #boundary` nodes, plus short `jeq #nr`
//! chains that pick single numbers out of a range whose neighbours share a leaf (so the
//! neighbours need no node of their own), chosen by dynamic programming to minimise the
//! weighted sum of path lengths, then the number of nodes.

use super::ranges::Range;

/// A dispatch tree; leaves are indices into the partition's leaves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Tree {
    /// Every number reaching here has this leaf.
    Leaf(usize),
    /// `jge #at`: numbers below `at` go to `below`, the others to `above`.
    Split {
        /// The first number of the upper part.
        at: u32,
        /// Numbers below `at`.
        below: Box<Tree>,
        /// Numbers from `at` up.
        above: Box<Tree>,
    },
    /// `jeq #nr` tests in order, each leading to its leaf; numbers matching none go to `base`.
    Chain {
        /// Single numbers and their leaves.
        tests: Vec<(u32, usize)>,
        /// The leaf of every other number.
        base: usize,
    },
}

/// The longest `jeq` chain considered.
const MAX_CHAIN: usize = 4;
/// Up to this many ranges every split point is tried (cubic time).
const EXACT_LIMIT: usize = 200;
/// Up to this many ranges split points are searched between those of the neighbouring
/// intervals (Knuth's bound: quadratic time, optimal for plain `jge` trees, close to it with
/// chains); above it the tree is simply balanced.
const SEARCH_LIMIT: usize = 1000;

/// The cost of a subtree: weighted path length first, instruction count second.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
struct Cost {
    weighted: u128,
    nodes: u32,
}

impl Cost {
    fn plus(self, other: Cost) -> Cost {
        Cost {
            weighted: self.weighted.saturating_add(other.weighted),
            nodes: self.nodes.saturating_add(other.nodes),
        }
    }
}

/// How the best subtree over an interval of ranges starts.
#[derive(Clone, Copy, Debug)]
enum Choice {
    Leaf,
    Split(usize),
    Chain(usize),
}

/// Builds the dispatch tree over `ranges` (sorted, contiguous) weighted by `weights`.
pub(crate) fn build(ranges: &[Range], weights: &[u128]) -> Tree {
    match ranges.len() {
        0 => Tree::Leaf(0),
        1 => Tree::Leaf(ranges[0].leaf),
        n if n > SEARCH_LIMIT || weights.len() != n => balanced(ranges, 0, n - 1),
        _ => Optimal::solve(ranges, weights).rebuild(0, ranges.len() - 1),
    }
}

/// A tree splitting each interval in the middle (for very many ranges).
pub(crate) fn balanced(ranges: &[Range], i: usize, j: usize) -> Tree {
    if i >= j {
        return Tree::Leaf(ranges.get(i).map_or(0, |r| r.leaf));
    }
    let k = i + (j - i).div_ceil(2);
    Tree::Split {
        at: ranges[k].lo,
        below: Box::new(balanced(ranges, i, k - 1)),
        above: Box::new(balanced(ranges, k, j)),
    }
}

/// The dynamic-programming tables.
struct Optimal<'a> {
    ranges: &'a [Range],
    weights: &'a [u128],
    n: usize,
    cost: Vec<Cost>,
    choice: Vec<Choice>,
}

impl<'a> Optimal<'a> {
    fn solve(ranges: &'a [Range], weights: &'a [u128]) -> Self {
        let n = ranges.len();
        let mut prefix = vec![0u128; n + 1];
        for (i, w) in weights.iter().enumerate() {
            prefix[i + 1] = prefix[i].saturating_add(*w);
        }
        let mut t = Optimal {
            ranges,
            weights,
            n,
            cost: vec![Cost::default(); n * n],
            choice: vec![Choice::Leaf; n * n],
        };
        for len in 2..=n {
            for i in 0..=n - len {
                let j = i + len - 1;
                let through = Cost {
                    weighted: prefix[j + 1] - prefix[i],
                    nodes: 1,
                };
                let mut best: Option<(Cost, Choice)> =
                    t.chain(i, j).map(|(c, base)| (c, Choice::Chain(base)));
                let (mut first, mut last) = (i + 1, j);
                if n > EXACT_LIMIT {
                    if let Choice::Split(k) = t.choice[i * n + j - 1] {
                        first = k.max(i + 1);
                    }
                    if let Choice::Split(k) = t.choice[(i + 1) * n + j] {
                        last = k.min(j);
                    }
                    if first > last {
                        (first, last) = (i + 1, j);
                    }
                }
                // The split's own node (`through`) costs the same whatever k is, so the best
                // split is the first k with the least cost below and above, found before it is
                // added. (No cost comes near saturating, so adding the same `through` to
                // every k keeps their order: all weights together are at most 2^32 `u64`
                // frequencies times a unit of 2^10, and no path is as long as the kernel's
                // 4,096 instructions, so a cost stays below 2^118.)
                let mut split: Option<(Cost, usize)> = None;
                for k in first..=last {
                    let c = t.cost[i * n + k - 1].plus(t.cost[k * n + j]);
                    if split.is_none_or(|(b, _)| c < b) {
                        split = Some((c, k));
                    }
                }
                if let Some((c, k)) = split {
                    let c = c.plus(through);
                    if best.is_none_or(|(b, _)| c < b) {
                        best = Some((c, Choice::Split(k)));
                    }
                }
                if let Some((c, choice)) = best {
                    t.cost[i * n + j] = c;
                    t.choice[i * n + j] = choice;
                }
            }
        }
        t
    }

    /// Ranges `i..=j` other than those of leaf `base`, heaviest first (then by number).
    fn chain_tests(&self, i: usize, j: usize, base: usize) -> Vec<usize> {
        let mut tests: Vec<usize> = (i..=j).filter(|&r| self.ranges[r].leaf != base).collect();
        tests.sort_by(|&a, &b| self.weights[b].cmp(&self.weights[a]).then(a.cmp(&b)));
        tests
    }

    /// The best `jeq` chain resolving ranges `i..=j`, if one exists: every range whose leaf is
    /// not the base must hold a single number.
    fn chain(&self, i: usize, j: usize) -> Option<(Cost, usize)> {
        let len = j - i + 1;
        if !(2..=2 * MAX_CHAIN + 1).contains(&len) {
            return None;
        }
        let mut wide_leaf = None;
        for r in &self.ranges[i..=j] {
            if !r.is_single() {
                match wide_leaf {
                    None => wide_leaf = Some(r.leaf),
                    Some(l) if l != r.leaf => return None,
                    Some(_) => {}
                }
            }
        }
        let mut candidates: Vec<usize> = match wide_leaf {
            Some(l) => vec![l],
            None => self.ranges[i..=j].iter().map(|r| r.leaf).collect(),
        };
        candidates.sort_unstable();
        candidates.dedup();
        let mut best: Option<(Cost, usize)> = None;
        for base in candidates {
            let tests = self.chain_tests(i, j, base);
            if tests.is_empty() || tests.len() > MAX_CHAIN {
                continue;
            }
            let m = tests.len() as u128;
            let base_weight: u128 = (i..=j)
                .filter(|&r| self.ranges[r].leaf == base)
                .map(|r| self.weights[r])
                .sum();
            let weighted = tests
                .iter()
                .enumerate()
                .map(|(depth, &r)| (depth as u128 + 1) * self.weights[r])
                .sum::<u128>()
                + m * base_weight;
            let cost = Cost {
                weighted,
                nodes: tests.len() as u32,
            };
            if best.is_none_or(|(b, _)| cost < b) {
                best = Some((cost, base));
            }
        }
        best
    }

    fn rebuild(&self, i: usize, j: usize) -> Tree {
        let n = self.n;
        match self.choice[i * n + j] {
            _ if i == j => Tree::Leaf(self.ranges[i].leaf),
            Choice::Leaf => Tree::Leaf(self.ranges[i].leaf),
            Choice::Split(k) => Tree::Split {
                at: self.ranges[k].lo,
                below: Box::new(self.rebuild(i, k - 1)),
                above: Box::new(self.rebuild(k, j)),
            },
            Choice::Chain(base) => Tree::Chain {
                tests: self
                    .chain_tests(i, j, base)
                    .into_iter()
                    .map(|r| (self.ranges[r].lo, self.ranges[r].leaf))
                    .collect(),
                base,
            },
        }
    }
}

/// How many tree nodes `nr` passes before reaching its leaf.
pub(crate) fn depth_of(tree: &Tree, nr: u32) -> usize {
    match tree {
        Tree::Leaf(_) => 0,
        Tree::Split { at, below, above } => {
            1 + if nr >= *at {
                depth_of(above, nr)
            } else {
                depth_of(below, nr)
            }
        }
        Tree::Chain { tests, .. } => tests
            .iter()
            .position(|(t, _)| *t == nr)
            .map_or(tests.len(), |p| p + 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranges(bounds: &[(u32, usize)]) -> Vec<Range> {
        bounds
            .iter()
            .enumerate()
            .map(|(i, &(lo, leaf))| Range {
                lo,
                hi: bounds.get(i + 1).map_or(u32::MAX, |b| b.0 - 1),
                leaf,
            })
            .collect()
    }

    fn leaf_at(tree: &Tree, nr: u32) -> usize {
        match tree {
            Tree::Leaf(l) => *l,
            Tree::Split { at, below, above } => leaf_at(if nr >= *at { above } else { below }, nr),
            Tree::Chain { tests, base } => tests
                .iter()
                .find(|(t, _)| *t == nr)
                .map_or(*base, |(_, l)| *l),
        }
    }

    #[test]
    fn a_single_hole_becomes_a_jeq() {
        // allow 0..=100, deny 101, allow 102..=200, deny the rest.
        let r = ranges(&[(0, 0), (101, 1), (102, 0), (201, 1)]);
        let w = [100 * 1024, 1, 100 * 1024, 1];
        let t = build(&r, &w);
        for nr in [0, 100, 101, 102, 200, 201, u32::MAX] {
            let want = r[r.partition_point(|x| x.hi < nr)].leaf;
            assert_eq!(leaf_at(&t, nr), want, "{nr}");
        }
        // Allowed numbers: a jge and a jeq (as short as three jge, with one node less).
        assert!(matches!(&t, Tree::Split { below, .. } if matches!(**below, Tree::Chain { .. })));
        assert_eq!(depth_of(&t, 5), 2, "{t:?}");
        assert_eq!(depth_of(&t, 150), 2, "{t:?}");
    }

    #[test]
    fn optimal_beats_balanced_and_is_correct() {
        let mut seed = 0x1234_5678_9abc_def0u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..200 {
            let n = 1 + (next() % 12) as usize;
            let mut bounds = Vec::new();
            let mut lo = 0u32;
            let mut prev = usize::MAX;
            for _ in 0..n {
                let mut leaf = (next() % 3) as usize;
                if leaf == prev {
                    leaf = (leaf + 1) % 3;
                }
                bounds.push((lo, leaf));
                prev = leaf;
                lo += 1 + (next() % 3) as u32;
            }
            let r = ranges(&bounds);
            let w: Vec<u128> = r.iter().map(|_| u128::from(next() % 50)).collect();
            let t = build(&r, &w);
            let b = balanced(&r, 0, r.len() - 1);
            let cost = |tree: &Tree| -> u128 {
                r.iter()
                    .zip(&w)
                    .map(|(x, w)| *w * depth_of(tree, x.lo) as u128)
                    .sum()
            };
            assert!(cost(&t) <= cost(&b));
            for x in &r {
                for nr in [x.lo, x.hi] {
                    assert_eq!(leaf_at(&t, nr), x.leaf);
                }
            }
        }
    }
}
