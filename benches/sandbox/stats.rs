//! Interleaved repetitions and their summaries: every variant of a comparison runs once per
//! round, in an order that rotates (and reverses) from round to round, so slow drifts of a
//! noisy machine reach every variant alike.

use std::time::{Duration, Instant};

/// One thing to time: a name for the table and a closure doing one unit of work.
pub struct Variant<'a> {
    /// The table's row label.
    pub name: String,
    /// One unit of work; `Err` describes why it failed (a benchmark of a failing run is void).
    pub run: Box<dyn Fn() -> Result<(), String> + 'a>,
}

impl<'a> Variant<'a> {
    /// A variant named `name` doing `run`.
    pub fn new(name: impl Into<String>, run: impl Fn() -> Result<(), String> + 'a) -> Self {
        Variant {
            name: name.into(),
            run: Box::new(run),
        }
    }
}

/// Seconds per unit of work, one entry per round, for each variant (in the variants' order).
pub type Rounds = Vec<Vec<f64>>;

/// Runs one unrecorded warm-up unit of every variant (caches, page cache, lazy statics), then
/// `rounds` rounds; in each, every variant does `batch` units back to back and the mean time
/// per unit is recorded. Round `r` starts with variant `r % n` and goes up the list in even
/// rounds and down it in odd ones, so no variant always follows the same one (whatever a
/// variant leaves the kernel to finish, such as a network namespace's teardown, falls on
/// different neighbours). A failing unit aborts the benchmark with the variant's name and
/// reason.
pub fn interleave(variants: &[Variant], rounds: usize, batch: usize) -> Result<Rounds, String> {
    run_rounds(variants, rounds, batch, Duration::ZERO)
}

/// The untimed pause of [`interleave_paced`] as the benchmarks use it: longer than the fork
/// server's idle wait before it makes a spare and than the spare's set-up, so each run starts
/// with the previous one's leftover kernel work (a namespace's teardown, say) mostly done.
pub const SETTLE: Duration = Duration::from_millis(20);

/// Like [`interleave`] with one unit per variant and round, each unit (the warm-up's too)
/// preceded by an untimed `pause`: what a host starting sandboxes now and then, rather than
/// back to back, sees.
pub fn interleave_paced(
    variants: &[Variant],
    rounds: usize,
    pause: Duration,
) -> Result<Rounds, String> {
    run_rounds(variants, rounds, 1, pause)
}

/// [`interleave`], with `pause` slept (untimed) before each batch.
fn run_rounds(
    variants: &[Variant],
    rounds: usize,
    batch: usize,
    pause: Duration,
) -> Result<Rounds, String> {
    let unit = |v: &Variant| (v.run)().map_err(|e| format!("{}: {e}", v.name));
    for v in variants {
        std::thread::sleep(pause);
        unit(v)?;
    }
    let n = variants.len();
    let mut out = vec![Vec::with_capacity(rounds); n];
    for r in 0..rounds {
        for i in round_order(r, n) {
            let v = &variants[i];
            std::thread::sleep(pause);
            let start = Instant::now();
            for _ in 0..batch {
                unit(v)?;
            }
            out[i].push(start.elapsed().as_secs_f64() / batch as f64);
        }
    }
    Ok(out)
}

/// The variant that ran just before variant `i` in round `r` of an [`interleave`] of `n`
/// variants (the previous round's last one when `i` opens the round); `None` in round 0, whose
/// first run follows the untimed warm-up.
pub fn predecessor(r: usize, n: usize, i: usize) -> Option<usize> {
    let pos = round_order(r, n).position(|v| v == i)?;
    match (pos, r) {
        (0, 0) => None,
        (0, _) => round_order(r - 1, n).last(),
        _ => round_order(r, n).nth(pos - 1),
    }
}

/// Variant `i`'s recorded times (one per round, as [`interleave_paced`] records them) of the
/// runs that came just after a run of variant `prev`, in time order.
pub fn runs_after(rounds: &Rounds, i: usize, prev: usize) -> Vec<f64> {
    let n = rounds.len();
    rounds[i]
        .iter()
        .enumerate()
        .filter(|(r, _)| predecessor(*r, n, i) == Some(prev))
        .map(|(_, t)| *t)
        .collect()
}

/// The order of the `n` variants in round `r` (see [`interleave`]): starting at `r % n`, up
/// the list in even rounds and down it in odd ones.
fn round_order(r: usize, n: usize) -> impl Iterator<Item = usize> {
    (0..n).map(move |k| {
        if r % 2 == 0 {
            (r + k) % n
        } else {
            (r + n - k) % n
        }
    })
}

pub use crate::interval::{median, median_ci};

/// The smallest and largest of `xs`.
pub fn range(xs: &[f64]) -> (f64, f64) {
    xs.iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| {
            (lo.min(x), hi.max(x))
        })
}

/// The per-round ratios `a[r] / b[r]`: each round's variants ran side by side, so their
/// ratio cancels most of the machine's drift.
pub fn ratios(a: &[f64], b: &[f64]) -> Vec<f64> {
    a.iter().zip(b).map(|(x, y)| x / y).collect()
}

/// A summary of one variant against a baseline: its median time, the median of its per-round
/// extra time over the baseline, and the median and range of its per-round ratios to it.
pub struct Summary {
    /// Median seconds per unit.
    pub median: f64,
    /// Median of the per-round differences to the baseline, in seconds.
    pub extra: f64,
    /// Median of the per-round ratios to the baseline.
    pub ratio: f64,
    /// Smallest and largest per-round ratio.
    pub spread: (f64, f64),
    /// 95% confidence interval of the median per-round ratio ([`median_ci`]).
    pub ci: (f64, f64),
}

/// The variants' names, in their order (the order of a [`Rounds`] made from them).
pub fn names(variants: &[Variant]) -> Vec<String> {
    variants.iter().map(|v| v.name.clone()).collect()
}

/// The variant named `a` against the one named `b` (per-round ratios), by their `names`;
/// `None` when either is not among them (a peer that is not installed, say).
pub fn compare(names: &[String], rounds: &Rounds, a: &str, b: &str) -> Option<Summary> {
    let i = names.iter().position(|n| n == a)?;
    let j = names.iter().position(|n| n == b)?;
    Some(summarise(&rounds[i], &rounds[j]))
}

/// Summarises `xs` against `base` (both per-round, from the same [`interleave`]).
pub fn summarise(xs: &[f64], base: &[f64]) -> Summary {
    let r = ratios(xs, base);
    let d: Vec<f64> = xs.iter().zip(base).map(|(x, y)| x - y).collect();
    Summary {
        median: median(xs),
        extra: median(&d),
        ratio: median(&r),
        spread: range(&r),
        ci: median_ci(&r),
    }
}

/// A duration in seconds as a short human figure (µs, ms or s).
pub fn human(secs: f64) -> String {
    let d = Duration::from_secs_f64(secs.max(0.0));
    if d < Duration::from_millis(1) {
        format!("{:.1} µs", secs * 1e6)
    } else if d < Duration::from_secs(1) {
        format!("{:.2} ms", secs * 1e3)
    } else {
        format!("{secs:.2} s")
    }
}

/// A signed duration as a short human figure.
pub fn signed(secs: f64) -> String {
    let sign = if secs < 0.0 { "-" } else { "+" };
    format!("{sign}{}", human(secs.abs()))
}

/// One line of a comparison table: name, median time, extra time over the baseline, ratio to
/// the baseline, the 95% confidence interval of that ratio, and its range.
pub fn print_row(name: &str, s: &Summary) {
    println!(
        "  {name:<44} {:>10} {:>11} {:>7.3}x  [{}]  ({:.2}-{:.2})",
        human(s.median),
        signed(s.extra),
        s.ratio,
        crate::interval::show(s.ci, |x| format!("{x:.3}"), "-"),
        s.spread.0,
        s.spread.1
    );
}

/// Prints the header and one row per variant against variant `base`; returns the summaries.
pub fn print_table(variants: &[Variant], rounds: &Rounds, base: usize) -> Vec<Summary> {
    println!(
        "  {:<44} {:>10} {:>11} {:>8}  {}",
        "variant",
        "median",
        "extra",
        "ratio",
        format_args!(
            "[95% CI]  (per-round range; baseline: {})",
            variants[base].name
        )
    );
    variants
        .iter()
        .zip(rounds)
        .map(|(v, xs)| {
            let s = summarise(xs, &rounds[base]);
            print_row(&v.name, &s);
            s
        })
        .collect()
}
