//! Throughput: sandboxes per second running `/bin/true`, one after another and with
//! [`THREADS`] at once, against `std::process::Command`'s spawn and bubblewrap.

use crate::ours::{self, Setup, TRUE};
use crate::peers::Peer;
use crate::stats::{self, Variant};
use crate::{Finding, Mode};

/// Concurrent spawners (the machine this was written on has 2 cores).
pub const THREADS: usize = 16;

/// Runs `unit` `per_thread` times on each of [`THREADS`] threads; the first error wins.
fn parallel(
    per_thread: usize,
    unit: &(dyn Fn() -> Result<(), String> + Sync),
) -> Result<(), String> {
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|_| s.spawn(move || (0..per_thread).try_for_each(|_| unit())))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err("thread panicked".into())))
            .collect::<Result<Vec<()>, String>>()
            .map(|_| ())
    })
}

/// Prints sequential rates from the start-up medians (seconds per run, by name).
fn sequential(medians: &[(String, f64)]) {
    if medians.is_empty() {
        return;
    }
    println!("  sequential (1 / start-up median above):");
    for (name, secs) in medians {
        println!("    {name:<44} {:>8.0} /s", 1.0 / secs);
    }
}

/// Runs the parallel comparison and prints the sequential rates.
pub fn run(mode: Mode, medians: &[(String, f64)]) -> Vec<Finding> {
    println!("== Throughput: sandboxes per second running /bin/true ==");
    sequential(medians);
    let policy = ours::compile("true", ours::TRUE_POLICY);
    let full = Setup::program_only(Some(&policy));
    let shared = full.sharing_network();
    let per_thread = mode.pick(3, 8);
    let mut variants = vec![
        Variant::new(Peer::Bare.name(), move || {
            parallel(per_thread, &|| Peer::Bare.run(TRUE, &[0], false))
        }),
        Variant::new("ours: full", move || {
            parallel(per_thread, &|| full.run(TRUE, &[0], false))
        }),
        Variant::new("ours: full, share_network(true)", move || {
            parallel(per_thread, &|| shared.run(TRUE, &[0], false))
        }),
    ];
    for peer in [Peer::Bwrap { net: true }, Peer::Bwrap { net: false }] {
        if peer.available() {
            variants.push(Variant::new(peer.name(), move || {
                parallel(per_thread, &|| peer.run(TRUE, &[0], false))
            }));
        }
    }
    let rounds = mode.pick(3, 9);
    println!(
        "  {THREADS} threads in parallel, {per_thread} runs each per round, {rounds} interleaved rounds:"
    );
    let times = match stats::interleave(&variants, rounds, 1) {
        Ok(t) => t,
        Err(e) => return vec![Finding::Failed(format!("throughput: {e}"))],
    };
    let n = (THREADS * per_thread) as f64;
    println!(
        "  {:<44} {:>10} {:>8}  (per-round range)",
        "variant", "rate", "rate ratio"
    );
    for (v, t) in variants.iter().zip(&times) {
        // Rates relative to the first row: the per-round ratio of its time to this one's.
        let s = stats::summarise(&times[0], t);
        println!(
            "  {:<44} {:>8.0}/s {:>7.2}x  ({:.2}-{:.2})",
            v.name,
            n / stats::median(t),
            s.ratio,
            s.spread.0,
            s.spread.1
        );
    }
    println!();
    Vec::new()
}
