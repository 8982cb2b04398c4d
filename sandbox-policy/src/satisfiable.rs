//! Whether a condition can hold at all: `fd == 1 && fd == 2` never does, and neither does
//! `flags & 0xf0 > 0xf0`, so a rule with such a condition never applies. The decision is exact
//! over the comparisons the language has (masked, signed or unsigned, on each argument's
//! width): the condition is brought to a disjunction of conjunctions, and each argument's
//! comparisons in a conjunction are decided together, bit by bit from the top, as the set of
//! ways they can still compare. Conditions too large to decide within [`MAX_CONJUNCTIONS`],
//! [`MAX_WAYS`] or the [`Budget`] are reported as undecided, never as ones that cannot hold.

use crate::ir::CmpOp;
use crate::resolve::{truncate, CheckedCmp, CheckedCond};
use std::cmp::Ordering;
use std::collections::{BTreeMap, HashSet};

/// The most conjunctions a condition may expand to before it is left undecided.
pub const MAX_CONJUNCTIONS: usize = 1024;

/// The most distinct ways one argument's comparisons may still compare, at one bit, before the
/// conjunction is left undecided.
pub const MAX_WAYS: usize = 4096;

/// The work decisions may do, counted in comparisons looked at. One budget serves all the
/// decisions about one policy, so that a hostile one cannot make the compiler take long.
#[derive(Debug)]
pub struct Budget {
    left: usize,
}

impl Budget {
    /// Enough for any real policy many times over, and a fraction of a second at most.
    pub const FOR_A_POLICY: usize = 20_000_000;

    /// A budget of `steps`.
    pub fn new(steps: usize) -> Budget {
        Budget { left: steps }
    }

    /// Whether nothing is left: every decision is then undecided at once.
    pub fn exhausted(&self) -> bool {
        self.left == 0
    }

    /// Spends `steps`, or says there are not that many left (and spends them all).
    fn spend(&mut self, steps: usize) -> Option<()> {
        match self.left.checked_sub(steps) {
            Some(left) => {
                self.left = left;
                Some(())
            }
            None => {
                self.left = 0;
                None
            }
        }
    }
}

/// Whether some call makes `cond` hold: `Some(false)` when none can, `None` when the condition
/// is too large to tell or the budget has run out.
pub fn can_hold(cond: &CheckedCond, budget: &mut Budget) -> Option<bool> {
    if budget.exhausted() {
        return None;
    }
    let mut undecided = false;
    for conjunction in disjunction(cond, false, budget)? {
        match conjunction_can_hold(&conjunction, budget) {
            Some(true) => return Some(true),
            Some(false) => {}
            None => undecided = true,
        }
    }
    (!undecided).then_some(false)
}

/// Conjunctions of comparisons, any of which may hold.
type Disjunction = Vec<Vec<CheckedCmp>>;

/// `cond` (negated if `negated`) as conjunctions of comparisons, any of which may hold; `None`
/// past [`MAX_CONJUNCTIONS`] or the budget, which pays for each comparison written. A negated
/// comparison is the comparison with the opposite operator, which holds exactly where the
/// first does not.
fn disjunction(cond: &CheckedCond, negated: bool, budget: &mut Budget) -> Option<Disjunction> {
    match (cond, negated) {
        (CheckedCond::Cmp(_), _) if budget.spend(1).is_none() => None,
        (CheckedCond::Cmp(c), false) => Some(vec![vec![c.clone()]]),
        (CheckedCond::Cmp(c), true) => Some(vec![vec![CheckedCmp {
            op: c.op.negated(),
            ..c.clone()
        }]]),
        (CheckedCond::Not(c), _) => disjunction(c, !negated, budget),
        (CheckedCond::And(a, b), false) | (CheckedCond::Or(a, b), true) => {
            let a = disjunction(a, negated, budget)?;
            let b = disjunction(b, negated, budget)?;
            product(&a, &b, budget)
        }
        (CheckedCond::Or(a, b), false) | (CheckedCond::And(a, b), true) => {
            let mut a = disjunction(a, negated, budget)?;
            a.extend(disjunction(b, negated, budget)?);
            (a.len() <= MAX_CONJUNCTIONS).then_some(a)
        }
    }
}

/// Each conjunction of `a` with each of `b`: the two disjunctions joined by `&&`.
fn product(a: &Disjunction, b: &Disjunction, budget: &mut Budget) -> Option<Disjunction> {
    if a.len().saturating_mul(b.len()) > MAX_CONJUNCTIONS {
        return None;
    }
    let mut out = Vec::with_capacity(a.len() * b.len());
    for x in a {
        for y in b {
            budget.spend(x.len() + y.len())?;
            out.push(x.iter().chain(y).cloned().collect());
        }
    }
    Some(out)
}

/// Whether every comparison of `conjunction` can hold at once. Arguments are independent, so
/// each argument's comparisons are decided on their own.
fn conjunction_can_hold(conjunction: &[CheckedCmp], budget: &mut Budget) -> Option<bool> {
    let mut by_arg: BTreeMap<u8, Vec<&CheckedCmp>> = BTreeMap::new();
    for cmp in conjunction {
        by_arg.entry(cmp.arg).or_default().push(cmp);
    }
    let mut undecided = false;
    for cmps in by_arg.values() {
        match one_argument_can_hold(cmps, budget) {
            Some(false) => return Some(false),
            Some(true) => {}
            None => undecided = true,
        }
    }
    (!undecided).then_some(true)
}

/// One comparison as an unsigned one on the bits it reads: `(x & mask) ^ flip OP target`, on
/// the low `bits` of the argument. A signed comparison flips the sign bit on both sides, which
/// orders two's complement numbers as unsigned ones.
struct Unsigned {
    bits: u32,
    mask: u64,
    flip: u64,
    target: u64,
    op: CmpOp,
}

impl Unsigned {
    fn of(cmp: &CheckedCmp) -> Unsigned {
        let bits = cmp.ty.bits();
        let width = truncate(-1, bits);
        let flip = match cmp.mask.is_none() && cmp.ty.signed() {
            true => 1 << (bits - 1),
            false => 0,
        };
        Unsigned {
            bits,
            mask: cmp.mask.unwrap_or(width) & width,
            flip,
            target: truncate(cmp.value, bits) ^ flip,
            op: cmp.op,
        }
    }

    /// Whether a finished comparison that came out `order` satisfies the operator.
    fn satisfied(&self, order: Ordering) -> bool {
        match self.op {
            CmpOp::Eq => order == Ordering::Equal,
            CmpOp::Ne => order != Ordering::Equal,
            CmpOp::Lt => order == Ordering::Less,
            CmpOp::Le => order != Ordering::Greater,
            CmpOp::Gt => order == Ordering::Greater,
            CmpOp::Ge => order != Ordering::Less,
        }
    }

    /// Whether an order already settled in the higher bits can still satisfy the operator.
    fn still_possible(&self, order: Ordering) -> bool {
        order == Ordering::Equal || self.satisfied(order)
    }
}

/// Whether one value of the argument satisfies all of `cmps`. The value is chosen bit by bit
/// from the top; for each choice so far, each comparison has compared less, equal or greater
/// on the bits it has read. A way that can no longer satisfy some comparison is dropped.
fn one_argument_can_hold(cmps: &[&CheckedCmp], budget: &mut Budget) -> Option<bool> {
    if cmps.len() <= MAX_FOR_A_WITNESS && has_a_witness(cmps, budget)? {
        return Some(true);
    }
    let cmps: Vec<Unsigned> = cmps.iter().map(|c| Unsigned::of(c)).collect();
    let widest = cmps.iter().map(|c| c.bits).max().unwrap_or(0);
    let mut ways: HashSet<Vec<Ordering>> = HashSet::from([vec![Ordering::Equal; cmps.len()]]);
    // Bits no comparison reads change no way.
    for bit in (0..widest).rev() {
        budget.spend(ways.len() * 2 * cmps.len())?;
        let mut next = HashSet::new();
        for way in &ways {
            for chosen in [0u64, 1] {
                let mut orders = way.clone();
                let mut alive = true;
                for (order, cmp) in orders.iter_mut().zip(&cmps) {
                    if bit >= cmp.bits || *order != Ordering::Equal {
                        continue;
                    }
                    let lhs = ((chosen & (cmp.mask >> bit)) ^ (cmp.flip >> bit)) & 1;
                    *order = lhs.cmp(&((cmp.target >> bit) & 1));
                    alive &= cmp.still_possible(*order);
                }
                if alive {
                    next.insert(orders);
                }
            }
        }
        if next.len() > MAX_WAYS {
            return None;
        }
        ways = next;
    }
    Some(ways.iter().any(|way| {
        way.iter()
            .zip(&cmps)
            .all(|(order, cmp)| cmp.satisfied(*order))
    }))
}

/// The most comparisons on one argument for which [`has_a_witness`] is tried first.
const MAX_FOR_A_WITNESS: usize = 16;

/// Whether a value next to one the comparisons name meets them all: most conditions that hold
/// hold for one of these, found far sooner than by the bit by bit decision. Proves only that
/// they can hold; `false` says nothing.
fn has_a_witness(cmps: &[&CheckedCmp], budget: &mut Budget) -> Option<bool> {
    let Some(first) = cmps.first() else {
        return Some(true);
    };
    let mut bases = vec![0, u64::MAX];
    for cmp in cmps {
        let bits = cmp.ty.bits();
        let width = truncate(-1, bits);
        let value = truncate(cmp.value, bits);
        let mask = cmp.mask.unwrap_or(width);
        bases.extend([value, value | !mask & width, 1 << (bits - 1)]);
    }
    budget.spend(bases.len() * 3 * cmps.len())?;
    let mut args = [0u64; 6];
    let meets_all = |candidate: u64, args: &mut [u64; 6]| {
        args[usize::from(first.arg)] = candidate;
        cmps.iter().all(|c| c.holds(args))
    };
    let found = bases.iter().any(|base| {
        [base.wrapping_sub(1), *base, base.wrapping_add(1)]
            .into_iter()
            .any(|candidate| meets_all(candidate, &mut args))
    });
    Some(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tables::ArgType;

    fn cmp(arg: u8, ty: ArgType, mask: Option<u64>, op: CmpOp, value: i128) -> CheckedCond {
        CheckedCond::Cmp(CheckedCmp {
            arg,
            ty,
            mask,
            op,
            value,
        })
    }

    fn and(a: CheckedCond, b: CheckedCond) -> CheckedCond {
        CheckedCond::And(Box::new(a), Box::new(b))
    }

    fn or(a: CheckedCond, b: CheckedCond) -> CheckedCond {
        CheckedCond::Or(Box::new(a), Box::new(b))
    }

    fn not(a: CheckedCond) -> CheckedCond {
        CheckedCond::Not(Box::new(a))
    }

    fn budget() -> Budget {
        Budget::new(Budget::FOR_A_POLICY)
    }

    /// Every value of a small search, against the decision: the decision must never say "no
    /// value" where one of these values makes the condition hold.
    fn some_value_holds(cond: &CheckedCond) -> bool {
        let mut values: Vec<u64> = (0..=260).collect();
        values.extend([u64::MAX, u64::MAX - 1, 1 << 31, (1 << 31) - 1, 1 << 63]);
        values.extend([0xffff_ffff, 0xffff_fffe, 0x1_0000_0000, 0xffff, 0x1_0000]);
        values
            .iter()
            .any(|&v| values.iter().any(|&w| cond.holds(&[v, w, 0, 0, 0, 0])))
    }

    #[test]
    fn contradictions_never_hold() {
        use ArgType::*;
        use CmpOp::*;
        for cond in [
            and(cmp(0, I32, None, Eq, 1), cmp(0, I32, None, Eq, 2)),
            and(cmp(0, U64, None, Lt, 5), cmp(0, U64, None, Gt, 10)),
            cmp(0, U64, Some(3), Eq, 4),
            cmp(0, U32, None, Gt, 0xffff_ffff),
            cmp(0, I32, None, Lt, -(1 << 31)),
            cmp(0, U64, Some(0xf0), Gt, 0xf0),
            and(cmp(0, U32, Some(1), Eq, 1), cmp(0, U32, Some(3), Eq, 2)),
            and(
                cmp(0, I32, None, Lt, 0),
                cmp(0, I32, Some(0x8000_0000), Eq, 0),
            ),
            and(
                or(cmp(0, U64, None, Eq, 1), cmp(0, U64, None, Eq, 2)),
                cmp(0, U64, None, Ge, 3),
            ),
            not(or(cmp(0, U64, None, Eq, 1), cmp(0, U64, None, Ne, 1))),
        ] {
            assert_eq!(can_hold(&cond, &mut budget()), Some(false), "{cond:?}");
            assert!(!some_value_holds(&cond), "{cond:?}");
        }
    }

    #[test]
    fn conditions_some_value_meets_can_hold() {
        use ArgType::*;
        use CmpOp::*;
        for cond in [
            and(cmp(0, I32, None, Eq, 1), cmp(1, I32, None, Eq, 2)),
            and(cmp(0, I32, None, Lt, 0), cmp(0, I32, None, Ge, -(1 << 31))),
            and(cmp(0, U32, Some(1), Eq, 1), cmp(0, U32, Some(3), Eq, 3)),
            and(
                cmp(0, I32, None, Lt, 0),
                cmp(0, I32, Some(0x8000_0000), Ne, 0),
            ),
            and(cmp(0, U64, None, Ne, 1), cmp(0, U64, None, Lt, 2)),
            and(
                cmp(0, U32, None, Eq, 0xffff_ffff),
                cmp(0, I32, None, Eq, -1),
            ),
            or(
                and(cmp(0, U64, None, Eq, 1), cmp(0, U64, None, Eq, 2)),
                cmp(1, U64, Some(4), Eq, 4),
            ),
        ] {
            assert_eq!(can_hold(&cond, &mut budget()), Some(true), "{cond:?}");
            assert!(some_value_holds(&cond), "{cond:?}");
        }
    }

    /// xorshift64*: the same cases on every run.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    /// A random condition of two to four comparisons of `ty` on the first `args` arguments,
    /// joined by `&&`, `||` and `!`, with constants near `pivots` so that they often contradict.
    fn random_cond(rng: &mut Rng, args: u64, ty: ArgType, pivots: &[i128]) -> CheckedCond {
        let ops = CmpOp::ALL;
        let width = truncate(-1, ty.bits());
        let one = |rng: &mut Rng| {
            let masked = rng.below(3) == 0;
            let mask = masked.then(|| rng.next() & width);
            let pivot = pivots[rng.below(pivots.len() as u64) as usize];
            let value = pivot + i128::from(rng.below(5)) - 2;
            let value = match mask {
                // A masked equality the resolver lets through: the value inside the mask.
                Some(m) => i128::from(truncate(value, ty.bits()) & m),
                None => value,
            };
            cmp(
                rng.below(args) as u8,
                ty,
                mask,
                ops[rng.below(6) as usize],
                value,
            )
        };
        let mut cond = one(rng);
        for _ in 0..1 + rng.below(3) {
            let next = one(rng);
            cond = match rng.below(3) {
                0 => and(cond, next),
                1 => or(cond, next),
                _ => and(not(cond), next),
            };
        }
        cond
    }

    /// On a 16-bit argument every value can be tried: the decision is exactly whether one
    /// makes the condition hold.
    #[test]
    fn decides_exactly_what_every_value_says_on_16_bits() {
        let mut rng = Rng(0x5eed);
        let (mut holding, mut not) = (0, 0);
        for _ in 0..400 {
            let pivots = [0, 1, 0x7f, 0x8000, 0xffff];
            let cond = random_cond(&mut rng, 1, ArgType::U16, &pivots);
            let holds = (0..=0xffffu64).any(|v| cond.holds(&[v, 0, 0, 0, 0, 0]));
            assert_eq!(can_hold(&cond, &mut budget()), Some(holds), "{cond:?}");
            *(if holds { &mut holding } else { &mut not }) += 1;
        }
        // Both answers are tried, many times.
        assert!(holding > 50 && not > 50, "{holding} hold, {not} do not");
    }

    /// On wider arguments, where not every value can be tried, a value that makes the condition
    /// hold must never be missed: "cannot hold" would warn about a rule that applies.
    #[test]
    fn never_says_cannot_hold_where_a_value_holds() {
        let mut rng = Rng(0xfeed);
        for ty in [ArgType::I32, ArgType::U32, ArgType::I64, ArgType::U64] {
            let bits = ty.bits();
            let top = (1i128 << (bits - 1)) - 1;
            let pivots = [0, 1, -1, top, -top - 1, 1 << 16];
            for _ in 0..2000 {
                let cond = random_cond(&mut rng, 2, ty, &pivots);
                let mut values: Vec<u64> = Vec::new();
                for p in pivots {
                    for d in -3..=3 {
                        values.push(truncate(p + d, bits));
                        values.push(truncate(p + d, 64));
                    }
                }
                let holds = values
                    .iter()
                    .any(|&v| values.iter().any(|&w| cond.holds(&[v, w, 0, 0, 0, 0])));
                if holds {
                    assert_ne!(can_hold(&cond, &mut budget()), Some(false), "{cond:?}");
                }
            }
        }
    }

    /// A condition past the bounds is undecided, not one that cannot hold.
    #[test]
    fn too_large_a_condition_is_undecided() {
        use ArgType::*;
        use CmpOp::*;
        let pair = |i: i128| or(cmp(0, U64, None, Eq, i), cmp(1, U64, None, Eq, i));
        let mut cond = pair(0);
        for i in 1..12 {
            cond = and(cond, pair(i));
        }
        assert_eq!(can_hold(&cond, &mut budget()), None);
        // And one that would be decided is not, once the budget is spent.
        let small = and(cmp(0, U64, None, Eq, 1), cmp(0, U64, None, Eq, 2));
        assert_eq!(can_hold(&small, &mut Budget::new(10)), None);
    }
}
