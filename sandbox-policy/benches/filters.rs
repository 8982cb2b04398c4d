//! Filter size and executed path length, against seccompiler 0.5 on the same rules.
//!
//! `cargo bench -p sandbox-policy --bench filters [-- FILE.policy ...]` compiles each policy
//! (by default every `benches/policies/*.policy`) and, per architecture, prints the program's
//! length, how many unconditionally allowed syscalls the kernel's constant-action cache answers,
//! and the instructions executed per unconditionally allowed syscall (min / mean / max), then
//! the same for seccompiler's program built from those allowed syscalls, and the time this
//! crate's interpreter takes per call (a proxy: the kernel's JIT is far faster). `--disasm`
//! also lists each program.

use sandbox_policy::action::Action;
use sandbox_policy::bpf::SockFilter;
use sandbox_policy::eval::{self, PathStats, SeccompData};
use sandbox_policy::ir::{ArchIr, Decision};
use sandbox_policy::{cache, compile_file, disasm, tables, Arch};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use seccompiler::{BpfProgram, SeccompAction, SeccompFilter, TargetArch};

/// The policies to measure: the command line's, or the bundled ones.
fn policy_files() -> Vec<PathBuf> {
    let given: Vec<PathBuf> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .map(PathBuf::from)
        .collect();
    if !given.is_empty() {
        return given;
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/policies");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "policy"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// The syscalls of the table that `ir` allows whatever the arguments.
fn unconditionally_allowed(ir: &ArchIr) -> Vec<u32> {
    tables::syscalls(ir.arch)
        .iter()
        .map(|s| s.nr)
        .filter(|nr| match ir.syscalls.get(nr) {
            Some(Decision::Always(v)) => v.action == Action::Allow,
            Some(Decision::Branches { .. }) => false,
            None => ir.default.action == Action::Allow,
        })
        .collect()
}

/// seccompiler's program allowing `allowed` and answering everything else with `default`.
fn seccompiler_program(arch: Arch, allowed: &[u32], default: Action) -> Option<Vec<SockFilter>> {
    let mismatch = match default {
        Action::Allow => SeccompAction::Allow,
        Action::Log => SeccompAction::Log,
        Action::Errno(e) => SeccompAction::Errno(u32::from(e)),
        Action::Trap => SeccompAction::Trap,
        Action::Kill => SeccompAction::KillProcess,
        Action::KillThread => SeccompAction::KillThread,
    };
    let target = match arch {
        Arch::X86_64 => TargetArch::x86_64,
        Arch::Aarch64 => TargetArch::aarch64,
    };
    let rules: BTreeMap<i64, Vec<seccompiler::SeccompRule>> =
        allowed.iter().map(|&nr| (i64::from(nr), vec![])).collect();
    let filter = SeccompFilter::new(rules, mismatch, SeccompAction::Allow, target).ok()?;
    let program: BpfProgram = filter.try_into().ok()?;
    Some(
        program
            .into_iter()
            .map(|i| SockFilter {
                code: i.code,
                jt: i.jt,
                jf: i.jf,
                k: i.k,
            })
            .collect(),
    )
}

/// Nanoseconds this crate's interpreter takes per call, over `nrs`.
fn interpreter_ns(filter: &[SockFilter], arch: Arch, nrs: &[u32]) -> f64 {
    if nrs.is_empty() {
        return 0.0;
    }
    let data: Vec<SeccompData> = nrs
        .iter()
        .map(|&nr| SeccompData::native(arch, nr, [0; 6]))
        .collect();
    let rounds = (200_000 / nrs.len()).max(1);
    let start = Instant::now();
    let mut sink = 0u64;
    for _ in 0..rounds {
        for d in &data {
            sink = sink.wrapping_add(
                eval::run(filter, std::hint::black_box(d)).map_or(0, |o| u64::from(o.ret)),
            );
        }
    }
    std::hint::black_box(sink);
    start.elapsed().as_nanos() as f64 / (rounds * data.len()) as f64
}

fn row(arch: Arch, generator: &str, filter: &[SockFilter], allowed: &[u32], stats: &PathStats) {
    println!(
        "  {:<8} {:<16} {:>6} {:>7} {:>5} {:>7.2} {:>5} {:>9.1}",
        arch.name(),
        generator,
        filter.len(),
        cache::count_cached(filter, arch, allowed),
        stats.min,
        stats.mean,
        stats.max,
        interpreter_ns(filter, arch, allowed),
    );
}

fn main() {
    let files = policy_files();
    if files.is_empty() {
        eprintln!("no policies to measure");
        std::process::exit(1);
    }
    for path in files {
        let compilation = match compile_file(&path) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("{}: {e}", path.display());
                std::process::exit(1);
            }
        };
        let compiled = match &compilation.result {
            Ok(c) => c,
            Err(_) => {
                eprint!("{}", compilation.render_errors());
                std::process::exit(1);
            }
        };
        println!("{}", path.display());
        println!(
            "  {:<8} {:<16} {:>6} {:>7} {:>5} {:>7} {:>5} {:>9}",
            "arch", "generator", "insns", "cached", "min", "mean", "max", "interp ns"
        );
        for ir in &compiled.irs {
            let Some(program) = compiled.policy.program(ir.arch) else {
                continue;
            };
            let allowed = unconditionally_allowed(ir);
            let ours = eval::path_stats(&program.filter, ir.arch, &allowed);
            row(ir.arch, "sandbox-policy", &program.filter, &allowed, &ours);
            match seccompiler_program(ir.arch, &allowed, ir.default.action) {
                Some(theirs) => {
                    let stats = eval::path_stats(&theirs, ir.arch, &allowed);
                    row(ir.arch, "seccompiler 0.5", &theirs, &allowed, &stats);
                }
                None => println!("  {:<8} seccompiler 0.5: cannot express", ir.arch.name()),
            }
            println!(
                "  {:<8} {} unconditionally allowed syscalls",
                "",
                allowed.len()
            );
            if std::env::args().any(|a| a == "--disasm") {
                print!(
                    "{}",
                    disasm::disassemble(&program.filter, ir.arch, Some(&compiled.policy))
                );
            }
        }
    }
}
