//! Filters against the peers: seccompiler 0.5 and libseccomp (default linear layout and binary
//! tree), on the same rules.
//!
//! `cargo bench --bench filters` prints, per policy and generator, the program length, the
//! instructions executed per allowed syscall (min / mean / max, native x86_64, evaluated with
//! sandbox-policy's interpreter), the mean weighted by a real program's syscall mix
//! (`benches/data/python3-syscall-mix.txt`), and how many unconditionally allowed syscalls the
//! kernel's constant-action cache serves; then the wall clock per syscall under each filter,
//! and each program's own cost with the filters stacked, each copy placed at random
//! ([`placement`]), and timed in turns ([`turns`]).
//! Quick mode (`SANDBOX_BENCH_QUICK=1` or `--quick`) runs far fewer wall-clock iterations, for CI.
//! `SANDBOX_BENCH_ONLY=stacked`, `SANDBOX_BENCH_STACK`, `SANDBOX_BENCH_SPACING` and
//! `SANDBOX_BENCH_PADDED` choose what the stacked comparison does ([`options`]). Last, the
//! set-id guard merged into ours' program against the same guard stacked under it ([`guard`]);
//! `SANDBOX_BENCH_ONLY=guard` runs that alone.
//! `SANDBOX_BENCH_STRICT=1` (or `--strict`) makes a missed target a failure. A measurement that
//! cannot be made at all (the stacked comparison without ours or the floor, or without a child
//! that finished) fails the run with exit status 2, in every mode.
//!
//! libseccomp is loaded at run time; without it its rows say so and the rest still runs.

#[path = "filters/forked.rs"]
mod forked;
#[path = "filters/guard.rs"]
mod guard;
#[path = "common/interval.rs"]
mod interval;
#[path = "filters/libseccomp_peer.rs"]
mod libseccomp_peer;
#[path = "common/machine.rs"]
mod machine;
#[path = "filters/measure.rs"]
mod measure;
#[path = "filters/options.rs"]
mod options;
#[path = "filters/placement.rs"]
mod placement;
#[path = "filters/policies.rs"]
mod policies;
#[path = "filters/rules.rs"]
mod rules;
#[path = "filters/seccompiler_peer.rs"]
mod seccompiler_peer;
#[path = "filters/turns.rs"]
mod turns;
#[path = "filters/wallclock.rs"]
mod wallclock;

use interval::Placement;
use libseccomp_peer::{Layout, LibSeccomp};
use measure::{Figures, Row, ARCH};
use options::{Only, Options};
use rules::PeerPolicy;
use sandbox_policy::{Compiled, SockFilter};
use wallclock::Config;

/// The docker-like targets: mean executed instructions below minijail's 8.8, and at most
/// 110 instructions.
const DOCKER_MEAN_TARGET: f64 = 8.8;
const DOCKER_LEN_TARGET: usize = 110;

/// The syscall mix: `calls` (4th column) and name (last column) of strace's -c table.
fn load_mix() -> Vec<(String, u64)> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/benches/data/python3-syscall-mix.txt"
    );
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| {
        eprintln!("{path}: {e}; mix columns will be 0");
        String::new()
    });
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            let calls = cols.get(3)?.parse().ok()?;
            let name = cols.last()?;
            (*name != "total").then(|| (name.to_string(), calls))
        })
        .collect()
}

/// One table line.
fn print_row(row: &Row) {
    match &row.result {
        Ok(f) => println!(
            "  {:<20} {:>6} {:>5} {:>8.2} {:>5} {:>8.2} {:>9.2} {:>8} {}",
            row.generator,
            f.len,
            f.min,
            f.mean,
            f.max,
            f.mix,
            f.mix_uncached,
            format!("{}/{}", f.cached, f.unconditional),
            wrong_note(f),
        ),
        Err(reason) => println!("  {:<20} n/a: {reason}", row.generator),
    }
    for note in &row.notes {
        println!("  {:<20}   note: {note}", "");
    }
}

/// A warning when a generator's program denies calls the policy allows.
fn wrong_note(f: &Figures) -> String {
    if f.wrong == 0 {
        String::new()
    } else {
        format!("({} allowed samples denied!)", f.wrong)
    }
}

/// Checks the targets for one policy; returns the misses.
fn check_targets(policy: &str, rows: &[Row]) -> Vec<String> {
    let mut misses = Vec::new();
    let Some(Ok(ours)) = rows.first().map(|r| r.result.as_ref()) else {
        return vec![format!("{policy}: no figures for ours")];
    };
    for row in &rows[1..] {
        if let Ok(f) = &row.result {
            if f.mean < ours.mean {
                misses.push(format!(
                    "{policy}: {} executes fewer instructions on average ({:.2} < {:.2})",
                    row.generator, f.mean, ours.mean
                ));
            }
            if f.mix < ours.mix {
                misses.push(format!(
                    "{policy}: {} has a lower mix-weighted mean ({:.2} < {:.2})",
                    row.generator, f.mix, ours.mix
                ));
            }
        }
    }
    if ours.cached != ours.unconditional {
        misses.push(format!(
            "{policy}: only {}/{} unconditional allows cacheable",
            ours.cached, ours.unconditional
        ));
    }
    if policy == "docker-like" && (ours.mean >= DOCKER_MEAN_TARGET || ours.len > DOCKER_LEN_TARGET)
    {
        misses.push(format!(
            "docker-like: mean {:.2} (target < {DOCKER_MEAN_TARGET}), length {} (target <= {DOCKER_LEN_TARGET})",
            ours.mean, ours.len
        ));
    }
    misses
}

/// The static comparison over every policy; returns the missed targets.
fn static_tables(lib: Option<&LibSeccomp>, mix: &[(String, u64)]) -> Vec<String> {
    println!("== Filter size and executed instructions per allowed syscall ({ARCH}) ==");
    println!("mix = mean weighted by benches/data/python3-syscall-mix.txt over the calls the policy allows;");
    println!("mix-uncached = the same with calls served by the kernel's cache counted as 0;");
    println!(
        "cached = unconditionally allowed syscalls the cache serves / unconditionally allowed.\n"
    );
    let mut misses = Vec::new();
    for bench in policies::all() {
        let Some((ir, program)) = native(&bench.compiled) else {
            println!("{}: no {ARCH} program", bench.name);
            continue;
        };
        let samples = measure::samples(ir);
        let (allowed, total) = measure::mix_coverage(&samples, mix);
        println!(
            "{}: {} allowed syscalls ({} unconditionally); allows {allowed} of the mix's {total} calls",
            bench.name,
            samples.len(),
            samples.iter().filter(|s| s.unconditional).count()
        );
        println!(
            "  {:<20} {:>6} {:>5} {:>8} {:>5} {:>8} {:>9} {:>8}",
            "generator", "insns", "min", "mean", "max", "mix", "mix-uncd", "cached"
        );
        let rows = measure::rows(program, ir, lib, &samples, mix);
        rows.iter().for_each(print_row);
        misses.extend(check_targets(&bench.name, &rows));
        if let Some(row) = with_terminal_guard(&bench.compiled, &samples, mix) {
            print_row(&row);
        }
        println!();
    }
    misses
}

/// Ours with the terminal guard in, the program the compiler makes alongside the policy's own
/// for a sandbox that reaches a host terminal (`sandbox_policy::host_guard`), where it differs:
/// shown under the policy's rows, judged by no target (the policy's own program is what every
/// other sandbox runs).
fn with_terminal_guard(
    compiled: &Compiled,
    samples: &[measure::Sample],
    mix: &[(String, u64)],
) -> Option<Row> {
    let program = compiled.policy.program(ARCH)?;
    if program.terminal_guarded == program.filter {
        return None;
    }
    Some(Row {
        generator: "ours + terminal guard",
        result: Ok(measure::figures(&program.terminal_guarded, samples, mix)),
        notes: vec![],
    })
}

/// The native IR and program of a compiled policy.
fn native(c: &Compiled) -> Option<(&sandbox_policy::ir::ArchIr, &[SockFilter])> {
    let ir = c.irs.iter().find(|ir| ir.arch == ARCH)?;
    let program = c.policy.program(ARCH)?;
    Some((ir, &program.filter))
}

/// The peers in the wall-clock comparison, by the names their rows carry.
const WALL_PEERS: [&str; 3] = ["seccompiler 0.5", "libseccomp default", "libseccomp tree"];

/// The control: ours installed again under another name, so that the comparison shows how far
/// apart the measurement puts two equal programs. It is no peer and no target judges it.
const CONTROL: &str = "ours, a second copy";

/// The start of the padded controls' names (`SANDBOX_BENCH_PADDED`): ours with never-run
/// instructions appended, the same path in a program of another size.
const PADDED: &str = "ours padded to ";

/// Whether a configuration is a control, shown against ours but judged by no target.
fn is_control(name: &str) -> bool {
    name == CONTROL || name.starts_with(PADDED)
}

/// Ours with copies of its last instruction (a return, never reached) appended up to `len`.
fn padded(ours: &[SockFilter], len: usize) -> Option<Vec<SockFilter>> {
    let last = *ours.last()?;
    let mut program = ours.to_vec();
    program.resize(len.max(ours.len()), last);
    Some(program)
}

/// The wall-clock configurations: no filter, the floor, and each generator's program for the
/// docker-like policy with `read` argument-checked, ours again as the [`CONTROL`], and ours
/// padded to each length of `pad_to`.
fn wall_configs(lib: Option<&LibSeccomp>, pad_to: &[usize]) -> Vec<Config> {
    let mut configs = vec![
        Config::new("no filter", None),
        Config::new("floor (ret ALLOW)", Some(wallclock::floor_filter())),
    ];
    let compiled = match policies::docker_read_checked() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("wall-clock policy does not compile: {e}");
            return configs;
        }
    };
    let Some((ir, ours)) = native(&compiled) else {
        return configs;
    };
    configs.push(Config::new("ours", Some(ours.to_vec())));
    configs.push(Config::new(CONTROL, Some(ours.to_vec())));
    let peer = PeerPolicy::from_ir(ir);
    let mut add = |name: &str, program: Result<Vec<SockFilter>, String>| match program {
        Ok(p) => configs.push(Config::new(name, Some(p))),
        Err(e) => println!("  {name}: n/a: {e}"),
    };
    let sc = peer
        .clone()
        .and_then(|p| seccompiler_peer::program(&p).map(|(prog, _)| prog));
    add(WALL_PEERS[0], sc);
    let fitted = peer.map(|p| libseccomp_peer::fit(&p));
    if let (Some(_), Ok((_, notes))) = (lib, &fitted) {
        for note in notes {
            println!("  libseccomp: note: {note}");
        }
    }
    for (name, layout) in [
        (WALL_PEERS[1], Layout::Default),
        (WALL_PEERS[2], Layout::BinaryTree),
    ] {
        let prog = match (lib, &fitted) {
            (None, _) => Err("libseccomp not installed: skipped".to_string()),
            (_, Err(e)) => Err(e.clone()),
            (Some(lib), Ok((fitted, _))) => lib.program(fitted, layout),
        };
        add(name, prog);
    }
    for &len in pad_to {
        configs.push(Config::new(format!("{PADDED}{len}"), padded(ours, len)));
    }
    configs
}

/// Runs and prints the wall-clock comparison; returns the missed targets, or why the stacked
/// comparison could not be measured at all.
fn wall_clock(lib: Option<&LibSeccomp>, opts: &Options) -> Result<Vec<String>, String> {
    let configs = wall_configs(lib, &opts.padded);
    let mut misses = Vec::new();
    if opts.only != Only::Stacked {
        misses.extend(single_filters(&configs, opts));
    }
    let (children, rounds, chunk) = if opts.quick {
        (6, 3, 2_000)
    } else {
        (15, 12, 20_000)
    };
    let plan = Turns {
        children,
        rounds,
        chunk,
        copies_most: opts.stack_most,
        spaced: opts.spaced,
    };
    misses.extend(stacked_cost(&configs, &plan)?);
    Ok(misses)
}

/// Prints the wall clock per call with each filter installed once; returns the missed cached
/// target.
fn single_filters(configs: &[Config], opts: &Options) -> Vec<String> {
    let (n, reps) = if opts.quick {
        (50_000, 3)
    } else {
        (1_000_000, 11)
    };
    println!(
        "== Wall clock per syscall (ns/call, median of {reps} interleaved runs of {n} calls) =="
    );
    println!("policy: docker-like with `allow read if fd == 0 || fd == 1 || fd == 2 || fd == 0xffffffff`;");
    println!(
        "x none, x floor = median per-round ratio to no filter and to the one-instruction `ret ALLOW` filter;"
    );
    println!(
        "insns = instructions the filter runs for the call (c = served by the kernel's cache).\n"
    );
    let probes = wallclock::probes();
    let rounds = wallclock::samples(configs, &probes, n, reps, 1, opts.spaced);
    print!("  {:<20}", "filter");
    for p in &probes {
        print!(" | {:^30}", p.label);
    }
    println!();
    print!("  {:<20}", "");
    for _ in &probes {
        print!(
            " | {:>7} {:>7} {:>7} {:>6}",
            "ns", "x none", "x floor", "insns"
        );
    }
    println!();
    let mut misses = Vec::new();
    for (ci, config) in configs.iter().enumerate() {
        print!("  {:<20}", config.name);
        for (pi, p) in probes.iter().enumerate() {
            let cell = Cell::of(&rounds, ci, pi);
            print_cell(config, p, &cell);
            let cached = config
                .filter
                .as_deref()
                .is_some_and(|f| wallclock::path(f, p).1);
            if config.name == "ours" && cached {
                match cell.x_floor {
                    Some(r) if r <= CACHED_BOUND => {}
                    r => misses.push(format!(
                        "wall clock, {}: ours' cached call is {} the floor's time (target <= {CACHED_BOUND})",
                        p.label,
                        r.map_or("unmeasured".into(), |r| format!("{r:.3}x"))
                    )),
                }
            }
        }
        println!();
    }
    misses
}

/// How [`stacked_cost`] samples: `children` processes, each timing every filter in turns
/// ([`turns::samples`]) for `rounds` rounds of `chunk` calls per probe.
struct Turns {
    /// Child processes, each one sample.
    children: usize,
    /// Rounds per child, after its warm-up round.
    rounds: usize,
    /// Calls per turn.
    chunk: u64,
    /// The most copies of a filter stacked on a thread; every filter is stacked as often as
    /// the kernel takes the longest one, up to this ([`turns::stackable`]).
    copies_most: usize,
    /// Whether the copies are spaced at random ([`placement`]).
    spaced: bool,
}

/// The cost of running each program once, resolved below a nanosecond: every filter is
/// installed the same number of times, as often as the kernel takes the longest program, up
/// to [`Turns::copies_most`] ([`turns::stackable`]), on a thread of its own; the floor's time
/// (a stack of one-instruction filters, which the kernel's cache skips on every call, so its
/// time does not depend on how many) is subtracted per round and the rest divided by the
/// copies.
///
/// Each child process is one sample: where the kernel puts each compiled program moves a
/// program's time by a few percent for the whole life of a child, more than the rounds inside
/// it vary, so a child's rounds are summed up by their median and the verdict is judged across
/// children. Prints ns per run and the ratio to ours, and returns the missed target (ours faster
/// than every peer on calls that run the filter, shown by the whole 95% interval of each peer's
/// ratio to ours across children); fails when no child could measure.
fn stacked_cost(configs: &[Config], plan: &Turns) -> Result<Vec<String>, String> {
    let probes: Vec<wallclock::Probe> = wallclock::probes()
        .into_iter()
        .filter(|p| p.label != "getppid")
        .collect();
    println!("\n  one run of the program, in ns above the floor:");
    let mut kept = Vec::with_capacity(configs.len());
    let mut fits = Vec::with_capacity(configs.len());
    for c in configs.iter().filter(|c| c.filter.is_some()) {
        match turns::stackable(c, plan.copies_most) {
            Ok(n) => {
                kept.push(c.clone());
                fits.push(n);
            }
            Err(why) => println!("  {}: n/a ({why})", c.name),
        }
    }
    let configs = kept;
    // Every filter the same number of times: a stack's own upkeep grows faster than its
    // length (ours ran 29 ns a copy stacked 32 times and 37 ns stacked 65), so filters stacked
    // unequally would not be compared alike.
    let stacked = fits.iter().copied().min().unwrap_or(0);
    println!(
        "  (every filter stacked {stacked} times, the most the kernel takes of the longest program, at most {}; {}; each on a thread of its own; child processes, each the median of {} rounds of {} calls taken in turns; median across children)",
        plan.copies_most,
        if plan.spaced { "each copy placed at random" } else { "packed as the kernel places them" },
        plan.rounds, plan.chunk
    );
    // A peer left out (not installed, or too long to stack) is not beaten: say so.
    let mut misses: Vec<String> = WALL_PEERS
        .iter()
        .filter(|p| !configs.iter().any(|c| c.name == **p))
        .map(|p| format!("wall clock: {p} was not compared stacked"))
        .collect();
    let (Some(floor), Some(ours)) = (
        configs.iter().position(|c| c.name.starts_with("floor")),
        configs.iter().position(|c| c.name == "ours"),
    ) else {
        return Err("stacked wall clock: the floor or ours has no program".into());
    };
    let children = match per_child(&configs, stacked, &probes, plan, floor, ours) {
        Ok(children) => children,
        Err(e) => return Err(format!("stacked wall clock: {e}")),
    };
    println!(
        "  {} of {} child processes finished their rounds",
        children.len(),
        plan.children
    );
    let mut intervals = Vec::new();
    print!("  {:<26}", "filter (copies stacked)");
    for p in &probes {
        print!(" | {:^24}", p.label);
    }
    println!();
    for (ci, config) in configs.iter().enumerate() {
        // Every config left has a filter (`fits`).
        if ci == floor {
            continue;
        }
        print!("  {:<26}", format!("{} (x{stacked})", config.name));
        for (pi, p) in probes.iter().enumerate() {
            let ns: Vec<f64> = children.iter().map(|c| c.ns[ci][pi]).collect();
            let ratio: Vec<f64> = children.iter().map(|c| c.ratio[ci][pi]).collect();
            let ci_of_ratio = interval::median_ci(&ratio);
            let (executed, _) = wallclock::path(config.filter.as_deref().unwrap_or(&[]), p);
            let (Some(ns), Some(r)) = (wallclock::median(ns), wallclock::median(ratio)) else {
                print!(" | {:>24}", "-");
                misses.push(format!(
                    "wall clock, {}: {} not measured stacked",
                    p.label, config.name
                ));
                continue;
            };
            print!(" | {ns:>8.1} ns {r:>5.2}x {executed:>5}");
            if ci == ours {
                continue;
            }
            if is_control(&config.name) {
                intervals.push(format!(
                    "  {}, {}: {r:.2}x ours' time, 95% interval: {} (the same path: the measurement's own spread)",
                    config.name,
                    p.label,
                    interval::show(ci_of_ratio, |x| format!("{x:.3}"), "-")
                ));
                continue;
            }
            let placement = interval::place(ci_of_ratio, 1.0);
            let shown = format!(
                "{r:.2}x ours' time, 95% interval: {}: {}",
                interval::show(ci_of_ratio, |x| format!("{x:.3}"), "-"),
                peer_verdict(placement)
            );
            intervals.push(format!("  {}, {}: {shown}", config.name, p.label));
            // Ahead only when shown: an interval across 1x counts as a miss too.
            if placement != Placement::Above {
                misses.push(format!(
                    "wall clock, {}: {} runs the program in {shown}",
                    p.label, config.name
                ));
            }
        }
        println!();
    }
    println!("  each peer's time to run its program against ours' (median across children of each child's median per-round ratio):");
    for line in &intervals {
        println!("{line}");
    }
    Ok(misses)
}

/// One child process's figures, by configuration and probe (`[config][probe]`).
struct ChildFigures {
    /// The median over its rounds of the ns one run of the program takes.
    ns: Vec<Vec<f64>>,
    /// The median over its rounds of the ratio of that to ours' in the same round.
    ratio: Vec<Vec<f64>>,
}

/// Runs [`Turns::children`] children, every filter stacked `copies` times, and sums each
/// child up. A child that fails is reported and left out; none at all is
/// an error.
fn per_child(
    configs: &[Config],
    copies: usize,
    probes: &[wallclock::Probe],
    plan: &Turns,
    floor: usize,
    ours: usize,
) -> Result<Vec<ChildFigures>, String> {
    let mut children = Vec::with_capacity(plan.children);
    for _ in 0..plan.children {
        let rounds = match turns::samples(
            configs,
            probes,
            plan.chunk,
            plan.rounds,
            copies,
            plan.spaced,
        ) {
            Ok(rounds) => rounds,
            Err(e) => {
                eprintln!("stacked wall clock, one child: {e}");
                continue;
            }
        };
        let per_run = |ci: usize, pi: usize| -> Vec<f64> {
            rounds[ci][pi]
                .iter()
                .zip(&rounds[floor][pi])
                .map(|(t, f)| (t - f) / copies as f64)
                .collect()
        };
        let mut figures = ChildFigures {
            ns: vec![vec![f64::NAN; probes.len()]; configs.len()],
            ratio: vec![vec![f64::NAN; probes.len()]; configs.len()],
        };
        for pi in 0..probes.len() {
            let theirs = per_run(ours, pi);
            for ci in 0..configs.len() {
                let mine = per_run(ci, pi);
                let ratio = mine.iter().zip(&theirs).map(|(m, o)| m / o).collect();
                figures.ns[ci][pi] = wallclock::median(mine).unwrap_or(f64::NAN);
                figures.ratio[ci][pi] = wallclock::median(ratio).unwrap_or(f64::NAN);
            }
        }
        children.push(figures);
    }
    if children.is_empty() {
        return Err("no child process finished its rounds".into());
    }
    Ok(children)
}

/// Whether the 95% interval of a peer's ratio to ours' time shows ours ahead, not ahead, or
/// neither.
fn peer_verdict(placement: Placement) -> &'static str {
    match placement {
        Placement::TooFewRounds => "not decided",
        Placement::Above => "ours ahead: the whole 95% interval is above 1x",
        Placement::AtOrBelow => "ours not ahead: the whole 95% interval is at or below 1x",
        Placement::Straddles => "not decided: the 95% interval straddles 1x",
    }
}

/// What a measurement gave; a measurement that could not be made is not a target missed but a
/// failure of the run (exit status 2), in quick mode too.
fn measured<T>(result: Result<T, String>) -> T {
    result.unwrap_or_else(|e| {
        println!("\nFAILED: {e}");
        std::process::exit(2)
    })
}

/// The set-id guard's comparison ([`guard`]) on the wall clock's policy.
fn guard_comparison(opts: &Options) -> Result<(), String> {
    let compiled = policies::docker_read_checked()?;
    let (_, ours) = native(&compiled).ok_or("no x86_64 program for the wall clock's policy")?;
    guard::merged_against_stacked(ours, opts.quick)?;
    guard::install_cost(opts.quick)?;
    guard::making_cost(opts.quick)
}

/// The cached path's bound: ours within 5% of the floor (a filter the call never runs).
const CACHED_BOUND: f64 = 1.05;

/// One configuration's figures for one probe: the median ns per call, and the medians of the
/// per-round ratios to no filter (configuration 0) and to the floor (configuration 1).
struct Cell {
    ns: Option<f64>,
    x_none: Option<f64>,
    x_floor: Option<f64>,
}

impl Cell {
    fn of(rounds: &[Vec<Vec<f64>>], ci: usize, pi: usize) -> Cell {
        let mine = &rounds[ci][pi];
        let ratio = |base: usize| {
            let r: Vec<f64> = mine
                .iter()
                .zip(&rounds[base][pi])
                .map(|(m, b)| m / b)
                .collect();
            wallclock::median(r)
        };
        Cell {
            ns: wallclock::median(mine.clone()),
            x_none: ratio(0),
            x_floor: ratio(1),
        }
    }
}

/// One wall-clock cell: ns, ratios to no filter and to the floor, and the filter's path.
fn print_cell(config: &Config, probe: &wallclock::Probe, cell: &Cell) {
    let show =
        |v: Option<f64>, digits: usize| v.map_or("-".to_string(), |v| format!("{v:.digits$}"));
    let path = config.filter.as_deref().map_or("-".to_string(), |f| {
        let (executed, cached) = wallclock::path(f, probe);
        if cached {
            "c".to_string()
        } else {
            executed.to_string()
        }
    });
    print!(
        " | {:>7} {:>7} {:>7} {path:>6}",
        show(cell.ns, 1),
        show(cell.x_none, 2),
        show(cell.x_floor, 3)
    );
}

fn main() {
    let opts = match Options::from_env() {
        Ok(opts) => opts,
        Err(e) => {
            eprintln!("filters benchmark: {e}");
            std::process::exit(2);
        }
    };
    println!("{}\n", machine::describe());
    let lib = match LibSeccomp::load() {
        Ok(lib) => Some(lib),
        Err(e) => {
            println!("libseccomp not installed: skipped ({e})\n");
            None
        }
    };
    if opts.only == Only::Guard {
        measured(guard_comparison(&opts));
        return;
    }
    let stacked_only = opts.only == Only::Stacked;
    let mut misses = if stacked_only {
        println!("SANDBOX_BENCH_ONLY=stacked: the instruction tables and the single-filter wall clock are not run\n");
        Vec::new()
    } else {
        static_tables(lib.as_ref(), &load_mix())
    };
    misses.extend(measured(wall_clock(lib.as_ref(), &opts)));
    if !stacked_only {
        measured(guard_comparison(&opts));
    }
    println!("\n== Targets ==");
    if stacked_only {
        println!("only the stacked comparison's target was judged");
    } else if misses.is_empty() {
        println!("all met: ours executes the fewest instructions (mean and mix) on every policy; docker-like mean < {DOCKER_MEAN_TARGET}, length <= {DOCKER_LEN_TARGET}; every unconditional allow cacheable; ours' cached calls within {:.0}% of the floor; ours runs its program faster than every peer's on calls that run the filter, each peer's whole 95% interval above 1x", (CACHED_BOUND - 1.0) * 100.0);
    }
    for m in &misses {
        println!("MISSED: {m}");
    }
    if opts.strict && !misses.is_empty() {
        std::process::exit(1);
    }
}
