//! Sandboxes against their peers: start-up, throughput, memory per idle sandbox, the
//! overhead on real programs and the cost of a call the monitor decides, each figure a ratio
//! to a baseline or peer measured in the same run (medians of interleaved repetitions).
//!
//! `cargo bench --bench sandbox` runs the full mode; `SANDBOX_BENCH_QUICK=1` (or `--quick`)
//! a short one for CI (about a minute). Baselines: plain fork+exec and `std::process::Command`'s
//! own spawn (`posix_spawn`); peers: util-linux `unshare`,
//! bubblewrap (`bwrap`), firejail and `strace -f`; a missing peer is announced and its rows
//! skipped (a target it was needed for counts as missed), and nsjail and minijail, which
//! Debian does not package, are announced as missing. Targets are printed;
//! `SANDBOX_BENCH_STRICT=1` (or `--strict`) makes a missed one a failure.
//! `SANDBOX_BENCH_ONLY=startup,throughput,memory,overhead,floor,notify,split` (any subset) runs
//! only those sections; `split` needs root (it records the kernel's exec and exit events with
//! ftrace) and is skipped with a notice without it. `SANDBOX_BENCH_CPU=N` pins the whole run
//! to CPU N before anything starts, so that every program it times, bare or sandboxed, and
//! every reader of their output share that one CPU: a diagnostic that takes the scheduler's
//! placement of a program and its reader across CPUs out of the ratios (see
//! `benches/after_effect.py`); the README's tables are of unpinned runs.

#[path = "common/interval.rs"]
mod interval;
#[path = "common/machine.rs"]
mod machine;
#[path = "sandbox/memory.rs"]
mod memory;
#[path = "sandbox/notify.rs"]
mod notify;
#[path = "sandbox/ours.rs"]
mod ours;
#[path = "sandbox/overhead.rs"]
mod overhead;
#[path = "sandbox/peers.rs"]
mod peers;
#[path = "sandbox/split.rs"]
mod split;
#[path = "sandbox/startup.rs"]
mod startup;
#[path = "sandbox/stats.rs"]
mod stats;
#[path = "sandbox/throughput.rs"]
mod throughput;
#[path = "sandbox/trace.rs"]
mod trace;

/// What a section found besides its tables.
pub enum Finding {
    /// A target of the issue not met (a failure only in strict mode).
    Missed(String),
    /// A benchmark could not run: a sandbox or peer failed (always a failure).
    Failed(String),
}

/// Quick (CI) or full (the README's tables).
#[derive(Clone, Copy, Debug)]
pub enum Mode {
    /// Few repetitions.
    Quick,
    /// Enough repetitions for stable medians.
    Full,
}

impl Mode {
    /// `quick` in quick mode, `full` in full mode.
    pub fn pick<T>(self, quick: T, full: T) -> T {
        match self {
            Mode::Quick => quick,
            Mode::Full => full,
        }
    }
}

/// Whether a flag is given as an argument or its environment variable is `1`.
fn flag(arg: &str, env: &str) -> bool {
    std::env::args().any(|a| a == arg) || std::env::var(env).is_ok_and(|v| v == "1")
}

/// Whether `SANDBOX_BENCH_ONLY` (a comma-separated list) is unset or names `section`.
fn selected(section: &str) -> bool {
    std::env::var("SANDBOX_BENCH_ONLY").map_or(true, |v| v.split(',').any(|s| s.trim() == section))
}

/// Pins this process to the CPU `SANDBOX_BENCH_CPU` names, if it names one; every thread and
/// process started afterwards inherits the pin. Returns the CPU, or why it cannot pin.
fn pin_from_env() -> Result<Option<usize>, String> {
    let Ok(value) = std::env::var("SANDBOX_BENCH_CPU") else {
        return Ok(None);
    };
    let cpu: usize = value
        .trim()
        .parse()
        .map_err(|_| format!("SANDBOX_BENCH_CPU={value:?} is not a CPU number"))?;
    let mut set = nix::sched::CpuSet::new();
    set.set(cpu)
        .map_err(|_| format!("SANDBOX_BENCH_CPU={cpu} is beyond the CPUs a set can name"))?;
    nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set)
        .map_err(|e| format!("cannot pin to CPU {cpu} (SANDBOX_BENCH_CPU): {e}"))?;
    Ok(Some(cpu))
}

/// The load average over the last minute, to judge how noisy the run was.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

fn main() {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    // Before anything starts, so that the fork server and every program inherit it.
    let pinned = match pin_from_env() {
        Ok(p) => p,
        Err(e) => {
            println!("FAILED: {e}");
            std::process::exit(1);
        }
    };
    // First, while this process is small: the "fork server" variants are cloned from it.
    if let Err(e) = sandbox_runtime::start_fork_server() {
        println!("FAILED: cannot start the fork server: {e}");
        std::process::exit(1);
    }
    let mode = if flag("--quick", "SANDBOX_BENCH_QUICK") {
        Mode::Quick
    } else {
        Mode::Full
    };
    let strict = flag("--strict", "SANDBOX_BENCH_STRICT");
    let pin = pinned.map_or(String::new(), |c| {
        format!(" (this run pinned to CPU {c} by SANDBOX_BENCH_CPU)")
    });
    println!(
        "{mode:?} mode; {cpus} CPUs{pin}; load average {} at start\n{}\n",
        load_average(),
        machine::describe()
    );
    let mut findings = Vec::new();
    let mut checked = Vec::new();
    let mut medians = Vec::new();
    if selected("startup") {
        let (m, missed) = startup::run(mode);
        medians = m;
        findings.extend(missed);
        checked.push(
            "start-up faster than bwrap and within 3x of fork+exec without a network namespace",
        );
    }
    if selected("throughput") {
        findings.extend(throughput::run(mode, &medians));
    }
    if selected("memory") {
        findings.extend(memory::run());
    }
    if selected("overhead") {
        findings.extend(overhead::run(mode));
        checked.push("realistic policies within 5% of bare");
    }
    if selected("floor") {
        findings.extend(overhead::floor(mode));
    }
    if selected("notify") {
        findings.extend(notify::run(mode));
    }
    if selected("split") {
        findings.extend(split::run(mode));
    }
    report(&findings, &checked, strict);
}

/// Prints the targets' outcome and the failures; exits non-zero on a failure, or on a missed
/// target in strict mode.
fn report(findings: &[Finding], checked: &[&str], strict: bool) {
    println!("== Targets (load average {} at the end) ==", load_average());
    let (mut missed, mut failed) = (0, 0);
    for f in findings {
        match f {
            Finding::Missed(m) => {
                missed += 1;
                println!("MISSED: {m}");
            }
            Finding::Failed(m) => {
                failed += 1;
                println!("FAILED: {m}");
            }
        }
    }
    if missed == 0 && failed == 0 && !checked.is_empty() {
        println!("all met: {}", checked.join("; "));
    }
    if failed > 0 || (strict && missed > 0) {
        std::process::exit(1);
    }
}
