//! Warnings: rules that compile and do what they say, but likely not what their writer meant.
//! They never change the program; `sandbox check` prints them, and `policy!` has rustc show them.
//!
//! Among them: a rule with a condition that never applies, because no call meets the condition
//! or an earlier rule decides every call that does (`lint/dead.rs`). A comparison an unsigned argument
//! decides the same way whatever it holds (`fd >= 0` on `read`'s `unsigned int` descriptor is
//! always true, `fd < 0` never), so the rule does less, or more, than it reads. And equality on
//! an argument that holds flags, where extra bits carry the call past the test.
//! `kill socket if type == SOCK_RAW` does not kill `SOCK_RAW | SOCK_CLOEXEC`, and `mmap`
//! ignores `prot` and `flags` bits it does not know, so any such bit dodges an equality.
//! The safe forms test the bits that matter under a mask; in an `allow` rule, `==` is safe (it
//! lets that exact set run) and `!=` is the one extra bits get through.

use crate::arch::Arch;
use crate::diag::Diagnostic;
use crate::ir::{ArchIr, CmpOp, Cond, Decision};
use crate::resolve::{self, CheckedCmp, CheckedPolicy, Expanded};
use crate::syntax::{ActionSyntax, CmpOpSyntax, ConstAtom, ConstExpr, Expr, LeftSide, Rule};
use crate::tables::{self, ArgType};
use std::collections::{BTreeSet, HashMap, HashSet};

mod dead;

/// Arguments, by the tables' names, that hold a set of bits on every syscall that has them
/// (pointers of these names are left out by their type).
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
    "persona",
    "nstype",
    "access_rights",
];

/// Arguments that hold flags beside a value on some syscalls only: (syscall, argument).
const FLAG_ARGUMENTS_OF: &[(&str, &str)] = &[
    ("socket", "type"),
    ("socketpair", "type"),
    ("flock", "operation"),
    // SCHED_RESET_ON_FORK beside the policy.
    ("sched_setscheduler", "policy"),
    // IORING_REGISTER_USE_REGISTERED_RING beside the operation.
    ("io_uring_register", "op"),
];

/// How far an action lets a call go, for comparing a rule with what the call meets when the
/// rule does not match: it runs unrecorded, runs logged, or does not run.
fn reach(action: &ActionSyntax) -> u8 {
    match action {
        ActionSyntax::Allow => 2,
        ActionSyntax::Log => 1,
        ActionSyntax::Errno(_)
        | ActionSyntax::Trap
        | ActionSyntax::KillThread
        | ActionSyntax::Kill => 0,
    }
}

/// What a call meets past one rule: the farthest and the least far reach among the later rules
/// for its syscall (up to the first without a condition) and, if all of them have one, the
/// default.
#[derive(Clone, Copy)]
struct Beyond {
    farthest: u8,
    least: u8,
}

impl Beyond {
    fn only(reach: u8) -> Beyond {
        Beyond {
            farthest: reach,
            least: reach,
        }
    }

    /// What either of the two may lead to.
    fn or(self, other: Beyond) -> Beyond {
        Beyond {
            farthest: self.farthest.max(other.farthest),
            least: self.least.min(other.least),
        }
    }
}

/// The warnings for the rules of `expanded` (the built-in groups' rules draw none: a test holds
/// them to it).
pub fn lint(expanded: &Expanded, irs: &[ArchIr], checked: &CheckedPolicy) -> Vec<Diagnostic> {
    let Some((default, _)) = expanded.defaults.first() else {
        return Vec::new();
    };
    let beyond = beyond_each_rule(expanded, reach(&default.kind));
    let mut warnings = Vec::new();
    warnings.extend(read_implies_exec(expanded, irs));
    // Rules with a comparison that is always false and must hold for the rule to apply: that
    // warning says already why no call meets the rule's condition.
    let mut explained = BTreeSet::new();
    let copies = copies(checked);
    for (index, (flat, beyond)) in expanded.rules.iter().zip(beyond).enumerate() {
        let Some(cond) = &flat.rule.cond else {
            continue;
        };
        if copies.contains(&index) {
            continue;
        }
        if let Some(beyond) = beyond {
            let rule = RuleReach {
                rule: &flat.rule,
                reach: reach(&flat.rule.action.kind),
                beyond,
            };
            each_cmp(cond, false, &mut |cmp, negated| {
                extra_bits(&rule, cmp, negated, &mut warnings)
            });
        }
        let mut needed = Vec::new();
        conjuncts(cond, &mut needed);
        each_cmp(cond, false, &mut |cmp, _| {
            let Some((always, warning)) = fixed_comparison(&flat.rule, cmp) else {
                return;
            };
            if !always && needed.iter().any(|n| std::ptr::eq(*n, cmp)) {
                explained.insert(index);
            }
            warnings.push(warning);
        });
    }
    warnings.extend(dead::dead_rules(expanded, checked, &explained, &copies));
    warnings
}

/// The rules that say again what an earlier rule said, the same text at the same place: a
/// file included twice (a diamond) says each of its rules twice. The copy is no mistake of the
/// writer's and draws no warning of its own.
fn copies(checked: &CheckedPolicy) -> BTreeSet<usize> {
    let mut seen = HashSet::new();
    checked
        .rules
        .iter()
        .enumerate()
        .filter(|(_, m)| !seen.insert((&*m.location, &*m.text)))
        .map(|(index, _)| index)
        .collect()
}

/// The parts of a condition that must each hold for it to hold: the operands of its top-level
/// `&&`s.
fn conjuncts<'e>(expr: &'e Expr, out: &mut Vec<&'e Expr>) {
    match expr {
        Expr::And(a, b) => {
            conjuncts(a, out);
            conjuncts(b, out);
        }
        _ => out.push(expr),
    }
}

/// `READ_IMPLIES_EXEC`, and values of `persona` with it set (not the query, all ones).
const READ_IMPLIES_EXEC: u64 = 0x0040_0000;
const PERSONAS_WITH_IT: [u64; 4] = [
    READ_IMPLIES_EXEC,
    READ_IMPLIES_EXEC | 0x8,
    READ_IMPLIES_EXEC | 0x2_0000,
    READ_IMPLIES_EXEC | 0x2_0008,
];
const PROT_READ: u64 = 1;
const PROT_EXEC: u64 = 4;

/// Warns where the policy keeps `PROT_EXEC` out of `mmap` or `mprotect` yet lets `personality`
/// set `READ_IMPLIES_EXEC`, after which the kernel makes every readable mapping executable, past
/// those rules (they read the call's own `prot`, without the `PROT_EXEC` the kernel adds). The
/// warning points at the rule that lets the persona through, or at the default.
fn read_implies_exec(expanded: &Expanded, irs: &[ArchIr]) -> Option<Diagnostic> {
    for ir in irs {
        let call = |name: &str, args: [u64; 6]| {
            let spec = tables::syscall_by_name(ir.arch, name)?;
            Some(ir.decide(spec.nr, &args))
        };
        // A readable mapping allowed, the same one executable not.
        let keeps_exec_out = [
            ("mmap", [0, 4096, PROT_READ, 0x22, u64::MAX, 0], 2),
            ("mprotect", [0x1000, 4096, PROT_READ, 0, 0, 0], 2),
        ]
        .into_iter()
        .any(|(name, mut args, prot)| {
            let readable = call(name, args).is_some_and(|v| v.action.permits());
            args[prot] |= PROT_EXEC;
            readable && call(name, args).is_some_and(|v| !v.action.permits())
        });
        if !keeps_exec_out {
            continue;
        }
        let decision = tables::syscall_by_name(ir.arch, "personality")
            .and_then(|spec| ir.syscalls.get(&spec.nr));
        let let_through = personas_to_try(decision).into_iter().find_map(|persona| {
            call("personality", [persona, 0, 0, 0, 0, 0]).filter(|v| v.action.permits())
        })?;
        let loc = match let_through.tag.rule_index() {
            Some(i) => expanded.rules.get(i)?.rule.loc,
            None => expanded.defaults.first()?.1,
        };
        let message = "this lets `personality` set `READ_IMPLIES_EXEC`, which makes every \
                       readable mapping executable, past the rules that keep `PROT_EXEC` out of \
                       `mmap` or `mprotect` (they see the call's own `prot`)";
        return Some(Diagnostic::new(loc, message).with_help(
            "allow only the personas the program asks for: `allow personality if persona == \
             0xffffffff;` lets the query glibc makes, `persona & READ_IMPLIES_EXEC == 0` any \
             other without that flag",
        ));
    }
    None
}

/// Values of `persona` with `READ_IMPLIES_EXEC` set to try against the policy's `personality`
/// rules: [`PERSONAS_WITH_IT`], and around every value its rules compare with (the value, one
/// either side, its masked part) with the flag added, which is where a rule's answer can change:
/// `persona == READ_IMPLIES_EXEC | ADDR_NO_RANDOMIZE` or `persona < 0x500000` let one through.
fn personas_to_try(decision: Option<&Decision>) -> Vec<u64> {
    let mut values = Vec::new();
    if let Some(Decision::Branches { branches, .. }) = decision {
        for branch in branches {
            each_ir_cmp(&branch.cond, &mut |c| {
                values.extend([
                    c.value,
                    c.value.wrapping_add(1),
                    c.value.wrapping_sub(1),
                    c.value & c.mask,
                ]);
            });
        }
    }
    // All ones is the query, which sets nothing.
    let around = values
        .into_iter()
        .map(|v| (v | READ_IMPLIES_EXEC) & 0xffff_ffff)
        .filter(|v| *v != 0xffff_ffff);
    PERSONAS_WITH_IT.into_iter().chain(around).collect()
}

/// Calls `f` with each comparison of a lowered condition.
fn each_ir_cmp(cond: &Cond, f: &mut impl FnMut(&crate::ir::Cmp)) {
    match cond {
        Cond::True => {}
        Cond::Cmp(c) => f(c),
        Cond::Not(c) => each_ir_cmp(c, f),
        Cond::All(cs) | Cond::Any(cs) => cs.iter().for_each(|c| each_ir_cmp(c, f)),
    }
}

/// Calls `f` with each comparison of `expr` and whether an odd number of `!` encloses it.
fn each_cmp(expr: &Expr, negated: bool, f: &mut impl FnMut(&Expr, bool)) {
    match expr {
        Expr::Or(a, b) | Expr::And(a, b) => {
            each_cmp(a, negated, f);
            each_cmp(b, negated, f);
        }
        Expr::Not(a) => each_cmp(a, !negated, f),
        Expr::Cmp { .. } => f(expr, negated),
    }
}

/// A warning about a comparison whose result the range of its left side fixes, the same on
/// every syscall and architecture of the rule, with that result: `fd >= 0` on an unsigned
/// descriptor, `fd & 0xff <= 0xff`, `fd & 0 == 0`, `offset <= 0x7fffffffffffffff` on a signed
/// 64-bit offset. The rule reads as conditional but decides every call (or none) alike.
fn fixed_comparison(rule: &Rule, cmp: &Expr) -> Option<(bool, Diagnostic)> {
    let Expr::Cmp {
        arg,
        mask,
        op,
        value,
        loc,
    } = cmp
    else {
        return None;
    };
    let mut found: Option<(bool, Side)> = None;
    // The mask's value on each architecture (a named one may differ).
    let mut masks = BTreeSet::new();
    for (arch, _, spec) in each_use(rule, &arg.text) {
        let bits = spec.ty.bits();
        let mask = match mask {
            Some(m) => Some(resolve::truncate(const_value(arch, m)?, bits)),
            None => None,
        };
        let checked = CheckedCmp {
            arg: 0,
            ty: spec.ty,
            mask,
            op: resolve::cmp_op(*op),
            value: const_value(arch, value)?,
        };
        let always = decided(&checked)?;
        let side = match mask {
            Some(most) => {
                masks.insert(most);
                Side::Masked
            }
            None if spec.ty.signed() => Side::Signed { bits },
            None => Side::Unsigned,
        };
        match found {
            Some(earlier) if earlier != (always, side) => return None,
            _ => found = Some((always, side)),
        }
    }
    let (always, side) = found?;
    let left = LeftSide(arg, mask.as_ref());
    let (why, help) = match side {
        Side::Masked => (
            match masks.iter().collect::<Vec<_>>().as_slice() {
                [0] => format!("`{left}` is always 0"),
                [most] => format!("`{left}` lies between 0 and {most:#x}"),
                _ => format!("`{left}` lies between 0 and the mask's value"),
            },
            "the comparison decides nothing; drop it, or compare with the value meant",
        ),
        Side::Unsigned => (
            format!("`{left}` is unsigned here"),
            "the comparison decides nothing; drop it, or compare with the value meant (an \
             unsigned argument holds -1 as all ones)",
        ),
        Side::Signed { bits } => (
            format!(
                "`{left}` is a signed {bits}-bit number, between -{:#x} and {:#x}",
                1u128 << (bits - 1),
                (1u128 << (bits - 1)) - 1
            ),
            "the comparison decides nothing; drop it, or compare with the value meant",
        ),
    };
    let message = format!("`{cmp}` is always {always}: {why}");
    Some((always, Diagnostic::new(*loc, message).with_help(help)))
}

/// Whether `cmp` holds for every value of its argument (`Some(true)`), for none
/// (`Some(false)`), or depends on it (`None`), by its own reading of the argument
/// ([`CheckedCmp::holds`]). An ordering is monotone in what it compares, so the argument's two
/// extremes settle it: 0 and all ones (a mask takes these to 0 and the mask), or the signed
/// least and greatest. An equality is settled only where a mask of 0 leaves one value (a value
/// outside the mask is refused before this).
fn decided(cmp: &CheckedCmp) -> Option<bool> {
    let at = |x: u64| cmp.holds(&[x, 0, 0, 0, 0, 0]);
    let (least, most) = if cmp.mask.is_none() && cmp.ty.signed() {
        let sign = 1u64 << (cmp.ty.bits() - 1);
        (sign, sign - 1)
    } else {
        (0, u64::MAX)
    };
    let fixed = match cmp.op {
        CmpOp::Eq | CmpOp::Ne => cmp.mask == Some(0),
        _ => at(least) == at(most),
    };
    fixed.then(|| at(least))
}

/// What bounds the left side of a comparison, for the warning's words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    /// `arg & mask`: from 0 to the mask within the argument's width.
    Masked,
    /// An unsigned argument.
    Unsigned,
    /// A signed argument of `bits` bits.
    Signed { bits: u32 },
}

/// The value of a constant on `arch` as the checker reads it (its parts joined with `|`), if
/// `arch` has every name in it.
fn const_value(arch: Arch, value: &ConstExpr) -> Option<i128> {
    value
        .parts
        .iter()
        .try_fold(None, |total: Option<i128>, part| {
            let v = resolve::atom_value(arch, part)?;
            Some(Some(total.map_or(v, |t| t | v)))
        })?
}

/// Each (architecture, syscall, argument spec) that `arg` (a name or `argN`) names among the
/// rule's syscalls, on every architecture that has it.
fn each_use<'r>(
    rule: &'r Rule,
    arg: &'r str,
) -> impl Iterator<Item = (Arch, &'r str, &'static tables::ArgSpec)> + 'r {
    let position = arg
        .strip_prefix("arg")
        .and_then(|n| n.parse::<usize>().ok());
    rule.syscalls.iter().flat_map(move |syscall| {
        Arch::ALL.iter().filter_map(move |&arch| {
            let spec = tables::syscall_by_name(arch, &syscall.text)?;
            let found = spec
                .args
                .iter()
                .find(|a| a.name == arg)
                .or_else(|| position.and_then(|i| spec.args.get(i)))?;
            Some((arch, syscall.text.as_str(), found))
        })
    })
}

/// For each rule, what its syscalls meet past it ([`Beyond`], over all of them), worked out
/// from the last rule back so that it takes one pass.
fn beyond_each_rule(expanded: &Expanded, default: u8) -> Vec<Option<Beyond>> {
    let mut after: HashMap<&str, Beyond> = HashMap::new();
    let mut out = vec![None; expanded.rules.len()];
    for (i, flat) in expanded.rules.iter().enumerate().rev() {
        let own = reach(&flat.rule.action.kind);
        for name in &flat.rule.syscalls {
            let past = after
                .get(name.text.as_str())
                .copied()
                .unwrap_or(Beyond::only(default));
            out[i] = Some(out[i].map_or(past, |b: Beyond| b.or(past)));
            let here = match flat.rule.cond {
                Some(_) => past.or(Beyond::only(own)),
                None => Beyond::only(own),
            };
            after.insert(name.text.as_str(), here);
        }
    }
    out
}

/// A rule with a condition, how far its action lets a call go, and what lies past it.
struct RuleReach<'a> {
    rule: &'a Rule,
    reach: u8,
    beyond: Beyond,
}

/// Warns about a comparison (under an odd number of `!` when `negated`) if it is an equality
/// that extra bits would carry a call past, to where it goes farther: an `==` that holds (`!=`
/// that fails) puts the call under the rule's action, and one more bit sends it past the rule.
fn extra_bits(rule: &RuleReach, cmp: &Expr, negated: bool, out: &mut Vec<Diagnostic>) {
    let Expr::Cmp {
        arg,
        mask: None,
        op: op @ (CmpOpSyntax::Eq | CmpOpSyntax::Ne),
        value,
        loc,
    } = cmp
    else {
        return;
    };
    // Whether the exact value puts the call under this rule's action.
    let exact_matches = (*op == CmpOpSyntax::Eq) != negated;
    let escapes = if exact_matches {
        rule.beyond.farthest > rule.reach
    } else {
        rule.reach > rule.beyond.least
    };
    let Some(bits) = flags_width(rule.rule, &arg.text).filter(|_| escapes) else {
        return;
    };
    // No bit can be added to all ones; and `!= 0` in a permitting rule lets in every call with
    // any bit set, which is what it says.
    if all_ones(value, bits) || (!exact_matches && zero(value)) {
        return;
    }
    let action = action_words(&rule.rule.action.kind);
    let outcome = if exact_matches {
        "escapes"
    } else {
        "falls under"
    };
    let message = format!(
        "a call whose `{}` sets one bit more than the value compared {outcome} this `{action}` \
         rule",
        arg.text
    );
    out.push(Diagnostic::new(*loc, message).with_help(format!(
        "`{}` holds flags a caller may add to the ones named: test only the bits that matter, \
         under a mask (`{} & MASK == VALUE`)",
        arg.text, arg.text
    )));
}

/// The action's keyword, as written.
fn action_words(action: &ActionSyntax) -> &'static str {
    match action {
        ActionSyntax::Allow => "allow",
        ActionSyntax::Log => "log",
        ActionSyntax::Errno(_) => "errno",
        ActionSyntax::Trap => "trap",
        ActionSyntax::KillThread => "kill_thread",
        ActionSyntax::Kill => "kill",
    }
}

/// Whether the constant is 0 on every architecture.
fn zero(value: &ConstExpr) -> bool {
    value.parts.iter().all(|p| match p {
        ConstAtom::Int { value, .. } => *value == 0,
        ConstAtom::Named(n) => Arch::ALL
            .iter()
            .all(|&a| tables::constant(a, &n.text).is_none_or(|v| v == 0)),
    })
}

/// Whether the constant is written with every bit of a `bits`-wide argument set: `-1`, or
/// `0xffffffff` for a 32-bit one.
fn all_ones(value: &ConstExpr, bits: u32) -> bool {
    match value.parts.as_slice() {
        [ConstAtom::Int {
            value: 1,
            negative: true,
            ..
        }] => true,
        [ConstAtom::Int {
            value,
            negative: false,
            ..
        }] => u128::from(*value) == (1u128 << bits) - 1,
        _ => false,
    }
}

/// How many bits `arg` (a name or `argN`) has, if it holds flags for a syscall of the rule on
/// some architecture.
fn flags_width(rule: &Rule, arg: &str) -> Option<u32> {
    each_use(rule, arg).find_map(|(_, syscall, found)| {
        let flags = found.ty != ArgType::Ptr
            && (FLAG_ARGUMENTS.contains(&found.name)
                || FLAG_ARGUMENTS_OF.contains(&(syscall, found.name)));
        flags.then(|| found.ty.bits())
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

    fn count(default: &str, rules: &str) -> usize {
        warnings(&format!("default {default};\n{rules}\n")).len()
    }

    #[test]
    fn equality_that_extra_bits_carry_past_a_denying_rule_is_warned_about() {
        let w = warnings("default allow;\nkill socket if type == SOCK_RAW;\n");
        assert_eq!(
            w,
            ["a call whose `type` sets one bit more than the value compared escapes this `kill` \
              rule"]
        );
        for rule in [
            "errno(EPERM) mmap if prot == PROT_WRITE | PROT_EXEC;",
            "trap futex if futex_op == FUTEX_WAKE_OP;",
            "kill_thread openat if arg2 == O_WRONLY;",
            "kill clone if !(flags != CLONE_NEWUSER);",
            "kill personality if persona == READ_IMPLIES_EXEC;",
            "kill flock if operation == LOCK_EX;",
            "kill setns if nstype == CLONE_NEWUSER;",
            "kill sched_setscheduler if policy == SCHED_IDLE;",
            "kill io_uring_register if op == 1;",
            // All ones is 64 bits wide here.
            "kill mmap if prot == 0xffffffff;",
            // Zero is escaped too: O_RDONLY | O_CLOEXEC is not O_RDONLY.
            "kill openat if flags == O_RDONLY;",
            "kill clone if flags == 0;",
        ] {
            assert_eq!(count("allow", rule), 1, "{rule}");
        }
        // A log rule is escaped too when what lies past it runs unlogged.
        assert_eq!(count("allow", "log socket if type == SOCK_RAW;"), 1);
        // A later rule, not only the default, is where the call goes.
        assert_eq!(
            count("kill", "kill socket if type == SOCK_RAW;\nallow socket;"),
            1
        );
    }

    #[test]
    fn inequality_that_extra_bits_carry_into_a_permitting_rule_is_warned_about() {
        let w = warnings("default kill;\nallow socket if type != SOCK_RAW;\n");
        assert_eq!(
            w,
            [
                "a call whose `type` sets one bit more than the value compared falls under this \
              `allow` rule"
            ]
        );
        assert_eq!(count("kill", "log mmap if !(prot == PROT_EXEC);"), 1);
        // Any bit set is what `!= 0` lets in.
        assert_eq!(count("kill", "allow mmap if prot != PROT_NONE;"), 0);
        assert_eq!(count("kill", "allow clone if flags != -1;"), 0);
    }

    #[test]
    fn personality_that_may_set_read_implies_exec_is_warned_about() {
        let noexec = "kill mmap if prot & PROT_EXEC != 0;\nkill mprotect if prot & PROT_EXEC != 0;";
        for (default, rules) in [
            ("kill", "use mmap_noexec;\nallow personality;"),
            ("kill", "use mmap_noexec;\nlog personality;"),
            (
                "kill",
                "use mmap_noexec;\nallow personality if persona == 0x400000;",
            ),
            (
                "kill",
                "use mmap_noexec;\nallow personality if persona != 0;",
            ),
            // With another flag beside it, or below a bound above it.
            (
                "kill",
                "use mmap_noexec;\nallow personality if persona == READ_IMPLIES_EXEC | ADDR_NO_RANDOMIZE;",
            ),
            (
                "kill",
                "use mmap_noexec;\nallow personality if persona == 0x400001;",
            ),
            (
                "kill",
                "use mmap_noexec;\nallow personality if persona < 0x500000;",
            ),
            // Through the default.
            ("allow", noexec),
        ] {
            let w = warnings(&format!("default {default};\n{rules}\n"));
            assert_eq!(w.len(), 1, "{rules}: {w:?}");
            assert!(w[0].contains("READ_IMPLIES_EXEC"), "{w:?}");
        }
        for (default, rules) in [
            (
                "kill",
                "use mmap_noexec;\nallow personality if persona == 0xffffffff;",
            ),
            (
                "kill",
                "use mmap_noexec;\nallow personality if persona & READ_IMPLIES_EXEC == 0;",
            ),
            ("kill", "use mmap_noexec;\nerrno(EPERM) personality;"),
            (
                "kill",
                "use mmap_noexec;\nallow personality if persona == ADDR_NO_RANDOMIZE || persona < 0x400000;",
            ),
            (
                "allow",
                "errno(EPERM) personality if persona & READ_IMPLIES_EXEC != 0;\n\
                 kill mmap if prot & PROT_EXEC != 0;",
            ),
            // Nothing keeps PROT_EXEC out: the persona adds nothing.
            ("kill", "use malloc;\nallow mmap, mprotect, personality;"),
        ] {
            assert_eq!(count(default, rules), 0, "{rules}");
        }
    }

    #[test]
    fn safe_forms_and_other_arguments_are_not_warned_about() {
        for rule in [
            // Masked: the writer chose the bits.
            "kill socket if type & 0xf == SOCK_RAW;",
            "kill mmap if prot & PROT_EXEC != 0;\nkill personality;",
            // Equality in an allow rule lets only that set run.
            "allow clone if flags == CLONE_VM | CLONE_FS;",
            // Inequality in a deny rule denies every other set.
            "kill socket if type != SOCK_STREAM;",
            // No bit can be added to all ones, -1 or (on 32 bits) 0xffffffff.
            "kill clone if flags == -1;",
            "kill clone if flags == 0xffffffff;",
            // Not a set of flags.
            "kill socket if domain == AF_INET;",
            "kill ioctl if request == TIOCSTI;",
            "kill write if fd == 1;",
            "kill prctl if option == PR_SET_SECCOMP;",
            "kill seccomp if operation == 1;",
            // Pointers named like flags.
            "kill sched_setaffinity if mask == 0x1000;",
            "kill get_mempolicy if mode == 0x1000;",
            // Ordering says nothing about bits.
            "kill mmap if prot > 7;",
        ] {
            assert_eq!(count("allow", rule), 0, "{rule}");
        }
        // Extra bits go where the rule would send the call anyway, or somewhere stricter.
        assert_eq!(count("kill", "kill socket if type == SOCK_RAW;"), 0);
        assert_eq!(count("kill", "errno(EPERM) socket if type == SOCK_RAW;"), 0);
        assert_eq!(count("allow", "allow socket if type != SOCK_RAW;"), 0);
    }

    #[test]
    fn comparisons_an_unsigned_argument_decides_alone_are_warned_about() {
        let w = warnings(
            "default errno(EPERM);\nallow read if fd >= 0;\nkill read if fd == 5;\n\
             allow lseek if fd < 0;\nallow write if count <= 0xffffffffffffffff;\n\
             allow pread64 if count > -1;\n",
        );
        assert_eq!(w.len(), 5, "{w:?}");
        assert!(w[0].contains("`fd >= 0` is always true"), "{w:?}");
        assert!(w[1].contains("`fd < 0` is always false"), "{w:?}");
        assert!(w[2].contains("always true"), "{w:?}");
        assert!(w[3].contains("always false"), "{w:?}");
        // And the `kill` rule after `fd >= 0` never applies, as the first says.
        assert!(w[4].contains("never applies to `read`"), "{w:?}");
        // Signed arguments, other values and masks that leave the test open are fine.
        let none = [
            "allow openat if dirfd >= 0;",
            "allow read if fd >= 3;",
            "allow read if fd < 3;",
            "allow read if fd & 1 >= 1;",
            "allow read if fd & 0xff < 0xff;",
            "allow read if fd & 3 == 0 || fd == 1;",
            "allow mmap if addr == 0;",
            "allow lseek if offset >= 0;",
            "allow lseek if offset < 0x7fffffffffffffff;",
            "allow lseek if offset > -0x8000000000000000;",
            "allow openat if dirfd == 0xffffffff;",
        ];
        for rule in none {
            assert_eq!(
                count("kill", rule),
                0,
                "{rule}: {:?}",
                warnings(&format!("default kill;\n{rule}\n"))
            );
        }
    }

    /// A mask or a signed type bounds the left side too: a comparison those bounds settle is
    /// as fixed as `fd >= 0` on an unsigned descriptor.
    #[test]
    fn comparisons_a_mask_or_a_signed_type_decides_alone_are_warned_about() {
        for (rule, warning) in [
            (
                "allow read if fd & 0 == 0;",
                "`fd & 0 == 0` is always true: `fd & 0` is always 0",
            ),
            (
                "allow read if fd & 0 != 0;",
                "`fd & 0 != 0` is always false: `fd & 0` is always 0",
            ),
            // A mask that joins constants is quoted in parentheses, as the language writes it.
            (
                "allow openat if flags & (O_RDONLY | 0) != 0;",
                "`flags & (O_RDONLY | 0) != 0` is always false: `flags & (O_RDONLY | 0)` is \
                 always 0",
            ),
            // A named mask whose value differs between architectures fixes it on both.
            (
                "allow openat if flags & O_DIRECTORY >= 0;",
                "`flags & O_DIRECTORY >= 0` is always true: `flags & O_DIRECTORY` lies between \
                 0 and the mask's value",
            ),
            (
                "allow read if fd & 0xff <= 0xff;",
                "`fd & 0xff <= 0xff` is always true: `fd & 0xff` lies between 0 and 0xff",
            ),
            (
                "allow read if fd & 1 >= 0;",
                "`fd & 1 >= 0` is always true: `fd & 1` lies between 0 and 0x1",
            ),
            (
                "allow read if fd & 0xff > 0x100;",
                "`fd & 0xff > 0x100` is always false",
            ),
            (
                "allow read if fd & 0xffffffff <= 0xffffffff;",
                "`fd & 0xffffffff <= 0xffffffff` is always true: `fd & 0xffffffff` lies between \
                 0 and 0xffffffff",
            ),
            (
                "allow lseek if offset <= 0x7fffffffffffffff;",
                "`offset <= 0x7fffffffffffffff` is always true: `offset` is a signed 64-bit \
                 number, between -0x8000000000000000 and 0x7fffffffffffffff",
            ),
            (
                "allow lseek if offset >= -0x8000000000000000;",
                "`offset >= -0x8000000000000000` is always true",
            ),
            (
                "allow lseek if offset < -0x8000000000000000;",
                "`offset < -0x8000000000000000` is always false",
            ),
            (
                "allow openat if dirfd > 0x7fffffff;",
                "`dirfd > 0x7fffffff` is always false: `dirfd` is a signed 32-bit number",
            ),
            // Named constants, read on each architecture.
            (
                "allow openat if flags & O_RDONLY != 0;",
                "`flags & O_RDONLY != 0` is always false",
            ),
        ] {
            let w = warnings(&format!("default kill;\n{rule}\n"));
            assert_eq!(w.len(), 1, "{rule}: {w:?}");
            assert!(w[0].contains(warning), "{rule}: {w:?}");
        }
        // A fixed comparison says why no call meets a rule only where the rule needs it to
        // hold: past `||`, or when an earlier rule decides the calls, the rule's own warning
        // comes too.
        for (rules, also) in [
            (
                "allow read if fd == 5;\nkill read if fd == 5 && fd & 0xff <= 0xff;",
                "every call it matches meets an earlier rule first",
            ),
            (
                "allow read if fd == 5;\nkill read if fd == 5 || fd & 0 != 0;",
                "every call it matches meets an earlier rule first",
            ),
            (
                "allow read if fd & 0 != 0 || fd == 1 && fd == 2;",
                "no call meets its condition",
            ),
        ] {
            let w = warnings(&format!("default kill;\n{rules}\n"));
            assert_eq!(w.len(), 2, "{rules}: {w:?}");
            assert!(w[0].contains("is always"), "{rules}: {w:?}");
            assert!(w[1].contains(also), "{rules}: {w:?}");
        }
        // Where it must hold, it says it all.
        let w = warnings("default kill;\nallow read if fd == 1 && fd & 0 != 0;\n");
        assert_eq!(w.len(), 1, "{w:?}");
        // A constant whose value differs between architectures settles the test on one only:
        // no warning (`O_DIRECTORY` is 0x10000 on x86_64, 0x4000 on aarch64).
        let w = warnings("default kill;\nallow openat if flags & 0x4000 >= O_DIRECTORY;\n");
        assert!(w.iter().all(|w| !w.contains("is always")), "{w:?}");
    }

    #[test]
    fn rules_that_never_apply_are_warned_about() {
        for (rules, warning) in [
            (
                "allow read if fd == 1 && fd == 2;",
                "this rule never applies to `read`: no call meets its condition",
            ),
            (
                "allow read, write if count > 5 && count < 3 || !(count != 1 || count != 2);",
                "this rule never applies to `read`, `write`: no call meets its condition",
            ),
            (
                "allow openat if flags & O_DIRECTORY == O_DIRECTORY && flags & 0x4000 == 0;",
                "this rule never applies to `openat` on aarch64: no call meets its condition",
            ),
            // The earlier rule is quoted with its constants as written.
            (
                "allow read if fd & 0o17 < 0x8;\nkill read if fd == 0b101;",
                "this rule never applies to `read`: every call it matches meets an earlier rule \
                 first, such as `allow read if fd & 0o17 < 0x8` (p.policy:2:1)",
            ),
            (
                "allow read if fd < 10;\nkill read if fd == 5 || fd == 9;",
                "this rule never applies to `read`: every call it matches meets an earlier rule \
                 first, such as `allow read if fd < 10` (p.policy:2:1)",
            ),
            (
                "allow read if fd == 3;\nallow read if count > 4096;\n\
                 kill read if fd == 3 && count > 0 || count >= 8192;",
                "this rule never applies to `read`: every call it matches meets an earlier rule \
                 first, such as `allow read if fd == 3` (p.policy:2:1)",
            ),
        ] {
            assert_eq!(warnings(&format!("default kill;\n{rules}\n")), [warning]);
        }
        // A rule the prelude decides first says so, and that no move of it helps.
        let c = compile_text(
            "p.policy",
            None,
            "default kill;\nallow socket if domain == AF_VSOCK;\n",
            &mut NoIncludes,
        );
        assert_eq!(c.warnings.len(), 1, "{}", c.render_warnings());
        let w = &c.warnings[0];
        assert!(
            w.message.contains("such as the prelude's `"),
            "{}",
            w.message
        );
        assert!(
            w.help.as_deref().unwrap_or("").contains("remove this rule"),
            "{w:?}"
        );
        // The runtime's check on `execveat`, first of its branches, is not a rule to name.
        assert_eq!(
            warnings(
                "default kill;\nallow execveat if dirfd == 3;\nkill execveat if dirfd == 3;\n"
            ),
            [
                "this rule never applies to `execveat`: every call it matches meets an earlier \
              rule first, such as `allow execveat if dirfd == 3` (p.policy:2:1)"
            ]
        );
        // A condition a type fixes draws that warning alone.
        assert_eq!(count("kill", "allow read if fd < 0;"), 1);
    }

    #[test]
    fn rules_that_apply_to_some_call_are_not_warned_about() {
        for rules in [
            "allow read if fd == 1;\nallow read if fd == 2;",
            "allow read if fd < 10;\nkill read if fd <= 10;",
            "allow read if fd == 3;\nallow read if count > 4096;\nkill read if count > 0;",
            "allow write if fd == 1 || fd == 2;",
            "allow ioctl if request == TCGETS;\nkill ioctl if request & 0xff == 1;",
            "allow mmap if prot & PROT_EXEC == 0 && flags & MAP_SHARED == 0;",
            "use files_read;\nallow openat if flags & O_ACCMODE == O_WRONLY;",
            "kill ioctl if request == TIOCSTI;\nallow ioctl;",
            "allow openat if flags & O_DIRECTORY == O_DIRECTORY;",
        ] {
            let w = warnings(&format!("default kill;\n{rules}\n"));
            assert!(w.is_empty(), "{rules}: {w:?}");
        }
    }

    #[test]
    fn no_group_draws_a_warning_and_a_failed_compilation_has_none() {
        for default in ["kill", "allow"] {
            let c = compile_text(
                "p.policy",
                None,
                &format!("default {default};\n{}\n", crate::groups::use_every_group()),
                &mut NoIncludes,
            );
            assert!(
                c.result.is_ok() && c.warnings.is_empty(),
                "{:?}",
                c.warnings
            );
        }
        let c = compile_text(
            "p.policy",
            None,
            "default allow;\nkill socket if type == SOCK_RAW;\nallow opne;\n",
            &mut NoIncludes,
        );
        assert!(c.result.is_err() && c.warnings.is_empty());
    }
}
