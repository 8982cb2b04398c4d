//! The set-id guard laid into a policy's program against the same two programs stacked as two
//! filters: what a sandbox that reaches host files pays per call each way, and at the install
//! (`sandbox_policy::stack`), and what making the host guards' programs costs.

use crate::forked;
use crate::interval;
use crate::wallclock::{self, Config, Probe};
use sandbox_policy::bpf::{ret, BPF_K, BPF_RET};
use sandbox_policy::host_guard::{self, ForeignCalls, Guards};
use sandbox_policy::set_id;
use sandbox_policy::{stack, Arch, NoIncludes, SockFilter};
use std::time::Instant;

/// The start-up benchmark's policy (`examples/startups.rs`), with `write` for the child's answer.
const STARTUP_POLICY: &str = "default kill;\nuse dynamic_startup, malloc, exit;\nallow write;\n";

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
        "policy: docker-like with `read` argument-checked; guard: {} instructions; merged: {} (the policy's {}, then a copy of the guard per return it can change, which only the edges into that return whose calls the guard has rules for take)",
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

/// Prints the time `seccomp()` takes to install the start-up benchmark's policy as the runtime
/// installs it (its kills turned into notifications for the monitor), alone and with the guard:
/// laid in before that conversion (as the runtime does), laid in after it (every kill then runs
/// on into a copy of the guard, for the kernel's cache to work out too), and stacked as a
/// second filter (two installs). Each child installs one variant; the variants take turns.
pub fn install_cost(quick: bool) -> Result<(), String> {
    let compiled =
        sandbox_policy::compile_text("startups.policy", None, STARTUP_POLICY, &mut NoIncludes)
            .result
            .map_err(|_| "the start-up policy does not compile".to_string())?;
    let policy = compiled
        .policy
        .program(Arch::X86_64)
        .ok_or("no x86_64 program")?
        .filter
        .to_vec();
    let guard = set_id::program(Arch::X86_64, ForeignCalls::LeftToPolicy)
        .map_err(|e| format!("the set-id guard: {e}"))?;
    let fits = "the set-id guard does not fit in the start-up policy's program";
    let before = notifying(&stack::merged(&policy, &guard).ok_or(fits)?);
    let after = stack::merged(&notifying(&policy), &guard).ok_or(fits)?;
    let alone = notifying(&policy);
    let variants: [(&str, Vec<&[SockFilter]>); 4] = [
        ("policy alone", vec![&alone]),
        ("guard laid in before the kills' conversion", vec![&before]),
        ("guard laid in after it", vec![&after]),
        (
            "guard stacked under it (two installs)",
            vec![&guard, &alone],
        ),
    ];
    let children = if quick { 10 } else { 300 };
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); variants.len()];
    for _ in 0..children {
        for ((_, programs), out) in variants.iter().zip(&mut times) {
            let answer = forked::run(forked::CHILD_LIMIT, || {
                let start = Instant::now();
                let installed: Result<(), String> =
                    programs.iter().try_for_each(|p| wallclock::install(p));
                let us = start.elapsed().as_secs_f64() * 1e6;
                forked::numbers_line(installed.map(|()| vec![us]))
            })?;
            out.push(forked::read_numbers(&answer, 1)?[0]);
        }
    }
    println!(
        "\n== seccomp() install time of the start-up policy (µs, median of {children} children per variant, in turns; ratio per round to the policy alone, 95% interval) =="
    );
    for ((name, programs), t) in variants.iter().zip(&times) {
        let len: Vec<String> = programs.iter().map(|p| p.len().to_string()).collect();
        let ratio: Vec<f64> = t.iter().zip(&times[0]).map(|(v, a)| v / a).collect();
        let shown = interval::show(interval::median_ci(&ratio), |x| format!("{x:.2}"), "-");
        println!(
            "  {name:<44} {:>7.1} µs  {:>5.2}x [{shown:>11}]  ({} instructions)",
            interval::median(t),
            interval::median(&ratio),
            len.join(" + ")
        );
    }
    Ok(())
}

/// Prints the time making the host guards' programs takes (`host_guard::program` for x86_64,
/// to stack and to run alone), as a spawn does before its first clone that needs them: the
/// set-id guard's set alone, as a spawn that needs only it makes it, against every set, as the
/// fork server makes them before its fork. Rounds alternate the two; the ratio is per round.
pub fn making_cost(quick: bool) -> Result<(), String> {
    let make = |sets: &[Guards]| -> Result<f64, String> {
        let start = Instant::now();
        for &guards in sets {
            for foreign in [ForeignCalls::LeftToPolicy, ForeignCalls::Killed] {
                host_guard::program(Arch::X86_64, guards, foreign)
                    .map_err(|e| format!("the host guards' programs: {e}"))?;
            }
        }
        Ok(start.elapsed().as_secs_f64() * 1e6)
    };
    let rounds = if quick { 5 } else { 201 };
    let (mut one, mut every) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        one.push(make(&[Guards::SET_ID])?);
        every.push(make(&Guards::SOME)?);
    }
    let ratio: Vec<f64> = every.iter().zip(&one).map(|(e, o)| e / o).collect();
    let shown = interval::show(interval::median_ci(&ratio), |x| format!("{x:.2}"), "-");
    println!(
        "\n== Making the host guards' programs (µs, median of {rounds} rounds, in turns) ==\n  the set-id guard's set alone {:>7.1} µs\n  every set                    {:>7.1} µs  {:>5.2}x [{shown:>11}]",
        interval::median(&one),
        interval::median(&every),
        interval::median(&ratio)
    );
    Ok(())
}

/// `program` with its kills turned into notifications, as the runtime installs it under a
/// monitor (`seccomp::prepare` in sandbox-runtime).
fn notifying(program: &[SockFilter]) -> Vec<SockFilter> {
    program
        .iter()
        .map(|&i| {
            let kill = i.code == BPF_RET | BPF_K && i.k & ret::ACTION_FULL == ret::KILL_PROCESS;
            if kill {
                SockFilter::stmt(BPF_RET | BPF_K, ret::USER_NOTIF)
            } else {
                i
            }
        })
        .collect()
}
