//! The syntax tree: what the text says, with every name's place, before any name is looked up.

use crate::diag::Loc;
use crate::syntax::lexer::Radix;
use std::fmt;

/// A name as written, with its place.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Name {
    /// The identifier.
    pub text: String,
    /// Where it is.
    pub loc: Loc,
}

/// An action as written.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ActionSyntax {
    /// `allow`
    Allow,
    /// `log`
    Log,
    /// `trap`
    Trap,
    /// `kill`
    Kill,
    /// `kill_thread`
    KillThread,
    /// `errno(EPERM)` or `errno(1)`
    Errno(ConstAtom),
}

/// An action and its place.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ActionSpec {
    /// Which action.
    pub kind: ActionSyntax,
    /// Where.
    pub loc: Loc,
}

/// A constant: a literal (possibly negated) or a named Linux constant.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ConstAtom {
    /// An integer literal; `negative` for `-N`.
    Int {
        /// The magnitude.
        value: u64,
        /// Whether a `-` precedes it.
        negative: bool,
        /// The base it is written in, which its text keeps.
        radix: Radix,
        /// Where.
        loc: Loc,
    },
    /// A named constant (`O_RDONLY`, `AT_FDCWD`, `EPERM`).
    Named(Name),
}

impl ConstAtom {
    /// Where the constant is written.
    pub fn loc(&self) -> Loc {
        match self {
            ConstAtom::Int { loc, .. } => *loc,
            ConstAtom::Named(n) => n.loc,
        }
    }
}

/// Constants joined by `|` (`CLONE_NEWNS | CLONE_NEWUSER`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ConstExpr {
    /// The parts, or-ed together.
    pub parts: Vec<ConstAtom>,
    /// Where the whole expression is.
    pub loc: Loc,
}

/// A comparison operator as written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CmpOpSyntax {
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

impl CmpOpSyntax {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            CmpOpSyntax::Eq => "==",
            CmpOpSyntax::Ne => "!=",
            CmpOpSyntax::Lt => "<",
            CmpOpSyntax::Le => "<=",
            CmpOpSyntax::Gt => ">",
            CmpOpSyntax::Ge => ">=",
        }
    }
}

/// A condition.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Expr {
    /// `a || b`
    Or(Box<Expr>, Box<Expr>),
    /// `a && b`
    And(Box<Expr>, Box<Expr>),
    /// `!a`
    Not(Box<Expr>),
    /// `arg [& mask] OP constant`
    Cmp {
        /// The argument's name (`fd`, `flags`, `arg2`).
        arg: Name,
        /// The mask after `&`, if any.
        mask: Option<ConstExpr>,
        /// The operator.
        op: CmpOpSyntax,
        /// The right-hand side.
        value: ConstExpr,
        /// Where the comparison is.
        loc: Loc,
    },
}

/// One statement.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Item {
    /// `default ACTION;`
    Default {
        /// The action.
        action: ActionSpec,
        /// The whole statement.
        loc: Loc,
    },
    /// `use group, group;`
    Use {
        /// The groups, in order.
        groups: Vec<Name>,
        /// The whole statement.
        loc: Loc,
    },
    /// `include "path";`
    Include {
        /// The path as written.
        path: String,
        /// The path literal's place.
        path_loc: Loc,
        /// The whole statement.
        loc: Loc,
    },
    /// `ACTION syscall, syscall [if CONDITION];`
    Rule(Rule),
}

/// A rule statement.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Rule {
    /// The action.
    pub action: ActionSpec,
    /// The syscalls it covers.
    pub syscalls: Vec<Name>,
    /// The condition, if any.
    pub cond: Option<Expr>,
    /// The whole statement.
    pub loc: Loc,
}

/// A parsed source.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct File {
    /// Statements in source order.
    pub items: Vec<Item>,
}

impl fmt::Display for ConstAtom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConstAtom::Int {
                value,
                negative,
                radix,
                ..
            } => {
                if *negative {
                    f.write_str("-")?;
                }
                radix.write(f, *value)
            }
            ConstAtom::Named(n) => f.write_str(&n.text),
        }
    }
}

impl fmt::Display for ConstExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.parts.iter().enumerate() {
            if i > 0 {
                f.write_str(" | ")?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl Expr {
    fn fmt_prec(&self, f: &mut fmt::Formatter<'_>, parent: u8) -> fmt::Result {
        let (prec, open) = match self {
            Expr::Or(..) => (1, parent > 1),
            Expr::And(..) => (2, parent > 2),
            _ => (3, false),
        };
        if open {
            f.write_str("(")?;
        }
        match self {
            Expr::Or(a, b) => {
                a.fmt_prec(f, prec)?;
                f.write_str(" || ")?;
                b.fmt_prec(f, prec + 1)?;
            }
            Expr::And(a, b) => {
                a.fmt_prec(f, prec)?;
                f.write_str(" && ")?;
                b.fmt_prec(f, prec + 1)?;
            }
            Expr::Not(inner) => {
                f.write_str("!")?;
                match **inner {
                    Expr::Not(_) => inner.fmt_prec(f, 3)?,
                    _ => {
                        f.write_str("(")?;
                        inner.fmt_prec(f, 0)?;
                        f.write_str(")")?;
                    }
                }
            }
            Expr::Cmp {
                arg,
                mask,
                op,
                value,
                ..
            } => {
                write!(
                    f,
                    "{} {} {value}",
                    LeftSide(arg, mask.as_ref()),
                    op.as_str()
                )?;
            }
        }
        if open {
            f.write_str(")")?;
        }
        Ok(())
    }
}

/// The left side of a comparison as the language writes it: the argument, and its mask in
/// parentheses when the mask joins constants with `|` (`flags & (O_WRONLY | O_RDWR)`).
pub struct LeftSide<'a>(pub &'a Name, pub Option<&'a ConstExpr>);

impl fmt::Display for LeftSide<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.text)?;
        match self.1 {
            Some(m) if m.parts.len() > 1 => write!(f, " & ({m})"),
            Some(m) => write!(f, " & {m}"),
            None => Ok(()),
        }
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.fmt_prec(f, 0)
    }
}

impl fmt::Display for ActionSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ActionSyntax::Allow => f.write_str("allow"),
            ActionSyntax::Log => f.write_str("log"),
            ActionSyntax::Trap => f.write_str("trap"),
            ActionSyntax::Kill => f.write_str("kill"),
            ActionSyntax::KillThread => f.write_str("kill_thread"),
            ActionSyntax::Errno(e) => write!(f, "errno({e})"),
        }
    }
}

impl fmt::Display for Rule {
    /// The rule on one line, normalised: `allow write if fd == 1 || fd == 2`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ", self.action)?;
        for (i, s) in self.syscalls.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(&s.text)?;
        }
        if let Some(c) = &self.cond {
            write!(f, " if {c}")?;
        }
        Ok(())
    }
}
