//! Where a run's time goes: the kernel's own timestamps of the program's exec and exit (ftrace's
//! `sched_process_exec` and `sched_process_exit`, on the monotonic clock) split each run, bare
//! and in the fork server's sandbox under the realistic policy, into the launch (from the
//! spawn to the program's exec), the program (its exec to its exit) and the end (its exit to
//! the return of the wait). Runs are paced as in the overhead target's own run, and each phase
//! of ours is compared with bare's in the same round.
//!
//! The events go to a tracefs instance of this process's own (its own buffer, events and
//! clock), removed at the end, so the host's tracing set-up is neither read nor changed. Where
//! tracefs is not mounted, or not writable (not root), or this process sees pids other than the
//! trace's (it runs in a pid namespace of its own), the section prints a notice and is
//! skipped.

use crate::ours::{self, Setup};
use crate::overhead;
use crate::peers::Peer;
use crate::stats::{self, Variant};
use crate::trace::{Event, Kind, StartError, Tracer};
use crate::{Finding, Mode};
use std::cell::RefCell;
use std::path::Path;

/// A program whose run is split, with the policy ours runs it under.
struct Workload {
    name: &'static str,
    argv: &'static [&'static str],
    /// The realistic policy's text.
    policy: &'static str,
}

/// Rounds in quick and full mode.
const ROUNDS: (usize, usize) = (3, 401);

const WORKLOADS: &[Workload] = &[
    Workload {
        name: "/bin/true",
        argv: ours::TRUE,
        policy: ours::TRUE_POLICY,
    },
    Workload {
        name: overhead::PYTHON3.name,
        argv: overhead::PYTHON3.argv,
        policy: overhead::PYTHON3.policy,
    },
];

/// Seconds on the monotonic clock, as the trace's `mono` clock gives them.
fn now() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a live timespec the kernel fills.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// The events the split needs: the sandboxee's fork by init names its pid.
const EVENTS: &[&str] = &[
    "sched_process_fork",
    "sched_process_exec",
    "sched_process_exit",
];

/// A run's three phases in seconds: launch, program, end.
type Phases = [f64; 3];

/// Splits the run from `start` to `end` by `events`: its program is process `pid` itself
/// (bare), or with `forked`, the first child process `pid` made (ours: init, whose first
/// child is the sandboxee). `None` if the program's exec or exit is not among them.
fn phases(events: &[Event], start: f64, end: f64, pid: u32, forked: bool) -> Option<Phases> {
    let within = || events.iter().filter(|e| e.at >= start && e.at <= end);
    let program = if forked {
        within().find_map(|e| match e.kind {
            Kind::Fork { parent, child } if parent == pid => Some(child),
            _ => None,
        })?
    } else {
        pid
    };
    let exec = within().find(|e| e.kind == Kind::Exec { pid: program })?;
    let exit = within().find(|e| e.kind == Kind::Exit { pid: program })?;
    Some([exec.at - start, exit.at - exec.at, end - exit.at])
}

/// Runs `argv` bare and in ours in paced rounds ([`stats::interleave_paced`], as the overhead
/// target's own run; each run with its time limit); returns each round's phases, bare's first,
/// for the rounds whose both runs the trace splits. The trace is read after each run, outside
/// its timed part, so its buffer only ever holds one run's events.
fn measure(
    tracer: &Tracer,
    argv: &[&str],
    served: &Setup,
    rounds: usize,
) -> Result<Vec<[Phases; 2]>, String> {
    let split = [RefCell::new(Vec::new()), RefCell::new(Vec::new())];
    let timed = |k: usize, run: &dyn Fn() -> Result<u32, String>| -> Result<(), String> {
        tracer.take()?;
        let start = now();
        let pid = run()?;
        let end = now();
        let forked = k == 1;
        split[k]
            .borrow_mut()
            .push(phases(&tracer.take()?, start, end, pid, forked));
        Ok(())
    };
    let variants = [
        Variant::new("bare", || {
            timed(0, &|| Peer::Bare.run_pid(argv, &[0], false))
        }),
        Variant::new("ours", || timed(1, &|| served.run_pid(argv, &[0], false))),
    ];
    stats::interleave_paced(&variants, rounds, stats::SETTLE)?;
    drop(variants);
    let [bare, ours] = split.map(RefCell::into_inner);
    // The first run of each is the untimed warm-up.
    Ok(bare
        .iter()
        .zip(&ours)
        .skip(1)
        .filter_map(|(b, o)| Some([(*b)?, (*o)?]))
        .collect())
}

/// Prints one workload's table.
fn print(rounds: &[[Phases; 2]]) {
    println!(
        "  {:<38} {:>10} {:>10} {:>12}  95% interval",
        "phase", "bare", "ours", "ours - bare"
    );
    let names = [
        "launch: spawn to the program's exec",
        "program: its exec to its exit",
        "end: its exit to the wait's return",
    ];
    let column = |k: usize, p: usize| -> Vec<f64> { rounds.iter().map(|r| r[k][p]).collect() };
    let whole = |k: usize| -> Vec<f64> { rounds.iter().map(|r| r[k].iter().sum()).collect() };
    let row = |name: &str, bare: Vec<f64>, ours: Vec<f64>| {
        let d: Vec<f64> = ours.iter().zip(&bare).map(|(o, b)| o - b).collect();
        let ci = stats::median_ci(&d);
        let interval = format!("[{}]", crate::interval::show(ci, stats::signed, " to "));
        println!(
            "  {name:<38} {:>10} {:>10} {:>12}  {interval}",
            stats::human(stats::median(&bare)),
            stats::human(stats::median(&ours)),
            stats::signed(stats::median(&d)),
        );
    };
    for (p, name) in names.iter().enumerate() {
        row(name, column(0, p), column(1, p));
    }
    row("whole run", whole(0), whole(1));
}

/// Runs the split for every workload; a failing run is a failure, a missing tracefs a notice.
pub fn run(mode: Mode) -> Vec<Finding> {
    println!(
        "== Where a run's time goes: bare against the fork server's sandbox under the realistic policy, split by ftrace's exec and exit events, each run after a {} ms pause ==",
        stats::SETTLE.as_millis()
    );
    let tracer = match Tracer::start(EVENTS) {
        Ok(t) => t,
        Err(StartError::Unavailable(why)) => {
            println!("NOTICE: skipped, {why}\n");
            return Vec::new();
        }
        Err(StartError::Failed(e)) => return vec![Finding::Failed(format!("split: {e}"))],
    };
    let mut findings = Vec::new();
    for w in WORKLOADS {
        if !Path::new(w.argv[0]).exists() {
            println!(
                "{}: NOTICE: skipped, {} does not exist here\n",
                w.name, w.argv[0]
            );
            continue;
        }
        let policy = ours::compile(w.name, w.policy);
        let served = Setup::with_usr(Some(&policy)).served();
        let rounds = mode.pick(ROUNDS.0, ROUNDS.1);
        match measure(&tracer, w.argv, &served, rounds) {
            Ok(split) if split.is_empty() => findings.push(Finding::Failed(format!(
                "{}: the trace named no run's exec and exit",
                w.name
            ))),
            Ok(split) => {
                println!("{}: {} of {rounds} rounds split", w.name, split.len());
                print(&split);
                println!();
            }
            Err(e) => findings.push(Finding::Failed(format!("{}: {e}", w.name))),
        }
    }
    findings
}
