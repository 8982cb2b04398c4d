//! Code for argument conditions: first-match branches, short-circuit `&&`/`||`/`!` compiled as
//! control flow, and comparisons of one 32-bit word or of a whole 64-bit argument split into
//! its high and low words (the splitting libseccomp once got wrong: CVE-2019-9893,
//! CVE-2017-18367).

use super::asm::{Asm, Label};
use super::leaf::{const_cmp, ret_permits, ArgsLeaf, SCond};
use super::ranges::{REFUSED, UNIT};
use super::switch::{self, equality_on_one_word, Case, Gap, Word};
use crate::bpf::{data, BPF_JEQ, BPF_JGE, BPF_JGT, BPF_JSET};
use crate::ir::{Cmp, CmpOp};

/// Emits the block deciding one syscall's arguments. Every path ends in a jump to a shared
/// `ret`. Consecutive branches that each test one word for equality with constants (the
/// `ioctl` guard's requests, `allow ... if op == A || op == B`) are decided by one search over
/// the word's values where that is shorter.
pub(crate) fn emit_block(asm: &mut Asm, leaf: &ArgsLeaf) {
    let branches = &leaf.branches;
    if branches.is_empty() {
        let l = asm.ret_label(leaf.otherwise);
        asm.ja(l);
        return;
    }
    let mut i = 0;
    while i < branches.len() {
        // Branches a search decides are done; a run it would not shorten is chained whole
        // (trying again from each of its branches would plan the same run over and over).
        let end = match searched_branches(asm, leaf, i) {
            Run::Searched(end) => {
                i = end;
                continue;
            }
            Run::Chained(end) => end,
            Run::None => i + 1,
        };
        while i < end {
            let (cond, value) = &branches[i];
            let t = asm.ret_label(*value);
            let f = next_branch(asm, leaf, i + 1);
            emit_cond(asm, cond, t, f);
            if i + 1 != branches.len() {
                asm.place(f);
            }
            i += 1;
        }
    }
}

/// What [`searched_branches`] did with the branches from a start.
enum Run {
    /// Emitted them up to this end as one search.
    Searched(usize),
    /// They test one word up to this end, but a search would not be shorter: nothing emitted.
    Chained(usize),
    /// The first does not test one word for equality: nothing emitted.
    None,
}

/// Where control goes when no branch before `i` holds: branch `i`'s code (a fresh label), or
/// the block's last `ret`.
fn next_branch(asm: &mut Asm, leaf: &ArgsLeaf, i: usize) -> Label {
    if i == leaf.branches.len() {
        asm.ret_label(leaf.otherwise)
    } else {
        asm.label()
    }
}

/// Emits branches `start..end` as one search over a word's values if each of them tests only
/// that word for equality with constants and the search is shorter.
fn searched_branches(asm: &mut Asm, leaf: &ArgsLeaf, start: usize) -> Run {
    let branches = &leaf.branches;
    let Some((word, _)) = equality_set(&branches[start].0) else {
        return Run::None;
    };
    let mut cases: Vec<Case> = Vec::new();
    let mut end = start;
    while let Some((cond, value)) = branches.get(end) {
        match equality_set(cond) {
            Some((w, values)) if w == word => {
                let target = asm.ret_label(*value);
                let permits = ret_permits(*value);
                for value in values {
                    cases.push(listed_case(value, target, permits, cases.len()));
                }
                end += 1;
            }
            _ => break,
        }
    }
    let f = next_branch(asm, leaf, end);
    // What falls through is another branch's business, or the block's last return.
    let permits = end != branches.len() || ret_permits(leaf.otherwise);
    let gap = Gap {
        target: f,
        weight: if permits { UNIT } else { REFUSED },
        no_later: permits,
    };
    if !switch::emit(asm, word, &cases, gap) {
        return Run::Chained(end);
    }
    if end != branches.len() {
        asm.place(f);
    }
    Run::Searched(end)
}

/// The `position`-th constant of a list, leading to `target`. A permitted value's calls matter:
/// the search may not test it later than the chain, and its weight halves with each place down
/// the list (up to six), as an author lists the common values first. A refused one weighs
/// little anywhere.
fn listed_case(value: u32, target: Label, permits: bool, position: usize) -> Case {
    Case {
        value,
        target,
        weight: if permits {
            UNIT >> position.min(6)
        } else {
            REFUSED
        },
        no_later: permits,
    }
}

/// The word and the constants of a condition that holds exactly when one word equals one of
/// the constants (`a == 1`, `a == 1 || a == 5`).
fn equality_set(cond: &SCond) -> Option<(Word, Vec<u32>)> {
    match cond {
        SCond::Cmp(c) => {
            let (word, value) = equality_on_one_word(c, CmpOp::Eq)?;
            Some((word, vec![value]))
        }
        SCond::Any(parts) => {
            let mut values = Vec::new();
            let mut word = None;
            for part in parts {
                let SCond::Cmp(c) = part else { return None };
                let (w, v) = equality_on_one_word(c, CmpOp::Eq)?;
                if *word.get_or_insert(w) != w {
                    return None;
                }
                values.push(v);
            }
            Some((word?, values))
        }
        _ => None,
    }
}

/// Emits code that jumps to `t` when `cond` holds and to `f` otherwise.
pub(crate) fn emit_cond(asm: &mut Asm, cond: &SCond, t: Label, f: Label) {
    match cond {
        SCond::Const(b) => asm.ja(if *b { t } else { f }),
        SCond::Cmp(c) => emit_cmp(asm, c, t, f),
        SCond::Not(inner) => emit_cond(asm, inner, f, t),
        SCond::All(parts) => emit_junction(asm, parts, true, t, f),
        SCond::Any(parts) => emit_junction(asm, parts, false, t, f),
    }
}

/// A part of a junction, or the parts that test one word against constants (`==` under `||`,
/// `!=` under `&&`), taken together.
enum Unit<'a> {
    Part(&'a SCond),
    Set {
        word: Word,
        values: Vec<u32>,
        parts: Vec<&'a SCond>,
    },
}

/// The units of a junction, each set where its word's first test was.
fn units(parts: &[SCond], all: bool) -> Vec<Unit<'_>> {
    let op = if all { CmpOp::Ne } else { CmpOp::Eq };
    let mut units: Vec<Unit<'_>> = Vec::new();
    for part in parts {
        let tested = match part {
            SCond::Cmp(c) => equality_on_one_word(c, op),
            _ => None,
        };
        let Some((word, value)) = tested else {
            units.push(Unit::Part(part));
            continue;
        };
        let same_word = units.iter_mut().find_map(|u| match u {
            Unit::Set {
                word: w,
                values,
                parts,
            } if *w == word => Some((values, parts)),
            _ => None,
        });
        match same_word {
            Some((values, parts)) => {
                values.push(value);
                parts.push(part);
            }
            None => units.push(Unit::Set {
                word,
                values: vec![value],
                parts: vec![part],
            }),
        }
    }
    units
}

/// Emits `parts` joined by `&&` (`all`) or `||`, short-circuit. The conditions have no side
/// effects, so equality tests of one word are searched together wherever they stand.
fn emit_junction(asm: &mut Asm, parts: &[SCond], all: bool, t: Label, f: Label) {
    let units = units(parts, all);
    let count = units.len();
    for (i, unit) in units.iter().enumerate() {
        let last = i + 1 == count;
        // Where control goes when this unit does not decide the junction.
        let next = match (last, all) {
            (true, true) => t,
            (true, false) => f,
            (false, _) => asm.label(),
        };
        let (part_t, part_f) = if all { (next, f) } else { (t, next) };
        match unit {
            Unit::Part(part) => emit_cond(asm, part, part_t, part_f),
            Unit::Set {
                word,
                values,
                parts,
            } => {
                // A value in the set makes an `==` hold (`||`: true) or a `!=` fail (`&&`).
                let hit = if all { f } else { t };
                // Whether the junction's outcome permits the call is not known here.
                let cases: Vec<Case> = values
                    .iter()
                    .enumerate()
                    .map(|(i, &value)| listed_case(value, hit, true, i))
                    .collect();
                let gap = Gap {
                    target: next,
                    weight: UNIT,
                    no_later: true,
                };
                if !switch::emit(asm, *word, &cases, gap) {
                    emit_chain(asm, parts, all, part_t, part_f);
                }
            }
        }
        if !last {
            asm.place(next);
        }
    }
}

/// Emits `parts` joined by `&&` (`all`) or `||` one after another, in order.
fn emit_chain(asm: &mut Asm, parts: &[&SCond], all: bool, t: Label, f: Label) {
    let Some((last, init)) = parts.split_last() else {
        asm.ja(if all { t } else { f });
        return;
    };
    for part in init {
        let next = asm.label();
        if all {
            emit_cond(asm, part, next, f);
        } else {
            emit_cond(asm, part, t, next);
        }
        asm.place(next);
    }
    emit_cond(asm, last, t, f);
}

/// The low and high 32 bits of a 64-bit value.
fn halves(v: u64) -> (u32, u32) {
    ((v & 0xffff_ffff) as u32, (v >> 32) as u32)
}

/// Emits `(args[c.arg] & c.mask) OP c.value`.
fn emit_cmp(asm: &mut Asm, c: &Cmp, t: Label, f: Label) {
    let (lo_off, hi_off) = (data::arg_lo(c.arg), data::arg_hi(c.arg));
    if !c.wide {
        let (mask, _) = halves(c.mask);
        match u32::try_from(c.value) {
            Ok(value) => word_cmp(asm, lo_off, mask, c.op, value, t, f),
            // A 32-bit operand is below any larger constant.
            Err(_) => asm.ja(if matches!(c.op, CmpOp::Ne | CmpOp::Lt | CmpOp::Le) {
                t
            } else {
                f
            }),
        }
        return;
    }
    let (mlo, mhi) = halves(c.mask);
    let (vlo, vhi) = halves(c.value);
    if mhi == 0 {
        // The high word is 0.
        if vhi == 0 {
            word_cmp(asm, lo_off, mlo, c.op, vlo, t, f);
        } else {
            let below = matches!(c.op, CmpOp::Ne | CmpOp::Lt | CmpOp::Le);
            asm.ja(if below { t } else { f });
        }
        return;
    }
    match c.op {
        CmpOp::Eq | CmpOp::Ne => {
            let (eq, ne) = if c.op == CmpOp::Eq { (t, f) } else { (f, t) };
            match const_cmp(CmpOp::Eq, u64::from(mlo), u64::from(vlo)) {
                Some(false) => asm.ja(ne),
                Some(true) => word_cmp(asm, hi_off, mhi, CmpOp::Eq, vhi, eq, ne),
                None => {
                    if const_cmp(CmpOp::Eq, u64::from(mhi), u64::from(vhi)) == Some(false) {
                        asm.ja(ne);
                        return;
                    }
                    let low = asm.label();
                    word_cmp(asm, hi_off, mhi, CmpOp::Eq, vhi, low, ne);
                    asm.place(low);
                    word_cmp(asm, lo_off, mlo, CmpOp::Eq, vlo, eq, ne);
                }
            }
        }
        op => {
            let greater = matches!(op, CmpOp::Gt | CmpOp::Ge);
            // When the high words are equal, the low words decide with the same operator.
            match const_cmp(op, u64::from(mlo), u64::from(vlo)) {
                Some(low_holds) => {
                    let hi_op = match (greater, low_holds) {
                        (true, true) => CmpOp::Ge,
                        (true, false) => CmpOp::Gt,
                        (false, true) => CmpOp::Le,
                        (false, false) => CmpOp::Lt,
                    };
                    word_cmp(asm, hi_off, mhi, hi_op, vhi, t, f);
                }
                None => {
                    let low = asm.label();
                    if greater {
                        high_above(asm, hi_off, mhi, vhi, t, low, f);
                    } else {
                        high_below(asm, hi_off, mhi, vhi, t, low, f);
                    }
                    asm.place(low);
                    word_cmp(asm, lo_off, mlo, op, vlo, t, f);
                }
            }
        }
    }
}

/// With `hi = word(offset) & mask`: `hi > v` → `above`, `hi == v` → `equal`, else `below`.
fn high_above(
    asm: &mut Asm,
    offset: u32,
    mask: u32,
    v: u32,
    above: Label,
    equal: Label,
    below: Label,
) {
    if v >= mask {
        // hi > v is impossible.
        word_cmp(asm, offset, mask, CmpOp::Eq, v, equal, below);
    } else if v == 0 {
        // hi > 0 is hi != 0; nothing is below.
        word_cmp(asm, offset, mask, CmpOp::Ne, 0, above, equal);
    } else {
        asm.load(offset, mask);
        let next = asm.label();
        asm.jump(BPF_JGT, v, above, next);
        asm.place(next);
        asm.jump(BPF_JEQ, v, equal, below);
    }
}

/// With `hi = word(offset) & mask`: `hi < v` → `below`, `hi == v` → `equal`, else `above`.
fn high_below(
    asm: &mut Asm,
    offset: u32,
    mask: u32,
    v: u32,
    below: Label,
    equal: Label,
    above: Label,
) {
    if v == 0 {
        // hi < 0 is impossible.
        word_cmp(asm, offset, mask, CmpOp::Eq, 0, equal, above);
    } else if v >= mask {
        // hi > v is impossible (and hi == v too when v > mask).
        word_cmp(asm, offset, mask, CmpOp::Eq, v, equal, below);
    } else {
        asm.load(offset, mask);
        let next = asm.label();
        asm.jump(BPF_JGT, v, above, next);
        asm.place(next);
        asm.jump(BPF_JEQ, v, equal, below);
    }
}

/// Emits `(word(offset) & mask) OP v` on 32-bit words.
fn word_cmp(asm: &mut Asm, offset: u32, mask: u32, op: CmpOp, v: u32, t: Label, f: Label) {
    if let Some(b) = const_cmp(op, u64::from(mask), u64::from(v)) {
        asm.ja(if b { t } else { f });
        return;
    }
    let single_bit = mask.is_power_of_two();
    match op {
        // (x & m) == 0 and (x & m) != 0: one jset, no `and`.
        CmpOp::Eq | CmpOp::Ne if v == 0 && mask != u32::MAX => {
            asm.load_covering(offset, mask);
            let (set, clear) = if op == CmpOp::Ne { (t, f) } else { (f, t) };
            asm.jump(BPF_JSET, mask, set, clear);
        }
        // (x & bit) == bit
        CmpOp::Eq | CmpOp::Ne if single_bit && v == mask => {
            asm.load_covering(offset, mask);
            let (set, clear) = if op == CmpOp::Eq { (t, f) } else { (f, t) };
            asm.jump(BPF_JSET, mask, set, clear);
        }
        _ => {
            asm.load(offset, mask);
            let (code, jt, jf) = match op {
                CmpOp::Eq => (BPF_JEQ, t, f),
                CmpOp::Ne => (BPF_JEQ, f, t),
                CmpOp::Gt => (BPF_JGT, t, f),
                CmpOp::Ge => (BPF_JGE, t, f),
                CmpOp::Lt => (BPF_JGE, f, t),
                CmpOp::Le => (BPF_JGT, f, t),
            };
            asm.jump(code, v, jt, jf);
        }
    }
}
