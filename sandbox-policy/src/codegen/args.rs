//! Code for argument conditions: first-match branches, short-circuit `&&`/`||`/`!` compiled as
//! control flow, and comparisons of one 32-bit word or of a whole 64-bit argument split into
//! its high and low words (the splitting libseccomp once got wrong: CVE-2019-9893,
//! CVE-2017-18367).

use super::asm::{Asm, Label};
use super::leaf::{const_cmp, ArgsLeaf, SCond};
use crate::bpf::{data, BPF_JEQ, BPF_JGE, BPF_JGT, BPF_JSET};
use crate::ir::{Cmp, CmpOp};

/// Emits the block deciding one syscall's arguments. Every path ends in a jump to a shared
/// `ret`.
pub(crate) fn emit_block(asm: &mut Asm, leaf: &ArgsLeaf) {
    let last = leaf.branches.len().saturating_sub(1);
    for (i, (cond, value)) in leaf.branches.iter().enumerate() {
        let t = asm.ret_label(*value);
        let f = if i == last {
            asm.ret_label(leaf.otherwise)
        } else {
            asm.label()
        };
        emit_cond(asm, cond, t, f);
        if i != last {
            asm.place(f);
        }
    }
    if leaf.branches.is_empty() {
        let l = asm.ret_label(leaf.otherwise);
        asm.ja(l);
    }
}

/// Emits code that jumps to `t` when `cond` holds and to `f` otherwise.
pub(crate) fn emit_cond(asm: &mut Asm, cond: &SCond, t: Label, f: Label) {
    match cond {
        SCond::Const(b) => asm.ja(if *b { t } else { f }),
        SCond::Cmp(c) => emit_cmp(asm, c, t, f),
        SCond::Not(inner) => emit_cond(asm, inner, f, t),
        SCond::All(parts) | SCond::Any(parts) => {
            let all = matches!(cond, SCond::All(_));
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
    }
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
