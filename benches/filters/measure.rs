//! Program length, executed instructions and cache coverage per generator, evaluated with
//! sandbox-policy's BPF interpreter on native x86_64 calls.

use super::libseccomp_peer::{self, Layout, LibSeccomp};
use super::rules::{allow_args, PeerPolicy};
use super::seccompiler_peer;
use sandbox_policy::eval::{run, SeccompData};
use sandbox_policy::ir::{ArchIr, Decision};
use sandbox_policy::{cache, tables, Action, Arch, SockFilter};

/// The architecture every figure is for.
pub const ARCH: Arch = Arch::X86_64;

/// `SECCOMP_RET_ACTION_FULL` of an allow.
const RET_ALLOW: u32 = 0x7fff_0000;

/// One allowed syscall with arguments the policy allows it with.
pub struct Sample {
    /// Syscall number.
    pub nr: u32,
    /// Arguments that reach `allow`.
    pub args: [u64; 6],
    /// Whether the policy allows it whatever the arguments.
    pub unconditional: bool,
}

/// A syscall mix: names with call counts.
pub type Mix = [(String, u64)];

/// Every syscall of the table `ir` allows for some arguments the search finds.
pub fn samples(ir: &ArchIr) -> Vec<Sample> {
    tables::syscalls(ir.arch)
        .iter()
        .filter_map(|s| {
            let args = allow_args(ir, s.nr)?;
            let unconditional = match ir.syscalls.get(&s.nr) {
                Some(Decision::Always(_)) => true,
                Some(Decision::Branches { .. }) => false,
                None => ir.default.action == Action::Allow,
            };
            Some(Sample {
                nr: s.nr,
                args,
                unconditional,
            })
        })
        .collect()
}

/// A generator's figures for one policy.
pub struct Row {
    /// Generator name.
    pub generator: &'static str,
    /// The figures, or why there are none.
    pub result: Result<Figures, String>,
    /// What the lowering left out.
    pub notes: Vec<String>,
}

/// A program's figures.
pub struct Figures {
    /// Instructions in the program.
    pub len: usize,
    /// Fewest executed instructions over the allowed syscalls.
    pub min: usize,
    /// Mean executed instructions over the allowed syscalls.
    pub mean: f64,
    /// Most executed instructions over the allowed syscalls.
    pub max: usize,
    /// Mean weighted by the syscall mix (allowed calls only).
    pub mix: f64,
    /// The same with calls the kernel's cache answers counted as 0.
    pub mix_uncached: f64,
    /// Unconditionally allowed syscalls served by the cache.
    pub cached: usize,
    /// Unconditionally allowed syscalls.
    pub unconditional: usize,
    /// Allowed samples the program did not allow (a lowering or generator disagreement).
    pub wrong: usize,
}

/// Evaluates `filter` over the samples and the mix.
pub fn figures(filter: &[SockFilter], samples: &[Sample], mix: &Mix) -> Figures {
    let executed: Vec<usize> = samples.iter().map(|s| executed(filter, s)).collect();
    let wrong = samples.iter().filter(|s| !allows(filter, s)).count();
    let uncond: Vec<u32> = samples
        .iter()
        .filter(|s| s.unconditional)
        .map(|s| s.nr)
        .collect();
    let (mix, mix_uncached) = mix_means(filter, samples, mix);
    Figures {
        len: filter.len(),
        min: executed.iter().copied().min().unwrap_or(0),
        mean: mean(&executed),
        max: executed.iter().copied().max().unwrap_or(0),
        mix,
        mix_uncached,
        cached: cache::count_cached(filter, ARCH, &uncond),
        unconditional: uncond.len(),
        wrong,
    }
}

/// Instructions `filter` executes for one sample (0 if the interpreter fails).
fn executed(filter: &[SockFilter], s: &Sample) -> usize {
    run(filter, &SeccompData::native(ARCH, s.nr, s.args)).map_or(0, |o| o.executed)
}

/// Whether `filter` allows the sample.
fn allows(filter: &[SockFilter], s: &Sample) -> bool {
    run(filter, &SeccompData::native(ARCH, s.nr, s.args))
        .is_ok_and(|o| o.ret & 0xffff_0000 == RET_ALLOW)
}

/// The arithmetic mean.
fn mean(xs: &[usize]) -> f64 {
    if xs.is_empty() {
        0.0
    } else {
        xs.iter().sum::<usize>() as f64 / xs.len() as f64
    }
}

/// Mix-weighted mean executed instructions over the mix's allowed calls, plainly and with
/// cached calls counted as 0.
fn mix_means(filter: &[SockFilter], samples: &[Sample], mix: &Mix) -> (f64, f64) {
    let (mut calls, mut total, mut uncached) = (0u64, 0f64, 0f64);
    for (name, count) in mix {
        let Some(spec) = tables::syscall_by_name(ARCH, name) else {
            continue;
        };
        let Some(s) = samples.iter().find(|s| s.nr == spec.nr) else {
            continue;
        };
        let n = executed(filter, s) as f64 * *count as f64;
        calls += count;
        total += n;
        if !(s.unconditional && cache::is_cached_allow(filter, ARCH, s.nr)) {
            uncached += n;
        }
    }
    if calls == 0 {
        (0.0, 0.0)
    } else {
        (total / calls as f64, uncached / calls as f64)
    }
}

/// The share of the mix's calls the policy allows.
pub fn mix_coverage(samples: &[Sample], mix: &Mix) -> (u64, u64) {
    let total: u64 = mix.iter().map(|(_, c)| c).sum();
    let allowed = mix
        .iter()
        .filter(|(name, _)| {
            tables::syscall_by_name(ARCH, name)
                .is_some_and(|s| samples.iter().any(|x| x.nr == s.nr))
        })
        .map(|(_, c)| c)
        .sum();
    (allowed, total)
}

/// The rows of every generator for one policy's IR.
pub fn rows(
    ours: &[SockFilter],
    ir: &ArchIr,
    lib: Option<&LibSeccomp>,
    samples: &[Sample],
    mix: &Mix,
) -> Vec<Row> {
    let mut rows = vec![Row {
        generator: "ours",
        result: Ok(figures(ours, samples, mix)),
        notes: vec![],
    }];
    let peer = PeerPolicy::from_ir(ir);
    let sc = peer
        .as_ref()
        .map_err(Clone::clone)
        .and_then(seccompiler_peer::program);
    rows.push(match sc {
        Ok((prog, notes)) => Row {
            generator: "seccompiler 0.5",
            result: Ok(figures(&prog, samples, mix)),
            notes,
        },
        Err(e) => na("seccompiler 0.5", e),
    });
    let fitted = peer
        .as_ref()
        .map(libseccomp_peer::fit)
        .map_err(Clone::clone);
    for (generator, layout) in [
        ("libseccomp default", Layout::Default),
        ("libseccomp tree", Layout::BinaryTree),
    ] {
        let (result, notes) = match (lib, &fitted) {
            (None, _) => (Err("libseccomp not installed: skipped".to_string()), vec![]),
            (_, Err(e)) => (Err(e.clone()), vec![]),
            (Some(lib), Ok((fitted, notes))) => {
                let result = lib
                    .program(fitted, layout)
                    .map(|prog| figures(&prog, samples, mix));
                (result, notes.clone())
            }
        };
        rows.push(Row {
            generator,
            result,
            notes,
        });
    }
    rows
}

/// A row without figures.
fn na(generator: &'static str, reason: String) -> Row {
    Row {
        generator,
        result: Err(reason),
        notes: vec![],
    }
}
