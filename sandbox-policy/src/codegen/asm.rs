//! A label-based assembler: code is emitted with symbolic jump targets and laid out later
//! (see `layout`). While emitting it tracks which `seccomp_data` word the accumulator holds on
//! every path, so a word already loaded is not loaded again.

use crate::bpf::{self, BPF_ABS, BPF_ALU, BPF_AND, BPF_JMP, BPF_K, BPF_LD, BPF_RET, BPF_W};
use std::collections::BTreeMap;

/// A jump target, defined once by [`Asm::place`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Label(pub u32);

/// One element of the label-based program.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Item {
    /// Defines a label at the next instruction.
    Label(Label),
    /// An instruction without a target: a load, an ALU operation or a `ret`.
    Stmt {
        /// Opcode.
        code: u16,
        /// Operand.
        k: u32,
    },
    /// A conditional jump on a constant.
    Jump {
        /// Opcode (`BPF_JMP | op | BPF_K`).
        code: u16,
        /// Operand.
        k: u32,
        /// Target when the condition holds.
        jt: Label,
        /// Target when it does not.
        jf: Label,
    },
    /// An unconditional jump.
    Ja(Label),
}

impl Item {
    /// Whether control never falls through to the next instruction.
    pub(crate) fn ends_flow(&self) -> bool {
        match self {
            Item::Label(_) => false,
            Item::Stmt { code, .. } => code & 0x07 == BPF_RET,
            Item::Jump { .. } | Item::Ja(_) => true,
        }
    }
}

/// What the accumulator holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Acc {
    /// Nothing known.
    Unknown,
    /// `word(offset) & mask`.
    Word {
        /// `seccomp_data` offset.
        offset: u32,
        /// Mask applied.
        mask: u32,
    },
}

/// Merges what two paths know (`None`: no path).
fn meet(a: Option<Acc>, b: Option<Acc>) -> Option<Acc> {
    match (a, b) {
        (None, x) | (x, None) => x,
        (Some(x), Some(y)) if x == y => Some(x),
        _ => Some(Acc::Unknown),
    }
}

/// The emitter.
#[derive(Debug, Default)]
pub(crate) struct Asm {
    /// The program so far.
    pub items: Vec<Item>,
    next_label: u32,
    /// The accumulator at the current point; `None` when the point is unreachable (right
    /// after a jump or `ret`).
    acc: Option<Acc>,
    /// For labels not yet placed: the merged accumulator of the jumps to them.
    incoming: BTreeMap<Label, Acc>,
    /// One shared `ret` per return value.
    rets: BTreeMap<u32, Label>,
}

impl Asm {
    /// An empty program, at its (reachable) entry.
    pub(crate) fn new() -> Self {
        Asm {
            acc: Some(Acc::Unknown),
            ..Asm::default()
        }
    }

    /// A fresh label.
    pub(crate) fn label(&mut self) -> Label {
        let l = Label(self.next_label);
        self.next_label += 1;
        l
    }

    /// The label of the shared `ret value` (placed by [`Asm::place_rets`]).
    pub(crate) fn ret_label(&mut self, value: u32) -> Label {
        if let Some(l) = self.rets.get(&value) {
            return *l;
        }
        let l = self.label();
        self.rets.insert(value, l);
        l
    }

    /// Records that control reaches `target` with the current accumulator.
    fn flow(&mut self, target: Label) {
        let now = self.acc.unwrap_or(Acc::Unknown);
        let merged = meet(self.incoming.get(&target).copied(), Some(now));
        if let Some(m) = merged {
            self.incoming.insert(target, m);
        }
    }

    /// Defines `label` here; the accumulator becomes what every way in agrees on.
    pub(crate) fn place(&mut self, label: Label) {
        let jumped = self.incoming.remove(&label);
        self.acc = meet(self.acc, jumped);
        self.items.push(Item::Label(label));
    }

    /// Emits a statement that falls through.
    fn stmt(&mut self, code: u16, k: u32) {
        self.items.push(Item::Stmt { code, k });
    }

    /// Makes the accumulator hold `word(offset) & mask`.
    pub(crate) fn load(&mut self, offset: u32, mask: u32) {
        match self.acc {
            Some(Acc::Word { offset: o, mask: m }) if o == offset && m == mask => return,
            Some(Acc::Word { offset: o, mask: m }) if o == offset && m & mask == mask => {
                self.stmt(BPF_ALU | BPF_AND | BPF_K, mask);
            }
            _ => {
                self.stmt(BPF_LD | BPF_W | BPF_ABS, offset);
                if mask != u32::MAX {
                    self.stmt(BPF_ALU | BPF_AND | BPF_K, mask);
                }
            }
        }
        self.acc = Some(Acc::Word { offset, mask });
    }

    /// Makes the accumulator hold `word(offset) & m` for some `m` covering `bits` (enough
    /// for a `jset #bits`).
    pub(crate) fn load_covering(&mut self, offset: u32, bits: u32) {
        match self.acc {
            Some(Acc::Word { offset: o, mask: m }) if o == offset && m & bits == bits => {}
            _ => self.load(offset, u32::MAX),
        }
    }

    /// Emits `j<op> #k` to `jt` / `jf`.
    pub(crate) fn jump(&mut self, op: u16, k: u32, jt: Label, jf: Label) {
        self.flow(jt);
        self.flow(jf);
        self.items.push(Item::Jump {
            code: BPF_JMP | op | BPF_K,
            k,
            jt,
            jf,
        });
        self.acc = None;
    }

    /// Emits `ja target`.
    pub(crate) fn ja(&mut self, target: Label) {
        self.flow(target);
        self.items.push(Item::Ja(target));
        self.acc = None;
    }

    /// Emits `ret #value` in place.
    pub(crate) fn ret(&mut self, value: u32) {
        self.stmt(BPF_RET | BPF_K, value);
        self.acc = None;
    }

    /// Places every shared `ret`, in order of value.
    pub(crate) fn place_rets(&mut self) {
        let rets = std::mem::take(&mut self.rets);
        for (value, label) in rets {
            self.place(label);
            self.ret(value);
        }
    }

    /// The program, for layout.
    pub(crate) fn finish(self) -> (Vec<Item>, u32) {
        (self.items, self.next_label)
    }
}

/// The opcode of a `ret #k`, for the layout pass.
pub(crate) const RET_K: u16 = BPF_RET | BPF_K;
/// The opcode of `ja`.
pub(crate) const JA: u16 = BPF_JMP | bpf::BPF_JA;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_are_not_repeated_on_a_path() {
        let mut a = Asm::new();
        a.load(16, u32::MAX);
        let (t, f, next) = (a.label(), a.label(), a.label());
        a.jump(bpf::BPF_JEQ, 1, t, next);
        a.place(next);
        a.load(16, u32::MAX); // still there
        a.load(16, 0xff); // only an `and`
        a.jump(bpf::BPF_JEQ, 2, t, f);
        a.place(t);
        // Reached with different masks: must reload.
        a.load(16, 0xff);
        a.ret(0);
        a.place(f);
        a.ret(1);
        let loads = a
            .items
            .iter()
            .filter(|i| matches!(i, Item::Stmt { code, .. } if *code == BPF_LD | BPF_W | BPF_ABS))
            .count();
        let ands = a
            .items
            .iter()
            .filter(|i| matches!(i, Item::Stmt { code, .. } if *code == BPF_ALU | BPF_AND | BPF_K))
            .count();
        assert_eq!((loads, ands), (2, 2));
    }
}
