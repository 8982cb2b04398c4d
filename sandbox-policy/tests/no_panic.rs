//! Hostile input never panics the compiler: random bytes, random token soup, and mutations of
//! valid policies all end in a result or a list of errors. (The cargo-fuzz target in `fuzz/`
//! explores the same property with coverage guidance on a nightly toolchain.)

mod common;

use common::Rng;

use sandbox_policy::{compile_text, groups, NoIncludes};

fn compile(text: &str) {
    let c = compile_text("fuzz.policy", None, text, &mut NoIncludes);
    if c.result.is_err() {
        // Rendering must not panic either, whatever the positions are.
        let rendered = c.render_errors();
        assert!(rendered.contains("error"));
    }
}

const PIECES: [&str; 40] = [
    "default",
    "kill",
    "allow",
    "errno",
    "(",
    ")",
    "EPERM",
    ";",
    ",",
    "if",
    "fd",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "&",
    "&&",
    "|",
    "||",
    "!",
    "-",
    "0",
    "0x",
    "4096",
    "0xffffffffffffffff",
    "read",
    "write",
    "openat",
    "flags",
    "O_RDONLY",
    "use",
    "stdio",
    "include",
    "\"x\"",
    "arg9",
    "/*",
    "//",
    "\n",
];

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng(1);
    for _ in 0..3000 {
        let len = rng.index(200);
        let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        compile(&String::from_utf8_lossy(&bytes));
    }
}

#[test]
fn token_soup_never_panics() {
    let mut rng = Rng(2);
    for _ in 0..5000 {
        let n = rng.index(40);
        let text: Vec<&str> = (0..n).map(|_| PIECES[rng.index(PIECES.len())]).collect();
        compile(&text.join(" "));
    }
}

#[test]
fn mutated_groups_never_panic() {
    let mut rng = Rng(3);
    for group in groups::GROUPS {
        let base = format!("default kill;\n{}", group.text);
        for _ in 0..60 {
            let mut chars: Vec<char> = base.chars().collect();
            for _ in 0..1 + rng.index(4) {
                let i = rng.index(chars.len().max(1));
                match rng.index(3) {
                    0 if !chars.is_empty() => {
                        chars.remove(i.min(chars.len() - 1));
                    }
                    1 => chars.insert(
                        i.min(chars.len()),
                        PIECES[rng.index(PIECES.len())]
                            .chars()
                            .next()
                            .unwrap_or(' '),
                    ),
                    _ => {
                        let j = rng.index(chars.len().max(1));
                        if i < chars.len() && j < chars.len() {
                            chars.swap(i, j);
                        }
                    }
                }
            }
            compile(&chars.into_iter().collect::<String>());
        }
    }
}

/// Compiles `text` on a thread with a 2 MiB stack (a test thread's, smaller than rustc's) and
/// returns the rendered errors; a stack overflow would abort the whole test binary.
fn errors_on_a_small_stack(text: String) -> String {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            let c = compile_text("deep.policy", None, &text, &mut NoIncludes);
            assert!(
                c.result.is_err(),
                "{} bytes of nesting compiled",
                text.len()
            );
            c.render_errors()
        })
        .unwrap()
        .join()
        .unwrap()
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let bangs = format!(
        "default kill;\nallow read if {}fd == 0;\n",
        "!".repeat(200_000)
    );
    assert!(errors_on_a_small_stack(bangs).contains("nested more than 64 levels deep"));
    let parens = format!(
        "default kill;\nallow read if {}fd == 0{};\n",
        "(".repeat(100_000),
        ")".repeat(100_000)
    );
    assert!(errors_on_a_small_stack(parens).contains("nested more than 64 levels deep"));
    let mask = format!(
        "default kill;\nallow openat if flags & {}O_CREAT{} == 0;\n",
        "(".repeat(100_000),
        ")".repeat(100_000)
    );
    assert!(errors_on_a_small_stack(mask).contains("nested more than 64 levels deep"));
}

#[test]
fn endless_chains_are_an_error_not_a_stack_overflow() {
    let chain = vec!["fd == 0"; 100_000].join(" || ");
    let text = format!("default kill;\nallow read if {chain};\n");
    assert!(errors_on_a_small_stack(text).contains("more than 256 comparisons in one condition"));
    // At the limit, the deepest condition still compiles on a small stack: 256 negated
    // comparisons, each under the deepest allowed nesting of parentheses.
    let deepest = format!("{}!(fd == 0){}", "(".repeat(62), ")".repeat(62));
    let chain = vec![deepest.as_str(); 256].join(" || ");
    let text = format!("default kill;\nallow read if {chain};\n");
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            let c = compile_text("long.policy", None, &text, &mut NoIncludes);
            assert!(c.result.is_ok(), "{}", c.render_errors());
        })
        .unwrap()
        .join()
        .unwrap();
}

/// A huge unknown name is reported quickly: suggestions do not run an edit distance that is
/// quadratic in its length against every known name.
#[test]
fn a_megabyte_long_unknown_name_is_an_error_in_good_time() {
    let name = "x".repeat(1 << 20);
    let text = format!("default kill;\nallow {name};\nallow read if {name} == 0;\n");
    let started = std::time::Instant::now();
    let c = compile_text("long-name.policy", None, &text, &mut NoIncludes);
    assert!(c.result.is_err());
    // Without the length bound: one edit distance of 2^20 by ~20 characters against each of
    // ~1,500 known names, per mention. The bound is a hang guard, not a benchmark.
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
}
