//! `policy!` and the run-time compiler are one pipeline: the same policy compiled at build time
//! by the macro and at run time by `sandbox_policy::compile_file` / `compile_text` must give the
//! same bytes and the same rules, so `sandbox check FILE` and `policy!(file = FILE)` never
//! disagree about what a policy means.

use sandbox_runtime::__private::sandbox_policy::{self as sp, Arch, CompiledPolicy};
use sandbox_runtime::Policy;
use std::path::Path;

/// Every example policy, compiled by the macro. Paths are relative to this crate's manifest
/// directory, as `policy!(file = ...)` reads them.
static FILES: &[(&str, Policy)] = &[
    (
        "../examples/policies/cat.policy",
        sandbox_runtime::policy!(file = "../examples/policies/cat.policy"),
    ),
    (
        "../examples/policies/gzip.policy",
        sandbox_runtime::policy!(file = "../examples/policies/gzip.policy"),
    ),
    (
        "../examples/policies/ls.policy",
        sandbox_runtime::policy!(file = "../examples/policies/ls.policy"),
    ),
    (
        "../examples/policies/python3.policy",
        sandbox_runtime::policy!(file = "../examples/policies/python3.policy"),
    ),
    (
        "../examples/policies/sha256sum.policy",
        sandbox_runtime::policy!(file = "../examples/policies/sha256sum.policy"),
    ),
    (
        "../sandbox-policy/benches/policies/docker-like.policy",
        sandbox_runtime::policy!(file = "../sandbox-policy/benches/policies/docker-like.policy"),
    ),
];

/// The bytes the kernel is given on this machine. (The macro embeds only the program for the
/// target architecture; the other is compiled, checked and left out by `cfg`.)
fn native_bytes(policy: &CompiledPolicy) -> Vec<u8> {
    let arch = Arch::native().expect("a supported architecture");
    let program = policy
        .program(arch)
        .unwrap_or_else(|| panic!("{}: no program for {arch}", policy.origin));
    assert!(!program.filter.is_empty());
    program
        .filter
        .iter()
        .flat_map(|i| i.to_ne_bytes())
        .collect()
}

fn rule_texts(policy: &CompiledPolicy) -> Vec<&str> {
    policy.rules.iter().map(|r| r.text.as_ref()).collect()
}

#[test]
fn every_example_file_compiles_to_the_same_bytes_and_rules() {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let examples = std::fs::read_dir(manifest_dir.join("../examples/policies"))
        .unwrap()
        .filter(|e| {
            let path = e.as_ref().unwrap().path();
            path.extension().is_some_and(|x| x == "policy")
        })
        .count();
    assert_eq!(
        FILES.len() - 1,
        examples,
        "a new example policy: add it to FILES"
    );
    for (path, at_build_time) in FILES {
        let full = manifest_dir.join(path);
        let compilation = sp::compile_file(&full).unwrap();
        let at_run_time = match &compilation.result {
            Ok(c) => &c.policy,
            Err(_) => panic!("{path}:\n{}", compilation.render_errors()),
        };
        assert_eq!(
            native_bytes(at_build_time),
            native_bytes(at_run_time),
            "{path}: native program"
        );
        assert_eq!(at_build_time.default, at_run_time.default, "{path}");
        // The rules are the same, places included: compile_file writes them with the path it
        // was given, the macro with the path as written in `file = ...`.
        let prefix = format!("{}/", manifest_dir.display());
        let run_time_rules: Vec<(String, &str)> = at_run_time
            .rules
            .iter()
            .map(|r| (r.location.replace(&prefix, ""), r.text.as_ref()))
            .collect();
        let build_time_rules: Vec<(String, &str)> = at_build_time
            .rules
            .iter()
            .map(|r| (r.location.to_string(), r.text.as_ref()))
            .collect();
        assert_eq!(build_time_rules, run_time_rules, "{path}: rules");
    }
}

/// The inline policy below, as text.
const INLINE_TEXT: &str = r#"
default errno(EPERM);
use stdio, exit, malloc;
allow openat if dirfd == AT_FDCWD && flags & (O_ACCMODE | O_CREAT | O_TRUNC) == O_RDONLY;
allow socket if domain == AF_UNIX && !(type & SOCK_RAW == SOCK_RAW);
allow fcntl if fd <= 1023 && (cmd == F_GETFL || cmd == F_SETFD);
errno(EACCES) mmap if arg2 & PROT_EXEC == PROT_EXEC && arg4 == -1 && length <= 0x10_0000;
errno(ENOSYS) clone3;
log getrandom;
trap ptrace;
kill_thread tkill;
kill execve;
"#;

/// The line before `INLINE`'s; its `allow openat` is 4 lines further down.
const INLINE_LINE: u32 = line!();
static INLINE: Policy = sandbox_runtime::policy! {
    default errno(EPERM);
    use stdio, exit, malloc;
    allow openat if dirfd == AT_FDCWD && flags & (O_ACCMODE | O_CREAT | O_TRUNC) == O_RDONLY;
    allow socket if domain == AF_UNIX && !(type & SOCK_RAW == SOCK_RAW);
    allow fcntl if fd <= 1023 && (cmd == F_GETFL || cmd == F_SETFD);
    errno(EACCES) mmap if arg2 & PROT_EXEC == PROT_EXEC && arg4 == -1 && length <= 0x10_0000;
    errno(ENOSYS) clone3;
    log getrandom;
    trap ptrace;
    kill_thread tkill;
    kill execve;
};

#[test]
fn an_inline_policy_compiles_like_the_same_text() {
    let compilation = sp::compile_text("inline.policy", None, INLINE_TEXT, &mut sp::NoIncludes);
    let at_run_time = match &compilation.result {
        Ok(c) => &c.policy,
        Err(_) => panic!("{}", compilation.render_errors()),
    };
    assert_eq!(native_bytes(&INLINE), native_bytes(at_run_time));
    assert_eq!(INLINE.default, at_run_time.default);
    // Rule texts are identical. Their locations differ by design: the macro's name this source
    // file and the line and column of each rule in it, the text's name `inline.policy` and
    // lines counted from the string's start; likewise the origins.
    assert_eq!(rule_texts(&INLINE), rule_texts(at_run_time));
    fn openat(p: &CompiledPolicy) -> &str {
        let rule = p.rules.iter().find(|r| r.text.starts_with("allow openat"));
        &rule.unwrap().location
    }
    assert!(
        openat(&INLINE).ends_with(&format!("byte_identity.rs:{}:5", INLINE_LINE + 4)),
        "{}",
        openat(&INLINE)
    );
    assert_eq!(openat(at_run_time), "inline.policy:4:1");
    assert_ne!(INLINE.origin, at_run_time.origin);
}

/// A condition passed through a `macro_rules!` expression fragment is one operand, as Rust
/// reads `$cond && count == 1`: the same bytes as the text with the fragment in parentheses.
macro_rules! errno_if_also_one_byte {
    ($cond:expr) => {
        sandbox_runtime::policy! { default errno(1); errno(2) write if $cond && count == 1; }
    };
}
static THROUGH_FRAGMENT: Policy = errno_if_also_one_byte!(fd == 2 || fd == 3);

#[test]
fn an_expression_fragment_keeps_its_grouping() {
    let compile = |text: &str| {
        let compilation = sp::compile_text("t.policy", None, text, &mut sp::NoIncludes);
        match compilation.result {
            Ok(c) => c.policy,
            Err(_) => panic!("{}", compilation.render_errors()),
        }
    };
    let grouped =
        compile("default errno(1); errno(2) write if (fd == 2 || fd == 3) && count == 1;");
    let ungrouped =
        compile("default errno(1); errno(2) write if fd == 2 || fd == 3 && count == 1;");
    assert_ne!(native_bytes(&grouped), native_bytes(&ungrouped));
    assert_eq!(native_bytes(&THROUGH_FRAGMENT), native_bytes(&grouped));
    assert_eq!(
        rule_texts(&THROUGH_FRAGMENT)[0],
        "errno(2) write if (fd == 2 || fd == 3) && count == 1"
    );
}
