//! The per-architecture intermediate form the code generator consumes: for each syscall number
//! a decision (an action, or first-match branches over argument comparisons already reduced to
//! unsigned comparisons of one argument's low word or whole 64-bit value), and a default for
//! every other number. It has a direct interpreter, [`ArchIr::decide`], which is the meaning the
//! generated program must reproduce.

use crate::action::{Action, Tag, Verdict};
use crate::arch::{is_x32_call, Arch};
use std::collections::BTreeMap;

/// An unsigned comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CmpOp {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl CmpOp {
    /// Every operator.
    pub const ALL: [CmpOp; 6] = [
        CmpOp::Eq,
        CmpOp::Ne,
        CmpOp::Lt,
        CmpOp::Le,
        CmpOp::Gt,
        CmpOp::Ge,
    ];

    /// Applies the operator to two unsigned values.
    pub fn holds(self, lhs: u64, rhs: u64) -> bool {
        match self {
            CmpOp::Eq => lhs == rhs,
            CmpOp::Ne => lhs != rhs,
            CmpOp::Lt => lhs < rhs,
            CmpOp::Le => lhs <= rhs,
            CmpOp::Gt => lhs > rhs,
            CmpOp::Ge => lhs >= rhs,
        }
    }

    /// The operator that holds exactly where this one does not.
    pub fn negated(self) -> CmpOp {
        match self {
            CmpOp::Eq => CmpOp::Ne,
            CmpOp::Ne => CmpOp::Eq,
            CmpOp::Lt => CmpOp::Ge,
            CmpOp::Ge => CmpOp::Lt,
            CmpOp::Le => CmpOp::Gt,
            CmpOp::Gt => CmpOp::Le,
        }
    }

    /// The operator as written in the language.
    pub fn symbol(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }
}

/// `(args[arg] & mask) OP value`, compared as unsigned numbers. When `wide` is false only the
/// low 32 bits of the argument take part (the kernel truncates `int`-sized arguments), and
/// `mask` and `value` fit in 32 bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cmp {
    /// Argument index, 0..=5.
    pub arg: u8,
    /// Whether all 64 bits are compared.
    pub wide: bool,
    /// The mask applied before comparing (all ones when the rule has none).
    pub mask: u64,
    /// The operator.
    pub op: CmpOp,
    /// The right-hand side.
    pub value: u64,
}

impl Cmp {
    /// The part of an argument this comparison looks at.
    pub fn operand(&self, raw: u64) -> u64 {
        let value = if self.wide { raw } else { raw & 0xffff_ffff };
        value & self.mask
    }

    /// Whether the comparison holds for these syscall arguments.
    pub fn holds(&self, args: &[u64; 6]) -> bool {
        self.op
            .holds(self.operand(args[usize::from(self.arg)]), self.value)
    }
}

/// A boolean condition over a syscall's arguments.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Cond {
    /// Always holds.
    True,
    /// One comparison.
    Cmp(Cmp),
    /// Negation.
    Not(Box<Cond>),
    /// Every part holds (`&&`).
    All(Vec<Cond>),
    /// Some part holds (`||`).
    Any(Vec<Cond>),
}

impl Cond {
    /// How many comparisons the condition makes, as written.
    pub fn comparisons(&self) -> usize {
        match self {
            Cond::True => 0,
            Cond::Cmp(_) => 1,
            Cond::Not(c) => c.comparisons(),
            Cond::All(cs) | Cond::Any(cs) => cs.iter().map(Cond::comparisons).sum(),
        }
    }

    /// Evaluates the condition.
    pub fn holds(&self, args: &[u64; 6]) -> bool {
        match self {
            Cond::True => true,
            Cond::Cmp(c) => c.holds(args),
            Cond::Not(c) => !c.holds(args),
            Cond::All(cs) => cs.iter().all(|c| c.holds(args)),
            Cond::Any(cs) => cs.iter().any(|c| c.holds(args)),
        }
    }
}

/// One conditional branch: when `cond` holds, `verdict` decides.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Branch {
    /// The condition.
    pub cond: Cond,
    /// What happens when it holds.
    pub verdict: Verdict,
}

/// How one syscall number is decided.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Decision {
    /// The same verdict whatever the arguments.
    Always(Verdict),
    /// The first branch whose condition holds decides; otherwise `otherwise`.
    Branches {
        /// Branches in source order.
        branches: Vec<Branch>,
        /// The verdict when no branch holds.
        otherwise: Verdict,
    },
}

impl Decision {
    /// Evaluates the decision for these arguments.
    pub fn decide(&self, args: &[u64; 6]) -> Verdict {
        match self {
            Decision::Always(v) => *v,
            Decision::Branches {
                branches,
                otherwise,
            } => branches
                .iter()
                .find(|b| b.cond.holds(args))
                .map_or(*otherwise, |b| b.verdict),
        }
    }
}

/// A policy lowered for one architecture.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArchIr {
    /// The architecture.
    pub arch: Arch,
    /// The verdict for every number without an entry in `syscalls`.
    pub default: Verdict,
    /// Decisions for the syscall numbers the policy names (and the prelude's `clone3`).
    pub syscalls: BTreeMap<u32, Decision>,
}

impl ArchIr {
    /// The verdict the kernel must reach for a native-architecture call. This includes the
    /// prelude's x32 check; the architecture check is [`ArchIr::decide_full`]'s.
    pub fn decide(&self, nr: u32, args: &[u64; 6]) -> Verdict {
        if is_x32_call(self.arch.audit_arch(), nr) {
            return Verdict::new(Action::Kill, Tag::X32);
        }
        self.syscalls
            .get(&nr)
            .map_or(self.default, |d| d.decide(args))
    }

    /// The verdict for a call whose `seccomp_data.arch` is `audit_arch`: foreign architectures
    /// are killed before the number is looked at.
    pub fn decide_full(&self, audit_arch: u32, nr: u32, args: &[u64; 6]) -> Verdict {
        if audit_arch != self.arch.audit_arch() {
            return Verdict::new(Action::Kill, Tag::ARCH);
        }
        self.decide(nr, args)
    }
}
