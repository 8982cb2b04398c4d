//! Calls the monitor decides: what one system call costs when the filter sends it to the
//! monitor and the monitor lets it run (every call in learn mode; each call a policy would kill
//! under `--log-violations`), against the same run where the filter lets every call through.
//! `strace -f` is the peer: ptrace, the other way to stop each call in a supervisor.

use crate::ours::{self, Setup};
use crate::peers::Peer;
use crate::stats::{self, Variant};
use crate::{Finding, Mode};
use sandbox_runtime::Status;
use std::cell::Cell;

/// A walk with many cheap calls (about 13,000 on Debian 12's headers).
const ARGV: &[&str] = &["/usr/bin/find", "/usr/include", "-name", "x"];

/// Runs [`ARGV`] in learn mode; returns the number of calls the monitor saw.
fn learn_run(setup: &Setup) -> Result<usize, String> {
    let mut cmd = setup.command(ARGV);
    cmd.learn();
    let mut child = cmd.spawn().map_err(|e| format!("cannot spawn: {e}"))?;
    let calls = child
        .observations()
        .ok_or("learn mode gave no observations")?
        .iter()
        .count();
    match child.wait().status {
        Status::Exited(0 | 1) => Ok(calls),
        s => Err(format!("ended with {s:?}")),
    }
}

/// The variants' names; each supervisor is compared with the same run without it.
const FILTERED: &str = "ours: `default allow;` (no call reaches the monitor)";
const LEARN: &str = "ours: learn mode (every call reaches the monitor)";
const BARE: &str = "bare (no sandbox, no tracer)";
const STRACE: &str = "strace -f (ptrace stops every call)";

/// Runs the comparison; returns any failure.
pub fn run(mode: Mode) -> Vec<Finding> {
    println!("== Calls the monitor decides: {} ==", ARGV.join(" "));
    if let Some(missing) = ["/usr/bin/find", "/usr/include"]
        .iter()
        .find(|p| !std::path::Path::new(p).exists())
    {
        println!("NOTICE: skipped, {missing} does not exist here\n");
        return Vec::new();
    }
    let allow_all = ours::compile("allow-all", ours::ALLOW_ALL_POLICY);
    let filtered = Setup::with_usr(Some(&allow_all));
    let calls = Cell::new(0usize);
    let mut variants = vec![
        Variant::new(FILTERED, || filtered.run(ARGV, &[0, 1], false)),
        Variant::new(LEARN, || learn_run(&filtered).map(|n| calls.set(n))),
    ];
    let strace = std::process::Command::new("strace")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    if strace {
        variants.push(Variant::new(BARE, || Peer::Bare.run(ARGV, &[0, 1], false)));
        variants.push(Variant::new(STRACE, || {
            let mut argv = vec!["strace", "-f", "-qq", "-o", "/dev/null"];
            argv.extend_from_slice(ARGV);
            Peer::Bare.run(&argv, &[0, 1], false)
        }));
    } else {
        println!("NOTICE: strace is not installed; its rows are skipped");
    }
    let rounds = mode.pick(3, 21);
    println!("{rounds} interleaved rounds of 1");
    let times = match stats::interleave(&variants, rounds, 1) {
        Ok(t) => t,
        Err(e) => return vec![Finding::Failed(format!("notifications: {e}"))],
    };
    stats::print_table(&variants, &times, 0);
    // Each supervisor against the same run without it: ours against the filtered sandbox,
    // strace against bare `find` (its own run outside any sandbox).
    if calls.get() == 0 {
        return vec![Finding::Failed(
            "calls the monitor decides: learn mode saw no call, so there is no per-call figure"
                .into(),
        )];
    }
    let n = calls.get() as f64;
    println!(
        "  extra time per call (median of per-round differences, over the {} calls learn mode saw):",
        calls.get()
    );
    let names = stats::names(&variants);
    for (a, b) in [(LEARN, FILTERED), (STRACE, BARE)] {
        // strace's pair is missing when strace is not installed (announced above).
        if let Some(s) = stats::compare(&names, &times, a, b) {
            println!("    {a:<50} {:>10}  (over {b})", stats::human(s.extra / n));
        }
    }
    println!();
    Vec::new()
}
