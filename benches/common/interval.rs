//! A distribution-free 95% confidence interval for a median, shared by the benchmarks so that
//! their verdicts on per-round ratios are judged on a whole interval, not on a median alone.

/// The median of `xs` (the mean of the middle two for an even count); NaN when empty.
pub fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// A distribution-free 95% confidence interval for the median of `xs`: the `k`-th smallest and
/// `k`-th largest values, with `k` the largest rank such that fewer than `k` of `n` fair coin
/// flips come up heads with probability at most 2.5% (for 10 values the 2nd and 9th, for 100
/// the 40th and 61st). Assumes nothing about the distribution (the machine's noise is far from
/// normal); NaN at both ends when `xs` is too short for one (fewer than 6 values), so that no
/// bound can be judged met on too few rounds.
pub fn median_ci(xs: &[f64]) -> (f64, f64) {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n < 6 {
        return (f64::NAN, f64::NAN);
    }
    // The interval is v[k-1] ..= v[n-k] (1-based ranks k and n-k+1).
    let k = median_ci_rank(n);
    (v[k - 1], v[n - k])
}

/// The rank `k` of [`median_ci`] for `n` values (at least 1): the largest `k` such that fewer
/// than `k` heads in `n` fair coin flips have probability at most 2.5%.
pub fn median_ci_rank(n: usize) -> usize {
    // P(heads = i) for i = 0, 1, ..., by the ratio of successive binomial terms, kept as
    // logarithms: 0.5^n itself is below the smallest f64 from n = 1075 on.
    let mut ln_p = n as f64 * 0.5f64.ln();
    let mut below = 0.0;
    let mut k = 0;
    while k < n / 2 && below + ln_p.exp() <= 0.025 {
        below += ln_p.exp();
        ln_p += ((n - k) as f64 / (k + 1) as f64).ln();
        k += 1;
    }
    // `below` is now P(heads < k).
    k.max(1)
}

/// Where a 95% interval lies against a bound: the one reading every verdict of the benchmarks
/// is built on, so that an interval across the bound is never read as on one side of it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Placement {
    /// Too few values for an interval ([`median_ci`] gave NaN).
    TooFewRounds,
    /// The whole interval is at or below the bound.
    AtOrBelow,
    /// The whole interval is above the bound.
    Above,
    /// The interval has values on both sides of the bound.
    Straddles,
}

/// Where the interval `(lo, hi)` of [`median_ci`] lies against `bound`.
pub fn place((lo, hi): (f64, f64), bound: f64) -> Placement {
    if lo.is_nan() || hi.is_nan() {
        Placement::TooFewRounds
    } else if hi <= bound {
        Placement::AtOrBelow
    } else if lo > bound {
        Placement::Above
    } else {
        Placement::Straddles
    }
}

/// The interval `(lo, hi)` of [`median_ci`] for printing: both ends through `value`, joined
/// by `between`, or "too few rounds" when there is none.
pub fn show((lo, hi): (f64, f64), value: impl Fn(f64) -> String, between: &str) -> String {
    if lo.is_nan() || hi.is_nan() {
        "too few rounds".to_string()
    } else {
        format!("{}{between}{}", value(lo), value(hi))
    }
}
