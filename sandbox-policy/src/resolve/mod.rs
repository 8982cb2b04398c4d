//! Resolution and checking: names become numbers for each architecture, arguments become
//! indices with their kernel types, constants are checked against those types, and rules that
//! can never apply are found. Every error is collected, each once, at its place.

mod checked;
mod expand;
mod families;
mod limits;
mod prelude;

pub use checked::*;
pub use expand::{
    read_policy_text, Expanded, Expander, FlatRule, FsLoader, Loader, NoIncludes, MAX_POLICY_FILE,
};
pub use limits::{ExpansionLimit, MAX_EXPANDED_BYTES, MAX_INCLUDES};
use prelude::Guarding;
pub use prelude::{
    refusal_where_unenforced, refused_arguments, PRELUDE_LOCATION, RUNTIME_EXEC_MAGIC,
    TERMINAL_GUARD_LOCATION,
};

/// The most rules a policy may hold: every rule needs a tag of its own below
/// [`Tag::MAX_RULE`], and the prelude's rules keep theirs.
pub const MAX_RULES: usize = Tag::MAX_RULE as usize - prelude::MOST_RULES;

use crate::action::{Action, Tag};
use crate::arch::Arch;
use crate::compiled::RuleMeta;
use crate::diag::{Diagnostic, Loc, SourceMap, MAX_ERRORS};
use crate::ir::CmpOp;
use crate::syntax::{ActionSpec, ActionSyntax, CmpOpSyntax, ConstAtom, ConstExpr, Expr, Name};
use crate::tables::{self, ArgSpec, ArgType, SyscallSpec};
use std::collections::BTreeSet;

/// Resolves an expanded policy. `sources` renders rule locations for the rule list.
pub fn resolve(expanded: &Expanded, sources: &SourceMap) -> Result<CheckedPolicy, Vec<Diagnostic>> {
    let mut r = Resolver {
        errors: BTreeSet::new(),
    };
    let default = r.default_action(expanded);
    let mut rules = Vec::new();
    let mut arches: Vec<CheckedArch> = CheckedArch::none_named();
    for flat in &expanded.rules {
        if r.full() {
            break;
        }
        let Some(tag) = Tag::rule(rules.len()).filter(|_| rules.len() < MAX_RULES) else {
            r.error(Diagnostic::new(
                flat.rule.loc,
                format!("a policy may hold at most {MAX_RULES} rules"),
            ));
            break;
        };
        rules.push(rule_meta(flat, sources));
        let action = r.action(&flat.rule.action);
        r.check_syscall_names(&flat.rule.syscalls);
        for checked in &mut arches {
            r.add_rule(checked, flat, action, tag, &rules);
        }
    }
    prelude::add_clone3_enosys(&mut rules, &mut arches);
    prelude::add_filter_guards(&mut rules, &mut arches, default.unwrap_or(Action::Kill));
    let default_or_kill = default.unwrap_or(Action::Kill);
    prelude::add_guards(
        &mut rules,
        &mut arches,
        default_or_kill,
        Guarding::Containment,
    );
    prelude::add_runtime_exec_check(&mut arches);
    if r.errors.is_empty() {
        Ok(CheckedPolicy {
            default: default_or_kill,
            rules,
            arches,
        })
    } else {
        Err(r.errors.into_iter().collect())
    }
}

/// `checked` with the terminal guard laid in: the policy as a sandbox that reaches a host
/// terminal runs it (see [`crate::host_guard`]). Its rule list is `checked`'s followed by the
/// guard's rules, so a tag means the same in both.
pub fn with_terminal_guard(checked: &CheckedPolicy) -> CheckedPolicy {
    let mut guarded = checked.clone();
    let (rules, arches) = (&mut guarded.rules, &mut guarded.arches);
    prelude::add_guards(rules, arches, checked.default, Guarding::Terminal);
    guarded
}

fn rule_meta(flat: &FlatRule, sources: &SourceMap) -> RuleMeta {
    let location = match flat.group {
        Some(g) => {
            let used_at = sources
                .get(flat.rule.loc.source)
                .included_at
                .map(|l| format!(", used at {}", sources.describe(l)))
                .unwrap_or_default();
            format!("group {g}{used_at}")
        }
        None => sources.describe(flat.rule.loc),
    };
    RuleMeta {
        location: location.into(),
        text: flat.rule.to_string().into(),
    }
}

/// The kernel's own error numbers (`include/linux/errno.h`: `ERESTARTSYS` 512 to
/// `ERECALLCONFLICT` 530), which no system call is meant to return to a program.
const KERNEL_INTERNAL_ERRNOS: std::ops::RangeInclusive<u64> = 512..=530;

struct Resolver {
    errors: BTreeSet<Diagnostic>,
}

impl Resolver {
    /// Keeps an error, up to [`MAX_ERRORS`] of them, as the lexer and the parser do.
    fn error(&mut self, d: Diagnostic) {
        if !self.full() {
            self.errors.insert(d);
        }
    }

    /// Whether no more errors are kept: checking more of a hostile policy (a million unknown
    /// names, each looked up for a suggestion) would only take time and memory.
    fn full(&self) -> bool {
        self.errors.len() >= MAX_ERRORS
    }

    fn default_action(&mut self, expanded: &Expanded) -> Option<Action> {
        match expanded.defaults.as_slice() {
            [] => {
                let loc = expanded.rules.first().map(|r| r.rule.loc);
                self.error(
                    Diagnostic::new(
                        loc.unwrap_or(Loc {
                            source: crate::diag::SourceId(0),
                            start: 0,
                            end: 0,
                        }),
                        "the policy has no `default` action",
                    )
                    .with_help("add one statement such as `default kill;`"),
                );
                None
            }
            [(first, _), rest @ ..] => {
                for (_, loc) in rest {
                    self.error(
                        Diagnostic::new(*loc, "the policy sets its `default` action twice")
                            .with_help("keep exactly one `default` statement"),
                    );
                }
                Some(self.action(first))
            }
        }
    }

    fn action(&mut self, spec: &ActionSpec) -> Action {
        match &spec.kind {
            ActionSyntax::Allow => Action::Allow,
            ActionSyntax::Log => Action::Log,
            ActionSyntax::Trap => Action::Trap,
            ActionSyntax::Kill => Action::Kill,
            ActionSyntax::KillThread => Action::KillThread,
            ActionSyntax::Errno(atom) => Action::Errno(self.errno(atom).unwrap_or(1)),
        }
    }

    fn errno(&mut self, atom: &ConstAtom) -> Option<u16> {
        match atom {
            ConstAtom::Int {
                value,
                negative: false,
                loc,
                ..
            } if KERNEL_INTERNAL_ERRNOS.contains(value) => {
                self.error(
                    Diagnostic::new(
                        *loc,
                        format!("errno value `{atom}` is one the kernel keeps for itself"),
                    )
                    .with_help(
                        "512 to 530 (ERESTARTSYS and the like) never reach a program; returned \
                         by a filter, one may have the kernel restart the call when a signal \
                         comes: use an errno a program knows, such as EPERM",
                    ),
                );
                None
            }
            ConstAtom::Int {
                value,
                negative: false,
                ..
            } if (1..=4095).contains(value) => Some(*value as u16),
            ConstAtom::Int { loc, .. } => {
                // Quoted in the base it was written in.
                self.error(
                    Diagnostic::new(*loc, format!("errno value `{atom}` is out of range"))
                        .with_help("an errno is between 1 and 4095, or a name such as EPERM"),
                );
                None
            }
            ConstAtom::Named(name) => {
                let value = tables::errno_value(&name.text);
                if value.is_none() {
                    self.error(
                        Diagnostic::new(name.loc, format!("unknown errno `{}`", name.text))
                            .suggest(&name.text, tables::errno_names()),
                    );
                }
                value
            }
        }
    }

    fn check_syscall_names(&mut self, names: &[Name]) {
        let mut seen: BTreeSet<&str> = BTreeSet::new();
        for name in names {
            if self.full() {
                return;
            }
            if !seen.insert(&name.text) {
                self.error(Diagnostic::new(
                    name.loc,
                    format!("`{}` is listed twice in this rule", name.text),
                ));
            }
            let known = Arch::ALL
                .iter()
                .any(|a| tables::syscall_by_name(*a, &name.text).is_some());
            if tables::UNFILTERED_SYSCALLS.contains(&name.text.as_str()) {
                self.error(
                    Diagnostic::new(
                        name.loc,
                        format!(
                            "`{}` never reaches a seccomp filter: the kernel runs it whatever \
                             the filter says (it works only from the kernel's own uprobe \
                             trampoline), so no rule decides it",
                            name.text
                        ),
                    )
                    .with_help("remove it from the rule"),
                );
            } else if !known {
                let all = tables::all_syscall_names();
                self.error(
                    Diagnostic::new(name.loc, format!("unknown syscall `{}`", name.text))
                        .suggest(&name.text, all.iter().copied())
                        .or_help(unknown_syscall_help(&name.text)),
                );
            }
        }
    }

    fn add_rule(
        &mut self,
        checked: &mut CheckedArch,
        flat: &FlatRule,
        action: Action,
        tag: Tag,
        rules: &[RuleMeta],
    ) {
        let arch = checked.arch;
        for name in &flat.rule.syscalls {
            let Some(spec) = tables::syscall_by_name(arch, &name.text) else {
                continue;
            };
            let cond = match &flat.rule.cond {
                Some(expr) => match self.cond(arch, spec, expr) {
                    Some(c) => Some(c),
                    None => continue,
                },
                None => None,
            };
            let branches = checked.syscalls.entry(spec.nr).or_default();
            // Nothing is added after an unconditional branch, so one can only be the last: a
            // look at it keeps a long policy's resolution linear.
            if let Some(earlier) = branches.last().filter(|b| b.cond.is_none()) {
                let meta = |t: Tag| t.rule_index().and_then(|i| rules.get(i));
                let earlier_rule = meta(earlier.tag);
                // A file included twice (a diamond) says its rules twice: the copy, the same
                // text at the same place, is no mistake of the writer's. (The place alone is not
                // enough: tokens a macro repeats, or a compiler without token positions, give
                // different rules one place.)
                let copy = earlier_rule
                    .zip(meta(tag))
                    .is_some_and(|(e, this)| e.location == this.location && e.text == this.text);
                // A syscall named twice in one rule is reported as such, not as shadowed.
                if flat.group.is_none() && earlier.tag != tag && !copy {
                    self.error(shadowed(name, earlier_rule));
                }
                continue;
            }
            branches.push(CheckedBranch { cond, action, tag });
        }
    }

    fn cond(&mut self, arch: Arch, spec: &SyscallSpec, expr: &Expr) -> Option<CheckedCond> {
        Some(match expr {
            // Both sides are checked before either error stops the rule, so every mistake in
            // the condition is reported at once.
            Expr::Or(a, b) => {
                let a = self.cond(arch, spec, a);
                let b = self.cond(arch, spec, b);
                CheckedCond::Or(Box::new(a?), Box::new(b?))
            }
            Expr::And(a, b) => {
                let a = self.cond(arch, spec, a);
                let b = self.cond(arch, spec, b);
                CheckedCond::And(Box::new(a?), Box::new(b?))
            }
            Expr::Not(a) => CheckedCond::Not(Box::new(self.cond(arch, spec, a)?)),
            Expr::Cmp {
                arg,
                mask,
                op,
                value,
                loc,
            } => {
                let (index, arg_spec) = self.argument(spec, arg)?;
                let mask = match mask {
                    Some(m) => Some(self.fitting_const(arch, spec, arg_spec, m, "mask")?),
                    None => None,
                };
                let value = self.fitting_const(arch, spec, arg_spec, value, "value")?;
                self.check_meaning(*loc, arg_spec, mask, *op, value)?;
                CheckedCond::Cmp(CheckedCmp {
                    arg: index,
                    ty: arg_spec.ty,
                    mask: mask.map(|m| checked::truncate(m, arg_spec.ty.bits())),
                    op: cmp_op(*op),
                    value,
                })
            }
        })
    }

    fn argument(&mut self, spec: &SyscallSpec, name: &Name) -> Option<(u8, ArgSpec)> {
        // A prototype's own names win: prctl's man page calls its arguments arg2..arg5.
        let by_name = spec
            .args
            .iter()
            .position(|a| a.name == name.text)
            .map(|i| (i as u8, spec.args[i]));
        let by_position = name
            .text
            .strip_prefix("arg")
            .and_then(|n| n.parse::<u8>().ok())
            .filter(|n| *n < 6);
        let found = by_name
            .or_else(|| by_position.and_then(|i| spec.args.get(usize::from(i)).map(|a| (i, *a))));
        if found.is_none() {
            let list = spec.args.iter().map(|a| a.name).collect::<Vec<_>>();
            let message = match by_position {
                Some(_) => format!(
                    "`{}` takes {} argument{}, so `{}` does not exist",
                    spec.name,
                    list.len(),
                    if list.len() == 1 { "" } else { "s" },
                    name.text
                ),
                None => format!("`{}` has no argument `{}`", spec.name, name.text),
            };
            let d = Diagnostic::new(name.loc, message);
            let d = match by_position {
                Some(_) => d,
                None => d.suggest(&name.text, list.iter().copied()),
            };
            let help = if list.is_empty() {
                format!("`{}` takes no arguments", spec.name)
            } else {
                format!("the arguments of `{}` are: {}", spec.name, list.join(", "))
            };
            self.error(d.or_help(help));
        }
        found
    }

    /// Refuses a comparison that cannot mean what it says: an ordering against a number the
    /// argument's type reads as another (`dirfd < 0xffffffff` would be `dirfd < -1`, `mode <
    /// -1` would be `mode < 0xffff`), and a masked equality whose value has bits outside the
    /// mask (`prot & PROT_EXEC == 1` never holds, so a `kill` rule on it never fires).
    fn check_meaning(
        &mut self,
        loc: Loc,
        arg: ArgSpec,
        mask: Option<i128>,
        op: CmpOpSyntax,
        value: i128,
    ) -> Option<()> {
        let bits = arg.ty.bits();
        let ordering = !matches!(op, CmpOpSyntax::Eq | CmpOpSyntax::Ne);
        let signed_max = (1i128 << (bits - 1)) - 1;
        // `<= -1` and `> -1` (all ones) decide nothing, which the lint warns about.
        let lint_reports = value == -1 && matches!(op, CmpOpSyntax::Le | CmpOpSyntax::Gt);
        let pattern = checked::truncate(value, bits);
        let read_as = match (mask, ordering, arg.ty.signed()) {
            (None, true, true) if value > signed_max => {
                Some(checked::sign_extend(pattern, bits).to_string())
            }
            (None, true, false) if value < 0 && !lint_reports => Some(format!("{pattern:#x}")),
            // A masked value is unsigned whatever the argument's type (`domain & 0xff >= -100`
            // would be `>= 0xffffff9c`), so a negative value is refused there, all ones too
            // (`& 0xff <= -1` would read as `<= 0xffffffff`): write the number meant.
            (Some(_), true, _) if value < 0 => Some(format!("{pattern:#x}")),
            _ => None,
        };
        if let Some(read_as) = read_as {
            let (what, sign) = match mask {
                Some(m) => (
                    format!(
                        "`{} & {:#x}` is unsigned",
                        arg.name,
                        checked::truncate(m, bits)
                    ),
                    "un",
                ),
                None => (
                    format!("`{}` is {}", arg.name, type_words(arg.ty)),
                    if arg.ty.signed() { "" } else { "un" },
                ),
            };
            self.error(
                Diagnostic::new(loc, format!("{what}, which reads this value as {read_as}"))
                    .with_help(format!(
                        "an ordering compares {sign}signed numbers here: write {read_as} if \
                         that is meant"
                    )),
            );
            return None;
        }
        if let (Some(m), false) = (mask, ordering) {
            let (m, v) = (checked::truncate(m, bits), checked::truncate(value, bits));
            if v & !m != 0 {
                let holds = op == CmpOpSyntax::Ne;
                self.error(
                    Diagnostic::new(
                        loc,
                        format!(
                            "this comparison is always {holds}: the value {v:#x} has bits \
                             outside the mask {m:#x}, which the masked argument never has"
                        ),
                    )
                    .with_help(
                        "compare with a value inside the mask (`flags & MASK == BIT`), or \
                         widen the mask",
                    ),
                );
                return None;
            }
        }
        Some(())
    }

    /// Evaluates a constant expression for `arch` and checks that it fits the argument.
    fn fitting_const(
        &mut self,
        arch: Arch,
        spec: &SyscallSpec,
        arg: ArgSpec,
        expr: &ConstExpr,
        role: &str,
    ) -> Option<i128> {
        let mut total: Option<i128> = None;
        for part in &expr.parts {
            if let ConstAtom::Named(name) = part {
                self.check_family(spec, arg, name)?;
            }
            let v = self.const_atom(arch, part)?;
            total = Some(match total {
                None => v,
                Some(t) if t >= 0 && v >= 0 => t | v,
                Some(_) => {
                    self.error(Diagnostic::new(
                        expr.loc,
                        "negative constants cannot be combined with `|`",
                    ));
                    return None;
                }
            });
        }
        let value = total?;
        let bits = arg.ty.bits();
        let min = -(1i128 << (bits - 1));
        let max = (1i128 << bits) - 1;
        if value < min || value > max {
            self.error(
                Diagnostic::new(
                    expr.loc,
                    format!(
                        "{role} `{expr}` does not fit argument `{}` of `{}`",
                        arg.name, spec.name
                    ),
                )
                .with_help(format!(
                    "`{}` is {} ({bits} bits): the kernel ignores the higher bits, so this \
                     comparison could never mean what it says",
                    arg.name,
                    type_words(arg.ty)
                )),
            );
            return None;
        }
        Some(value)
    }

    /// Refuses a named constant of another family than the argument takes (see
    /// [`families`]): `domain == SOCK_DGRAM` would compile as `AF_INET`, which is also 2.
    fn check_family(&mut self, spec: &SyscallSpec, arg: ArgSpec, name: &Name) -> Option<()> {
        let Some(prefixes) = families::of(spec.name, arg.name) else {
            return Some(());
        };
        // An unknown name is reported as such, with its suggestion. Errno names count as
        // known: `domain == EPERM` is 1, `AF_UNIX`, by accident.
        let known = tables::constant_names().any(|n| n == name.text)
            || tables::errno_value(&name.text).is_some();
        if !known || prefixes.iter().any(|p| name.text.starts_with(p)) {
            return Some(());
        }
        let family = prefixes
            .iter()
            // A prefix that is a whole name stands for itself (`AT_FDCWD`); others for the
            // names they begin (`AF_*`, `SIG*`).
            .map(|p| match tables::constant_names().any(|n| n == *p) {
                true => p.to_string(),
                false => format!("{p}*"),
            })
            .collect::<Vec<_>>()
            .join(", ");
        self.error(
            Diagnostic::new(
                name.loc,
                format!(
                    "`{}` is not a constant `{}` of `{}` takes ({family})",
                    name.text, arg.name, spec.name
                ),
            )
            .with_help(
                "its number could stand for another meaning there: write the constant of that \
                 family that is meant, or the number",
            ),
        );
        None
    }

    fn const_atom(&mut self, arch: Arch, atom: &ConstAtom) -> Option<i128> {
        if let Some(v) = atom_value(arch, atom) {
            return Some(v);
        }
        match atom {
            ConstAtom::Int { .. } => None,
            ConstAtom::Named(name) => {
                let elsewhere = Arch::ALL
                    .iter()
                    .find(|a| tables::constant(**a, &name.text).is_some());
                let d = match elsewhere {
                    Some(other) => Diagnostic::new(
                        name.loc,
                        format!(
                            "constant `{}` exists on {other} but not on {arch}",
                            name.text
                        ),
                    ),
                    None => Diagnostic::new(name.loc, format!("unknown constant `{}`", name.text))
                        .suggest(
                            &name.text,
                            tables::constant_names().chain(tables::errno_names()),
                        ),
                };
                self.error(d);
                None
            }
        }
    }
}

/// The value of one part of a constant on `arch`: a literal with its sign, or a named constant
/// (an errno name among them); `None` for a name `arch` does not have.
pub(crate) fn atom_value(arch: Arch, atom: &ConstAtom) -> Option<i128> {
    match atom {
        ConstAtom::Int {
            value, negative, ..
        } => Some(if *negative {
            -i128::from(*value)
        } else {
            i128::from(*value)
        }),
        ConstAtom::Named(name) => tables::constant(arch, &name.text)
            .or_else(|| tables::errno_value(&name.text).map(i64::from))
            .map(i128::from),
    }
}

fn shadowed(name: &Name, earlier: Option<&RuleMeta>) -> Diagnostic {
    let by = earlier
        .map(|r| format!(" by `{}` ({})", r.text, r.location))
        .unwrap_or_default();
    Diagnostic::new(
        name.loc,
        format!(
            "this rule never applies to `{}`: it is already decided unconditionally{by}",
            name.text
        ),
    )
    .with_help(
        "rules apply in order and the first match wins; remove this rule, or move it above the \
         earlier one (for a group's rule, above the `use`)",
    )
}

fn unknown_syscall_help(name: &str) -> String {
    format!("`{name}` is not a syscall on x86_64 or aarch64")
}

fn type_words(ty: ArgType) -> &'static str {
    match ty {
        ArgType::I32 => "a signed int",
        ArgType::U32 => "an unsigned int",
        ArgType::U16 => "an unsigned short (umode_t)",
        ArgType::I64 => "a signed long",
        ArgType::U64 => "an unsigned long",
        ArgType::Ptr => "a pointer",
    }
}

/// The operator a comparison's syntax names.
pub(crate) fn cmp_op(op: CmpOpSyntax) -> CmpOp {
    match op {
        CmpOpSyntax::Eq => CmpOp::Eq,
        CmpOpSyntax::Ne => CmpOp::Ne,
        CmpOpSyntax::Lt => CmpOp::Lt,
        CmpOpSyntax::Le => CmpOp::Le,
        CmpOpSyntax::Gt => CmpOp::Gt,
        CmpOpSyntax::Ge => CmpOp::Ge,
    }
}
