//! The benchmarks' statistics, checked here because the benchmarks themselves have no test
//! harness: a wrong interval would silently turn an undecided target into a met one.

#[path = "../benches/common/interval.rs"]
mod interval;
#[allow(dead_code)] // the benchmarks' timing helpers are not under test here
#[path = "../benches/sandbox/stats.rs"]
mod stats;

/// The normal approximation of the rank: `n/2 - 1.96 * sqrt(n) / 2`.
fn approximate_rank(n: usize) -> f64 {
    n as f64 / 2.0 - 1.96 * (n as f64).sqrt() / 2.0
}

#[test]
fn the_median_of_an_even_count_is_the_mean_of_the_middle_two() {
    assert_eq!(interval::median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
    assert_eq!(interval::median(&[3.0, 1.0, 2.0]), 2.0);
    assert_eq!(interval::median(&[7.0]), 7.0);
    assert!(interval::median(&[]).is_nan());
}

#[test]
fn the_median_interval_has_the_textbook_ranks() {
    // Exact binomial ranks, as printed in tables of the sign test's interval.
    assert_eq!(interval::median_ci_rank(6), 1);
    assert_eq!(interval::median_ci_rank(9), 2);
    assert_eq!(interval::median_ci_rank(10), 2);
    assert_eq!(interval::median_ci_rank(20), 6);
    assert_eq!(interval::median_ci_rank(100), 40);
}

#[test]
fn too_few_values_have_no_interval() {
    // Below 6 values even the whole range covers the median with less than 95% probability.
    for n in 0..6 {
        let xs: Vec<f64> = (0..n).map(f64::from).collect();
        let (lo, hi) = interval::median_ci(&xs);
        assert!(lo.is_nan() && hi.is_nan(), "{n} values");
    }
}

#[test]
fn the_median_interval_stays_wide_for_many_rounds() {
    // 0.5^n underflows to zero past n = 1074; the interval must not shrink to the median then.
    // The exact ranks (from the binomial distribution), which the normal approximation brackets.
    let exact = [
        (301, 134),
        (601, 276),
        (1074, 505),
        (1075, 505),
        (1201, 567),
        (5001, 2431),
        (20001, 9862),
    ];
    for (n, rank) in exact {
        assert_eq!(interval::median_ci_rank(n), rank, "n = {n}");
        assert!((rank as f64 - approximate_rank(n)).abs() <= 1.0, "n = {n}");
    }
}

#[test]
fn the_interval_is_taken_from_the_sorted_values() {
    let xs: Vec<f64> = (1..=100).rev().map(f64::from).collect();
    assert_eq!(interval::median_ci(&xs), (40.0, 61.0));
}

#[test]
fn each_run_knows_the_run_before_it() {
    // Two variants: round 0 runs 0 then 1, round 1 runs 1 then 0, round 2 runs 0 then 1...
    assert_eq!(stats::predecessor(0, 2, 0), None);
    assert_eq!(stats::predecessor(0, 2, 1), Some(0));
    assert_eq!(stats::predecessor(1, 2, 1), Some(1));
    assert_eq!(stats::predecessor(1, 2, 0), Some(1));
    assert_eq!(stats::predecessor(2, 2, 0), Some(0));
    assert_eq!(stats::predecessor(2, 2, 1), Some(0));
    // Three variants: round 1 runs 1, 0, 2 (starting at 1, down the list).
    assert_eq!(stats::predecessor(1, 3, 1), Some(2));
    assert_eq!(stats::predecessor(1, 3, 0), Some(1));
    assert_eq!(stats::predecessor(1, 3, 2), Some(0));
    assert_eq!(stats::predecessor(0, 3, 7), None);
}

#[test]
fn runs_are_sorted_by_the_run_before_them() {
    // Rounds 0..5 of two variants; each time names its round (variant 1's plus 100).
    let rounds = vec![
        vec![0.0, 1.0, 2.0, 3.0, 4.0],
        vec![100.0, 101.0, 102.0, 103.0, 104.0],
    ];
    // Odd rounds follow variant 1 on both sides, even rounds after the first follow variant 0.
    assert_eq!(stats::runs_after(&rounds, 0, 1), vec![1.0, 3.0]);
    assert_eq!(stats::runs_after(&rounds, 0, 0), vec![2.0, 4.0]);
    assert_eq!(stats::runs_after(&rounds, 1, 1), vec![101.0, 103.0]);
    // Round 0's variant 1 follows variant 0 too.
    assert_eq!(stats::runs_after(&rounds, 1, 0), vec![100.0, 102.0, 104.0]);
}

#[test]
fn an_interval_is_placed_against_a_bound_as_a_whole() {
    use interval::{place, show, Placement};
    assert_eq!(place((1.01, 1.05), 1.05), Placement::AtOrBelow);
    assert_eq!(place((1.051, 1.06), 1.05), Placement::Above);
    assert_eq!(place((1.04, 1.06), 1.05), Placement::Straddles);
    assert_eq!(place((f64::NAN, f64::NAN), 1.05), Placement::TooFewRounds);
    assert_eq!(show((1.0, 2.5), |x| format!("{x:.1}"), "-"), "1.0-2.5");
    assert_eq!(
        show((f64::NAN, f64::NAN), |x| format!("{x:.1}"), "-"),
        "too few rounds"
    );
}
