//! The code generator: one architecture's IR to a seccomp-BPF program.
//!
//! The program has three parts:
//!
//! 1. **Prelude**: `ld [4]`; `jeq #AUDIT_ARCH` or kill with [`Tag::ARCH`]; `ld [0]`.
//! 2. **Dispatch**: the 32-bit number space is cut into maximal ranges of identical
//!    (normalised) decisions, x32 numbers on x86-64 being two more ranges killed with
//!    [`Tag::X32`]. A binary tree of `jge #boundary` nodes, with short `jeq #nr` chains where a
//!    lone number sits between two ranges of the same leaf, sends each number to its leaf. The
//!    tree minimises the weighted path length (weights from [`CodegenOptions::weights`], or by
//!    default every permitted syscall alike). It uses only opcodes the kernel's
//!    constant-action cache understands, so every unconditionally allowed syscall is cached.
//! 3. **Leaves**: a shared `ret` per return value, or a block of argument code (first-match
//!    branches, short-circuit conditions, 64-bit comparisons split into words, equality tests
//!    of one word against several constants searched like the numbers where that is shorter),
//!    shared by every range with the same decision.
//!
//! Code is emitted with symbolic labels and laid out last, with trampolines for conditional
//! jumps of more than 255 instructions. The output is deterministic (ordered maps only) and
//! always passes [`crate::verify::verify`].

mod args;
mod asm;
mod layout;
mod leaf;
mod ranges;
mod switch;
mod tree;

use crate::action::{Action, Tag, Verdict};
use crate::arch::Arch;
use crate::bpf::{data, SockFilter, BPF_JEQ, BPF_JGE};
use crate::ir::ArchIr;
use asm::{Asm, Label};
use leaf::LeafKey;
use std::collections::BTreeMap;
use std::fmt;
use tree::Tree;

/// Tuning for [`generate`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CodegenOptions {
    /// How often each syscall number is called (relative units). Numbers not listed count as
    /// never called. `None` weighs every syscall number the policy permits alike (numbers it
    /// refuses count little).
    pub weights: Option<BTreeMap<u32, u64>>,
}

/// Why no program could be generated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CodegenError {
    /// The program would exceed the kernel's 4096-instruction limit.
    TooLong {
        /// The architecture.
        arch: Arch,
        /// The length reached.
        len: usize,
    },
    /// The generator produced something invalid: a bug in this crate, reported rather than
    /// emitted.
    Internal {
        /// The architecture.
        arch: Arch,
        /// What went wrong.
        detail: String,
    },
}

impl fmt::Display for CodegenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CodegenError::TooLong { arch, len } => write!(
                f,
                "the {arch} filter needs {len} instructions; the kernel accepts at most {}",
                crate::bpf::BPF_MAXINSNS
            ),
            CodegenError::Internal { arch, detail } => {
                write!(f, "internal error generating the {arch} filter: {detail}")
            }
        }
    }
}

impl std::error::Error for CodegenError {}

/// Generates the filter for `ir` with default options.
pub fn compile_arch(ir: &ArchIr) -> Result<Vec<SockFilter>, CodegenError> {
    generate(ir, &CodegenOptions::default())
}

/// Generates the filter for `ir`: for every audit value, number and arguments it returns
/// `ir.decide_full(..).ret_value()`.
pub fn generate(ir: &ArchIr, opts: &CodegenOptions) -> Result<Vec<SockFilter>, CodegenError> {
    let arch = ir.arch;
    let part = ranges::partition(ir);
    let weights = ranges::weights(ir, &part, opts.weights.as_ref());
    let tree = tree::build(&part.ranges, &weights);

    let mut g = Gen::new(&part.leaves, &tree);
    g.prelude(arch);
    g.root(&tree);
    g.pooled_blocks();
    g.asm.place_rets();

    let (items, labels) = g.asm.finish();
    let program = layout::resolve(items, labels).map_err(|e| match e {
        layout::LayoutError::TooLong(len) => CodegenError::TooLong { arch, len },
        layout::LayoutError::Malformed(detail) => CodegenError::Internal { arch, detail },
    })?;
    crate::verify::verify(&program).map_err(|e| match e {
        crate::verify::VerifyError::TooLong { len } => CodegenError::TooLong { arch, len },
        e => CodegenError::Internal {
            arch,
            detail: format!("the generated program fails verification: {e}"),
        },
    })?;
    Ok(program)
}

/// Emission state: the assembler and where each argument block lives.
struct Gen<'a> {
    asm: Asm,
    leaves: &'a [LeafKey],
    /// The label of each argument block, once something jumps to it.
    block_labels: Vec<Option<Label>>,
    /// How many tree edges lead to each leaf.
    uses: Vec<usize>,
    /// Whether each argument block has been emitted.
    emitted: Vec<bool>,
}

impl<'a> Gen<'a> {
    fn new(leaves: &'a [LeafKey], tree: &Tree) -> Self {
        let mut uses = vec![0; leaves.len()];
        count_uses(tree, &mut uses);
        Gen {
            asm: Asm::new(),
            leaves,
            block_labels: vec![None; leaves.len()],
            uses,
            emitted: vec![false; leaves.len()],
        }
    }

    /// `ld [4]; jeq #arch` (else kill); `ld [0]`.
    fn prelude(&mut self, arch: Arch) {
        let a = &mut self.asm;
        a.load(data::ARCH, u32::MAX);
        let (native, foreign) = (a.label(), a.label());
        a.jump(BPF_JEQ, arch.audit_arch(), native, foreign);
        a.place(foreign);
        a.ret(Verdict::new(Action::Kill, Tag::ARCH).ret_value());
        a.place(native);
        a.load(data::NR, u32::MAX);
    }

    /// The label a jump to `leaf` targets.
    fn target(&mut self, leaf: usize) -> Label {
        match self.leaves.get(leaf) {
            Some(LeafKey::Ret(v)) => self.asm.ret_label(*v),
            _ => {
                let asm = &mut self.asm;
                *self
                    .block_labels
                    .get_mut(leaf)
                    .map(|slot| slot.get_or_insert_with(|| asm.label()))
                    .unwrap_or(&mut Label(u32::MAX))
            }
        }
    }

    /// The label a jump to `tree` targets.
    fn entry(&mut self, tree: &Tree) -> Label {
        match tree {
            Tree::Leaf(leaf) => self.target(*leaf),
            _ => self.asm.label(),
        }
    }

    /// The tree's root, reached by falling through from the prelude.
    fn root(&mut self, tree: &Tree) {
        match tree {
            Tree::Leaf(leaf) => match self.leaves.get(*leaf) {
                Some(LeafKey::Ret(v)) => self.asm.ret(*v),
                _ => self.inline_block(*leaf, true),
            },
            _ => {
                let l = self.asm.label();
                self.emit(tree, l);
            }
        }
    }

    /// Emits `tree` starting at `label`.
    fn emit(&mut self, tree: &Tree, label: Label) {
        match tree {
            Tree::Leaf(leaf) => self.inline_block(*leaf, false),
            Tree::Split { at, below, above } => {
                self.asm.place(label);
                let (lb, la) = (self.entry(below), self.entry(above));
                self.asm.jump(BPF_JGE, *at, la, lb);
                self.emit(below, lb);
                self.emit(above, la);
            }
            Tree::Chain { tests, base } => {
                self.asm.place(label);
                for (i, (nr, leaf)) in tests.iter().enumerate() {
                    let last = i + 1 == tests.len();
                    let t = self.target(*leaf);
                    let f = if last {
                        self.target(*base)
                    } else {
                        self.asm.label()
                    };
                    self.asm.jump(BPF_JEQ, *nr, t, f);
                    if !last {
                        self.asm.place(f);
                    }
                }
                for (_, leaf) in tests {
                    self.inline_block(*leaf, false);
                }
                self.inline_block(*base, false);
            }
        }
    }

    /// Emits the argument block of `leaf` here if only one edge leads to it (or `always`).
    fn inline_block(&mut self, leaf: usize, always: bool) {
        let single = self.uses.get(leaf).is_some_and(|u| *u == 1);
        if always || single {
            self.block(leaf);
        }
    }

    /// Emits the argument block of `leaf` (once).
    fn block(&mut self, leaf: usize) {
        let leaves = self.leaves;
        let Some(LeafKey::Args(a)) = leaves.get(leaf) else {
            return;
        };
        if self.emitted.get(leaf).copied().unwrap_or(true) {
            return;
        }
        self.emitted[leaf] = true;
        let l = self.target(leaf);
        self.asm.place(l);
        args::emit_block(&mut self.asm, a);
    }

    /// Emits the blocks shared by several ranges, after the tree.
    fn pooled_blocks(&mut self) {
        for leaf in 0..self.leaves.len() {
            if self.block_labels[leaf].is_some() {
                self.block(leaf);
            }
        }
    }
}

/// Counts the tree edges leading to each leaf.
fn count_uses(tree: &Tree, uses: &mut [usize]) {
    let mut bump = |leaf: usize| {
        if let Some(u) = uses.get_mut(leaf) {
            *u += 1;
        }
    };
    match tree {
        Tree::Leaf(leaf) => bump(*leaf),
        Tree::Chain { tests, base } => {
            for (_, leaf) in tests {
                bump(*leaf);
            }
            bump(*base);
        }
        Tree::Split { below, above, .. } => {
            count_uses(below, uses);
            count_uses(above, uses);
        }
    }
}
