//! Warnings: rules that compile and do what they say, but likely not what their writer meant.
//! They never change the program; `sandbox check` prints them, and `policy!` has rustc show them.
//!
//! One kind so far: equality on an argument that holds flags, where extra bits carry the call
//! past the test. `kill socket if type == SOCK_RAW` does not kill `SOCK_RAW | SOCK_CLOEXEC`, and
//! `mmap` ignores `prot` and `flags` bits it does not know, so any such bit dodges an equality.
//! The safe forms test the bits that matter under a mask; in an `allow` rule, `==` is safe (it
//! lets that exact set run) and `!=` is the one extra bits get through.

use crate::arch::Arch;
use crate::diag::Diagnostic;
use crate::resolve::Expanded;
use crate::syntax::{ActionSyntax, CmpOpSyntax, ConstAtom, ConstExpr, Expr, Rule};
use crate::tables;

/// Arguments, by the tables' names, that hold a set of bits on every syscall that has them.
const FLAG_ARGUMENTS: &[&str] = &[
    "flags",
    "at_flags",
    "attr_flags",
    "event_f_flags",
    "mountflags",
    "swapflags",
    "msgflg",
    "semflg",
    "shmflg",
    "oflag",
    "options",
    "prot",
    "mode",
    "mask",
    "futex_op",
];

/// Arguments that hold flags beside a value on some syscalls only: (syscall, argument).
const FLAG_ARGUMENTS_OF: &[(&str, &str)] = &[("socket", "type"), ("socketpair", "type")];

/// The warnings for the rules of `expanded` (the built-in groups' rules draw none: a test holds
/// them to it).
pub fn lint(expanded: &Expanded) -> Vec<Diagnostic> {
    let mut warnings = Vec::new();
    for flat in &expanded.rules {
        if let Some(cond) = &flat.rule.cond {
            let denies = !matches!(
                flat.rule.action.kind,
                ActionSyntax::Allow | ActionSyntax::Log
            );
            extra_bits(&flat.rule, cond, denies, &mut warnings);
        }
    }
    warnings
}

/// Walks `expr`, where `denies` says whether the comparisons in it deny the call when they
/// hold (a `!` turns that round), and warns about each equality extra bits would get past.
fn extra_bits(rule: &Rule, expr: &Expr, denies: bool, out: &mut Vec<Diagnostic>) {
    match expr {
        Expr::Or(a, b) | Expr::And(a, b) => {
            extra_bits(rule, a, denies, out);
            extra_bits(rule, b, denies, out);
        }
        Expr::Not(a) => extra_bits(rule, a, !denies, out),
        Expr::Cmp {
            arg,
            mask: None,
            op,
            value,
            loc,
        } => {
            let risky = match op {
                CmpOpSyntax::Eq => denies,
                CmpOpSyntax::Ne => !denies,
                _ => false,
            };
            if !risky || is_zero(value) || !holds_flags(rule, &arg.text) {
                return;
            }
            let (what, safe) = if denies {
                (
                    "is not denied by",
                    format!("`{} & MASK == {value}`", arg.text),
                )
            } else {
                ("is let through by", format!("`{} & MASK == 0`", arg.text))
            };
            out.push(
                Diagnostic::new(
                    *loc,
                    format!(
                        "a call that sets more bits than `{value}` {what} `{} {} {value}`",
                        arg.text,
                        op.as_str()
                    ),
                )
                .with_help(format!(
                    "`{}` holds flags a caller may add to the ones named: test only the bits that \
                     matter, under a mask: {safe}",
                    arg.text
                )),
            );
        }
        Expr::Cmp { .. } => {}
    }
}

/// Whether the constant is written as zero (equality with no bits set says nothing of extra
/// ones).
fn is_zero(value: &ConstExpr) -> bool {
    value
        .parts
        .iter()
        .all(|p| matches!(p, ConstAtom::Int { value: 0, .. }))
}

/// Whether `arg` (a name or `argN`) holds flags for any syscall of the rule on any architecture.
fn holds_flags(rule: &Rule, arg: &str) -> bool {
    let position = arg
        .strip_prefix("arg")
        .and_then(|n| n.parse::<usize>().ok());
    rule.syscalls.iter().any(|syscall| {
        Arch::ALL.iter().any(|&arch| {
            let Some(spec) = tables::syscall_by_name(arch, &syscall.text) else {
                return false;
            };
            let name = spec
                .args
                .iter()
                .find(|a| a.name == arg)
                .or_else(|| position.and_then(|i| spec.args.get(i)))
                .map(|a| a.name);
            name.is_some_and(|name| {
                FLAG_ARGUMENTS.contains(&name)
                    || FLAG_ARGUMENTS_OF.contains(&(syscall.text.as_str(), name))
            })
        })
    })
}

#[cfg(test)]
mod tests {
    use crate::compile::compile_text;
    use crate::resolve::NoIncludes;

    fn warnings(text: &str) -> Vec<String> {
        let c = compile_text("p.policy", None, text, &mut NoIncludes);
        assert!(c.result.is_ok(), "{}", c.render_errors());
        c.warnings.iter().map(|w| w.message.clone()).collect()
    }

    #[test]
    fn equality_that_denies_a_flag_argument_is_warned_about() {
        let w = warnings("default allow;\nkill socket if type == SOCK_RAW;\n");
        assert_eq!(
            w,
            ["a call that sets more bits than `SOCK_RAW` is not denied by `type == SOCK_RAW`"]
        );
        for rule in [
            "errno(EPERM) mmap if prot == PROT_WRITE | PROT_EXEC;",
            "trap futex if futex_op == FUTEX_WAKE_OP;",
            "kill_thread openat if arg2 == O_WRONLY;",
            "kill clone if !(flags != CLONE_NEWUSER);",
        ] {
            let w = warnings(&format!("default allow;\n{rule}\n"));
            assert_eq!(w.len(), 1, "{rule}: {w:?}");
        }
    }

    #[test]
    fn inequality_that_lets_a_flag_argument_run_is_warned_about() {
        let w = warnings("default kill;\nallow socket if type != SOCK_RAW;\n");
        assert_eq!(
            w,
            ["a call that sets more bits than `SOCK_RAW` is let through by `type != SOCK_RAW`"]
        );
        let w = warnings("default kill;\nlog mmap if !(prot == PROT_EXEC);\n");
        assert_eq!(w.len(), 1, "{w:?}");
    }

    #[test]
    fn safe_forms_and_other_arguments_are_not_warned_about() {
        for rule in [
            // Masked: the writer chose the bits.
            "kill socket if type & 0xf == SOCK_RAW;",
            "kill mmap if prot & PROT_EXEC != 0;",
            // Equality in an allow rule lets only that set run.
            "allow clone if flags == CLONE_VM | CLONE_FS;",
            // Inequality in a deny rule denies every other set.
            "kill socket if type != SOCK_STREAM;",
            // Zero names no bit.
            "kill clone if flags == 0;",
            // Not a set of flags.
            "kill socket if domain == AF_INET;",
            "kill ioctl if request == TIOCSTI;",
            "kill write if fd == 1;",
            "kill prctl if option == PR_SET_SECCOMP;",
            // Ordering says nothing about bits.
            "kill mmap if prot > 7;",
        ] {
            let w = warnings(&format!("default allow;\n{rule}\n"));
            assert!(w.is_empty(), "{rule}: {w:?}");
        }
    }

    #[test]
    fn no_group_draws_a_warning_and_a_failed_compilation_has_none() {
        let groups: Vec<&str> = crate::groups::GROUPS.iter().map(|g| g.name).collect();
        let c = compile_text(
            "p.policy",
            None,
            &format!("default kill;\nuse {};\n", groups.join(", ")),
            &mut NoIncludes,
        );
        assert!(
            c.result.is_ok() && c.warnings.is_empty(),
            "{:?}",
            c.warnings
        );
        let c = compile_text(
            "p.policy",
            None,
            "default allow;\nkill socket if type == SOCK_RAW;\nallow opne;\n",
            &mut NoIncludes,
        );
        assert!(c.result.is_err() && c.warnings.is_empty());
    }
}
