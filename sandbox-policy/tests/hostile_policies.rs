//! Policy files the `sandbox` tool may be handed by someone else: they must neither lose the
//! prelude's guards at the rule limit nor make the compiler's errors grow without bound.

use sandbox_policy::diag::MAX_ERRORS;
use sandbox_policy::eval::{self, SeccompData};
use sandbox_policy::resolve::MAX_RULES;
use sandbox_policy::{compile_text, Arch, Compilation, NoIncludes, MAX_RENDERED_ERRORS};

const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
const RET_KILL_PROCESS: u32 = 0x8000_0000;
const RET_ERRNO_ENOSYS: u32 = 0x0005_0000 | 38;
const RET_ALLOW: u32 = 0x7fff_0000;
const ACTION_MASK: u32 = 0xffff_0000;

fn compile(text: &str) -> Compilation {
    compile_text("hostile.policy", None, text, &mut NoIncludes)
}

/// `default allow;` and `n` rules that each take a tag.
fn rules(n: usize) -> String {
    let mut text = String::from("default allow;\n");
    text.push_str(&"kill read if fd == 7;\n".repeat(n));
    text
}

/// A policy with as many rules as it may hold keeps every prelude rule: the guards against a
/// filter the program adds, `ptrace` and `io_uring_setup`, and `clone3`'s ENOSYS. One rule
/// more is an error, never a policy without them.
#[test]
fn the_prelude_holds_at_the_rule_limit() {
    let full = compile(&rules(MAX_RULES));
    let compiled = match &full.result {
        Ok(c) => c,
        Err(_) => panic!("{}", full.render_errors()),
    };
    let prog = compiled.policy.program(Arch::X86_64).expect("x86_64");
    let ret = |nr: u32, first: u64| {
        let data = SeccompData::new(AUDIT_ARCH_X86_64, nr, [first, 0, 0, 0, 0, 0]);
        eval::run(&prog.filter, &data).expect("runs").ret
    };
    let (seccomp, prctl, ptrace, io_uring_setup, clone3) = (317, 157, 101, 425, 435);
    assert_eq!(ret(seccomp, 1) & ACTION_MASK, RET_KILL_PROCESS, "seccomp");
    assert_eq!(ret(prctl, 22) & ACTION_MASK, RET_KILL_PROCESS, "prctl");
    assert_eq!(ret(ptrace, 0) & ACTION_MASK, RET_KILL_PROCESS, "ptrace");
    assert_eq!(
        ret(io_uring_setup, 0) & ACTION_MASK,
        RET_KILL_PROCESS,
        "io_uring_setup"
    );
    assert_eq!(ret(clone3, 0), RET_ERRNO_ENOSYS, "clone3");
    assert_eq!(ret(0, 7) & ACTION_MASK, RET_KILL_PROCESS, "read(7)");
    assert_eq!(ret(0, 8), RET_ALLOW, "read(8)");

    let over = compile(&rules(MAX_RULES + 1));
    assert!(over.result.is_err());
    assert!(
        over.render_errors()
            .contains(&format!("a policy may hold at most {MAX_RULES} rules")),
        "{}",
        over.render_errors()
    );
    // The language's reference states the same limit.
    let limit = format!("{},{:03} rules", MAX_RULES / 1000, MAX_RULES % 1000);
    let reference = include_str!("../LANGUAGE.md").replace('\n', " ");
    assert!(
        reference.contains(&format!("more than {limit}")),
        "LANGUAGE.md does not say a policy holds at most {limit}"
    );
}

/// Garbage makes an error a character (`@`), a token (`;`) or a name (an unknown syscall, one
/// listed twice): each stage keeps at most MAX_ERRORS of them, and at most MAX_RENDERED_ERRORS
/// are rendered, each with its line.
#[test]
fn garbage_makes_a_bounded_number_of_errors() {
    let unknown_names: String = (0..5_000).map(|i| format!("allow x{i:07};\n")).collect();
    let one_list = (0..5_000).map(|i| format!("y{i:07}")).collect::<Vec<_>>();
    for garbage in [
        "@".repeat(50_000),
        "@\n".repeat(50_000),
        ";".repeat(50_000),
        "kill".repeat(20_000),
        unknown_names,
        format!("allow {};", one_list.join(", ")),
        format!("allow {}read;", "read, ".repeat(5_000)),
    ] {
        let c = compile(&format!("default kill;\n{garbage}\n"));
        let Err(errors) = &c.result else {
            panic!("garbage compiled");
        };
        assert!(
            (1..=2 * MAX_ERRORS).contains(&errors.len()),
            "{} errors",
            errors.len()
        );
        let shown = c.render_errors();
        let rendered = shown.matches(": error: ").count();
        assert_eq!(rendered, errors.len().min(MAX_RENDERED_ERRORS), "{shown}");
        if errors.len() >= MAX_ERRORS {
            assert!(shown.contains("due to at least "), "{shown}");
        }
        if errors.len() > MAX_RENDERED_ERRORS {
            let more = format!(
                "{} more errors not shown",
                errors.len() - MAX_RENDERED_ERRORS
            );
            assert!(shown.contains(&more), "{shown}");
        }
    }
}

/// A literal that does not read is one error: the 0 the lexer puts in its place draws none of
/// its own from the stages after it (a syscall name expected, an errno out of range).
#[test]
fn a_literal_that_does_not_read_is_one_error() {
    for rule in [
        "allow 32bit_read;",
        "allow read if 0xZZ == 1;",
        "errno(99999999999999999999) write;",
        "allow read if fd == 99999999999999999999;",
    ] {
        assert_one_error(&format!("default kill;\n{rule}\n"));
    }
}

/// Asserts that `text` fails to compile with exactly one error.
fn assert_one_error(text: &str) {
    let c = compile(text);
    let Err(errors) = &c.result else {
        panic!("{text} compiled");
    };
    assert_eq!(errors.len(), 1, "{text}: {}", c.render_errors());
}

/// A `default` statement that does not read is one error: checking does not add that the
/// policy has no default action. Two statements, one of them unread, are still two.
#[test]
fn a_default_that_does_not_read_is_one_error() {
    for default in [
        "default kil;",
        "default;",
        "default errno;",
        "default allow",
    ] {
        assert_one_error(&format!("{default}\nallow read;\n"));
    }
    let c = compile("default kil;\ndefault allow;\nallow read;\n");
    let shown = c.render_errors();
    assert!(shown.contains("unknown action `kil`"), "{shown}");
    assert!(shown.contains("sets its `default` action twice"), "{shown}");
}

/// An errno the kernel keeps for itself (512 to 530, ERESTARTSYS and the like) is refused: a
/// program never sees one, and a filter returning one may have the call restarted.
#[test]
fn kernel_internal_errnos_are_refused() {
    for value in [512, 513, 516, 530] {
        let c = compile(&format!("default kill;\nerrno({value}) read;\n"));
        assert!(
            c.render_errors()
                .contains("one the kernel keeps for itself"),
            "errno({value}): {}",
            c.render_errors()
        );
    }
    for value in [511, 531, 4095] {
        let c = compile(&format!("default kill;\nerrno({value}) read;\n"));
        assert!(c.result.is_ok(), "errno({value}): {}", c.render_errors());
    }
}

/// Warnings are bounded as errors are: a policy of 20,000 rules that never apply renders 100
/// of them and a count of the rest.
#[test]
fn warnings_are_rendered_up_to_a_bound() {
    let text = format!(
        "default allow;\n{}",
        "kill read if fd == 1 && fd == 2;\n".repeat(20_000)
    );
    let c = compile(&text);
    assert!(c.result.is_ok(), "{}", c.render_errors());
    assert_eq!(c.warnings.len(), 20_000);
    let shown = c.render_warnings();
    assert_eq!(
        shown.matches(": warning: this rule never applies").count(),
        MAX_RENDERED_ERRORS
    );
    assert!(shown.ends_with(&format!(
        "warning: {} more warnings not shown\n",
        20_000 - MAX_RENDERED_ERRORS
    )));
}

/// A group named again and again, known or not, is an error each time, up to the bound every
/// stage keeps; a known one is expanded once.
#[test]
fn a_group_named_a_hundred_thousand_times_makes_a_bounded_number_of_errors() {
    for (group, error, expanded) in [
        ("exit", "group `exit` is already used", 1),
        ("nosuch", "unknown group `nosuch`", 0),
    ] {
        let text = format!(
            "default kill;\nuse {group}{};\n",
            format!(", {group}").repeat(100_000)
        );
        let c = compile(&text);
        let Err(errors) = &c.result else {
            panic!("compiled");
        };
        assert_eq!(errors.len(), MAX_ERRORS, "{group}");
        assert!(
            errors[0].message.starts_with(error),
            "{}",
            errors[0].message
        );
        let name = format!("group {group}");
        let copies = c.sources.iter().filter(|(_, s)| s.name == name).count();
        assert_eq!(copies, expanded, "{group}");
    }
}

/// A program too long for the kernel names, in its help, the syscall whose rules make the most
/// comparisons, in how many rules, and how many others make as many, and points at that
/// syscall in its rule that makes the most: where to cut first.
#[test]
fn a_program_too_long_names_where_the_comparisons_are() {
    let rule_of = |name: &str, base: u64, comparisons: u64| {
        let values: Vec<String> = (0..comparisons)
            .map(|i| format!("count == {:#x}", (base + i) << 32 | (base + i)))
            .collect();
        format!("allow {name} if {};\n", values.join(" || "))
    };
    let rule = |name: &str, base: u64| rule_of(name, base, 256);
    // `read` makes 512 comparisons in two rules; `write` and `pread64` 256 each, on a 64-bit
    // argument (two loads a comparison).
    let text = format!(
        "default kill;\n{}{}{}{}",
        rule("read", 1),
        rule("read", 1000),
        rule("write", 2000),
        rule("pread64", 3000)
    );
    let errors = compile(&text).render_errors();
    assert!(
        errors.contains("`read`'s rules make the most comparisons, 512 in 2 rules\n"),
        "{errors}"
    );
    // Four syscalls of 256 each: one is named, and the other three as making as many.
    let text = format!(
        "default kill;\n{}{}{}{}",
        rule("read", 1),
        rule("write", 2000),
        rule("pread64", 3000),
        rule("pwrite64", 4000)
    );
    let errors = compile(&text).render_errors();
    assert!(
        errors
            .contains("rules make the most comparisons, 256 in 1 rule (3 other syscalls' as many)"),
        "{errors}"
    );
    // The error points at `read` in its heavier rule, the third line, not at the policy's end;
    // a rule naming several syscalls is pointed at the one the help names.
    let text = format!(
        "default kill;\n{}{}{}{}",
        rule_of("read", 1, 64),
        rule_of("pwrite64, read", 1000, 256),
        rule("write", 2000),
        rule("pread64", 3000)
    );
    let compilation = compile(&text);
    let errors = compilation.render_errors();
    assert!(
        errors.contains("`read`'s rules make the most comparisons, 320 in 2 rules\n"),
        "{errors}"
    );
    let Err(diagnostics) = &compilation.result else {
        panic!("compiled: {text}");
    };
    let read_on_line_3 = text
        .match_indices("read")
        .map(|(at, _)| at)
        .find(|&at| text[..at].matches('\n').count() == 2);
    for d in diagnostics {
        assert_eq!(Some(d.loc.start as usize), read_on_line_3, "{errors}");
    }
}
