//! What one `policy!` expansion costs: the macro spends its time in `sandbox_policy`'s
//! pipeline (parse, expand, resolve, lower, generate both architectures), plus converting
//! rustc's tokens, which is linear and small. This times `compile_text` end to end on
//! policies of realistic and of large size and prints the median of 20 runs.
//!
//! Optimised (as with a `build-override` or release profile):
//!     cargo bench -p sandbox-macros --bench expansion
//! Unoptimised, as proc macros run in a default `cargo build`:
//!     cargo test -p sandbox-macros --bench expansion

use sandbox_policy::tables::{self, ArgType};
use sandbox_policy::{compile_text, groups, Arch, NoIncludes};
use std::time::{Duration, Instant};

const RUNS: usize = 20;

/// About 300 unconditional syscalls and 50 rules with argument conditions, drawn from the
/// x86_64 table (every name also checked against aarch64, where it may not exist).
fn large_policy() -> String {
    let syscalls = tables::syscalls(Arch::X86_64);
    let mut text = String::from("default kill;\n");
    let (plain, rest) = syscalls.split_at(300);
    let names: Vec<&str> = plain.iter().map(|s| s.name).collect();
    for chunk in names.chunks(10) {
        text.push_str(&format!("allow {};\n", chunk.join(", ")));
    }
    let with_args = rest.iter().filter(|s| !s.args.is_empty()).take(50);
    let mut conditions = 0;
    for (i, s) in with_args.enumerate() {
        let arg = s.args[0];
        let cond = match arg.ty {
            ArgType::Ptr => format!("{} == 0", arg.name),
            _ => format!(
                "{a} == {i} || {a} & 0x{m:x} == 0x{m:x} && {a} != {j}",
                a = arg.name,
                m = 1u32 << (i % 16),
                j = i + 100
            ),
        };
        text.push_str(&format!("errno(EPERM) {} if {cond};\n", s.name));
        conditions += 1;
    }
    assert_eq!(conditions, 50, "the table has fewer syscalls than expected");
    text
}

fn every_group() -> String {
    format!("default kill;\n{}\n", groups::use_every_group())
}

/// A typical program's policy: the groups a dynamically linked tool needs and a few rules.
fn typical() -> String {
    "default kill;
use dynamic_startup, malloc, exit, stdio;
allow openat if flags & (O_ACCMODE | O_CREAT | O_TRUNC) == O_RDONLY;
allow fadvise64, getrandom;
"
    .to_string()
}

fn median(name: &str, text: &str) {
    let mut times: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            let c = compile_text("bench.policy", None, text, &mut NoIncludes);
            let elapsed = start.elapsed();
            if c.result.is_err() {
                panic!("{name}:\n{}", c.render_errors());
            }
            std::hint::black_box(c);
            elapsed
        })
        .collect();
    times.sort();
    let c = compile_text("bench.policy", None, text, &mut NoIncludes);
    let compiled = c.result.unwrap();
    let sizes: Vec<String> = compiled
        .policy
        .programs
        .iter()
        .map(|p| format!("{} {} insns", p.arch, p.filter.len()))
        .collect();
    println!(
        "{name:<40} median {:>8.3} ms  (min {:.3}, max {:.3}; {} rules; {})",
        times[RUNS / 2].as_secs_f64() * 1e3,
        times[0].as_secs_f64() * 1e3,
        times[RUNS - 1].as_secs_f64() * 1e3,
        compiled.policy.rules.len(),
        sizes.join(", ")
    );
}

fn main() {
    let profile = if cfg!(debug_assertions) {
        "unoptimised"
    } else {
        "optimised"
    };
    println!("compile_text, median of {RUNS} runs ({profile}):");
    median("typical (4 groups, 2 rules)", &typical());
    median("every built-in group (23)", &every_group());
    median("large (300 syscalls, 50 arg rules)", &large_policy());
}
