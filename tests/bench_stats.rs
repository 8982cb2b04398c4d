//! The benchmarks' statistics, checked here because the benchmarks themselves have no test
//! harness: a wrong interval would silently turn an undecided target into a met one.

#[allow(dead_code)] // the benchmarks' timing helpers are not under test here
#[path = "../benches/sandbox/stats.rs"]
mod stats;

/// The normal approximation of the rank: `n/2 - 1.96 * sqrt(n) / 2`.
fn approximate_rank(n: usize) -> f64 {
    n as f64 / 2.0 - 1.96 * (n as f64).sqrt() / 2.0
}

#[test]
fn the_median_interval_has_the_textbook_ranks() {
    // Exact binomial ranks, as printed in tables of the sign test's interval.
    assert_eq!(stats::median_ci_rank(10), 2);
    assert_eq!(stats::median_ci_rank(100), 40);
    // Too few values for a 95% interval: the full range.
    assert_eq!(stats::median_ci_rank(5), 1);
    assert_eq!(stats::median_ci_rank(1), 1);
}

#[test]
fn the_median_interval_stays_wide_for_many_rounds() {
    // 0.5^n underflows to zero past n = 1074; the interval must not shrink to the median then.
    for n in [301, 601, 1074, 1075, 1201, 5001, 20001] {
        let k = stats::median_ci_rank(n) as f64;
        let approx = approximate_rank(n);
        assert!(
            (k - approx).abs() <= 1.5,
            "n = {n}: rank {k}, about {approx:.1} expected"
        );
    }
}

#[test]
fn the_interval_is_taken_from_the_sorted_values() {
    let xs: Vec<f64> = (1..=100).rev().map(f64::from).collect();
    assert_eq!(stats::median_ci(&xs), (40.0, 61.0));
}
