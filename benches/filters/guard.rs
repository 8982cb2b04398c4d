//! The set-id guard laid into a policy's program against the same two programs stacked as two
//! filters: what a sandbox that reaches host files pays per call each way
//! (`sandbox_policy::stack`).

use crate::interval;
use crate::wallclock::{self, Config, Probe};
use sandbox_policy::set_id::{self, ForeignCalls};
use sandbox_policy::{stack, Arch, SockFilter};

/// Prints ns per call under the policy alone, the policy with the guard stacked under it, and
/// the two merged into one program, and the per-round ratio of stacked to merged; fails when
/// the programs cannot be made or no round was measured.
pub fn merged_against_stacked(policy: &[SockFilter], quick: bool) -> Result<(), String> {
    let guard = set_id::program(Arch::X86_64, ForeignCalls::LeftToPolicy)
        .map_err(|e| format!("the set-id guard: {e}"))?;
    let merged = stack::merged(policy, &guard)
        .ok_or("the set-id guard does not fit in the policy's program")?;
    let configs = [
        config("policy alone", policy, None),
        config("policy + guard, stacked", policy, Some(&guard)),
        config("policy + guard, merged", &merged, None),
    ];
    let (n, reps) = if quick { (50_000, 3) } else { (1_000_000, 11) };
    println!(
        "\n== The set-id guard, merged into the policy's program against stacked under it (ns/call, median of {reps} interleaved runs of {n} calls) =="
    );
    println!(
        "policy: docker-like with `read` argument-checked; guard: {} instructions; merged: {} (the policy's {}, then a copy of the guard per return it can change)",
        guard.len(),
        merged.len(),
        policy.len()
    );
    let probes = wallclock::probes();
    let rounds = wallclock::samples(&configs, &probes, n, reps, 1, false);
    if rounds.iter().flatten().any(Vec::is_empty) {
        return Err("the set-id guard comparison: no round measured every filter".into());
    }
    print!("  {:<26}", "filter");
    for p in &probes {
        print!(" | {:^20}", p.label);
    }
    println!();
    for (ci, c) in configs.iter().enumerate() {
        print!("  {:<26}", c.name);
        for (pi, p) in probes.iter().enumerate() {
            let ns = interval::median(&rounds[ci][pi]);
            print!(" | {ns:>7.1} ns {:>9}", path(c, p));
        }
        println!();
    }
    print!("  {:<26}", "stacked / merged");
    for (stacked, merged) in rounds[1].iter().zip(&rounds[2]) {
        let ratio: Vec<f64> = stacked.iter().zip(merged).map(|(s, m)| s / m).collect();
        let (lo, hi) = interval::median_ci(&ratio);
        let shown = interval::show((lo, hi), |x| format!("{x:.2}"), "-");
        print!(" | {:>6.3}x [{shown:>11}]", interval::median(&ratio));
    }
    println!();
    Ok(())
}

fn config(name: &str, filter: &[SockFilter], under: Option<&[SockFilter]>) -> Config {
    Config {
        under: under.map(<[SockFilter]>::to_vec),
        ..Config::new(name, Some(filter.to_vec()))
    }
}

/// Instructions run for the probe: `c` where the kernel's cache serves it (under two filters,
/// only where both allow it so: the kernel keeps one cache for the whole stack), else each
/// filter's count, `a+b` for two.
fn path(c: &Config, p: &Probe) -> String {
    let programs: Vec<&[SockFilter]> = c.filter.iter().chain(&c.under).map(Vec::as_slice).collect();
    let paths: Vec<(usize, bool)> = programs.iter().map(|f| wallclock::path(f, p)).collect();
    if paths.iter().all(|&(_, cached)| cached) {
        return "c".into();
    }
    let counts: Vec<String> = paths
        .iter()
        .map(|(executed, _)| executed.to_string())
        .collect();
    counts.join("+")
}
