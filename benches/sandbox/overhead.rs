//! Monitor overhead on real work: syscall-heavy programs bare, in our sandbox without a
//! policy, under a policy allowing everything, and under a realistic kill-by-default policy;
//! bubblewrap side by side, without a filter and with the allow-everything policy's own
//! program as its `--seccomp` filter. The two allow-everything rows, each over its sandbox
//! without a filter, show what running under any filter at all costs a workload, ours or a
//! peer's: mostly the kernel's entry into seccomp on every call (ours adds the one
//! notification of its exec check at the start).
//!
//! Bare again, forked with and without a one-instruction `ret ALLOW` filter, shows the
//! kernel's floor: what any filter costs the workload with no sandbox around it. A section of
//! its own, [`floor`] (`SANDBOX_BENCH_ONLY=floor`), measures that floor and ours over it in the
//! target run's paced design, for the workloads nearest the bound; it judges no target.
//!
//! The target is judged on a second, focused run of only the two variants it is about (bare,
//! and ours under the realistic policy through the fork server), so that its rounds all go to
//! that comparison: on a machine whose speed changes from one run to the next, only many
//! rounds narrow the median's interval. Each of its runs starts after an untimed pause, so
//! that what a sandbox leaves the kernel to finish after its end (its network namespace's
//! teardown, say) is mostly done before the next run. The run prints what is left of it, and
//! judges the target in two readings of its rounds, one of which charges the sandbox with
//! what it leaves itself (see [`leftover_check`]).

use crate::interval::{place, show, Placement};
use crate::ours::{self, Setup};
use crate::peers::Peer;
use crate::stats::{self, Variant};
use crate::{Finding, Mode};

/// The bound: at most this much slower than bare under a realistic policy.
const OVERHEAD_BOUND: f64 = 1.05;

/// A real program and how to run it.
pub struct Workload {
    /// How tables name it.
    pub name: &'static str,
    /// The command line.
    pub argv: &'static [&'static str],
    /// Exit codes counted as success (`find` exits 1 when a directory is unreadable, which
    /// the sandbox's unprivileged user meets where host root does not).
    ok: &'static [i32],
    /// Whether standard output is read to its end by the host (see [`Peer::run`]).
    drain: bool,
    /// The realistic policy's text (`benches/policies/`).
    pub policy: &'static str,
    /// Paths the run needs; without one the workload is skipped with a notice.
    needs: &'static [&'static str],
    /// (rounds, runs per round) in quick and full mode. One run per round in full mode: the
    /// variants then run within a fraction of a second of each other, so the per-round ratio
    /// cancels the machine's slow drifts, and many rounds narrow the median's interval.
    quick: (usize, usize),
    full: (usize, usize),
    /// Rounds of the focused run that judges the target, in quick and full mode.
    verdict: (usize, usize),
    /// Rounds of the paced run against the kernel's floor (see [`floor`]), in quick and full
    /// mode; `None` leaves the workload out of it, with a notice.
    floor: Option<(usize, usize)>,
}

const WORKLOADS: &[Workload] = &[
    Workload {
        name: "find /usr -name x",
        argv: &["/usr/bin/find", "/usr", "-name", "x"],
        ok: &[0, 1],
        drain: false,
        policy: include_str!("../policies/find.policy"),
        needs: &["/usr/bin/find"],
        quick: (3, 1),
        full: (121, 1),
        verdict: (3, 1201),
        // The workload nearest the bound, with the most system calls: where the floor matters.
        floor: Some((3, 1201)),
    },
    Workload {
        name: "tar cf - /usr/include (read by the host)",
        argv: &["/usr/bin/tar", "cf", "-", "/usr/include"],
        ok: &[0],
        drain: true,
        policy: include_str!("../policies/tar.policy"),
        needs: &["/usr/bin/tar", "/usr/include"],
        quick: (2, 1),
        full: (121, 1),
        // As many rounds as the others: at 601 its interval straddled the bound in the runs
        // of a5c93d8 and 9c97259.
        verdict: (2, 1201),
        floor: None,
    },
    PYTHON3,
];

/// The `python3` workload (the `split` section runs it too).
pub const PYTHON3: Workload = Workload {
    name: "python3 -c 'import json, email, http.client'",
    argv: &["/usr/bin/python3", "-c", "import json, email, http.client"],
    ok: &[0],
    drain: false,
    policy: include_str!("../policies/python3-imports.policy"),
    needs: &["/usr/bin/python3"],
    quick: (3, 4),
    full: (301, 1),
    verdict: (3, 1201),
    floor: None,
};

/// The variants' names that the verdict and the filter rows look up.
const BARE: &str = "bare";
const NO_POLICY: &str = "ours: no policy";
const ALLOW_ALL: &str = "ours: `default allow;`";
const REALISTIC: &str = "ours: realistic policy";
const SERVED: &str = "ours: realistic policy, fork server";

/// Bare fork+exec through the same hook as [`FLOOR`], without its filter: the floor's baseline.
const FORKED: Peer = Peer::Forked {
    floor_filter: false,
};
/// Bare fork+exec under a one-instruction `ret ALLOW` filter: the kernel's floor for any filter
/// (see [`Peer::Forked`]).
const FLOOR: Peer = Peer::Forked { floor_filter: true };

/// The two variants the target is about: bare, then ours under the realistic policy through
/// the fork server.
fn judged<'a>(w: &'a Workload, realistic: &'a sandbox_runtime::Policy) -> Vec<Variant<'a>> {
    vec![
        Variant::new(BARE, move || Peer::Bare.run(w.argv, w.ok, w.drain)),
        served(w, realistic),
    ]
}

/// Ours under the realistic policy through the fork server, running `w`.
fn served<'a>(w: &'a Workload, realistic: &'a sandbox_runtime::Policy) -> Variant<'a> {
    let setup = Setup::with_usr(Some(realistic)).served();
    Variant::new(SERVED, move || setup.run(w.argv, w.ok, w.drain))
}

/// `peer` running `w`, under the peer's own name.
fn peer_variant(w: &Workload, peer: Peer) -> Variant<'_> {
    Variant::new(peer.name(), move || peer.run(w.argv, w.ok, w.drain))
}

/// The first path `w` needs that does not exist here, if any, announced with a notice that
/// the workload is skipped.
fn announce_missing(w: &Workload) -> Option<&'static str> {
    let missing = w
        .needs
        .iter()
        .copied()
        .find(|p| !std::path::Path::new(p).exists())?;
    println!(
        "{}: NOTICE: skipped, {missing} does not exist here\n",
        w.name
    );
    Some(missing)
}

/// Prints the two rows about the kernel's floor (the floor over the same fork+exec without
/// it, and ours through the fork server over the floor); `false` if a variant is missing.
fn print_floor_rows(names: &[String], times: &stats::Rounds) -> bool {
    let (floor_name, forked_name) = (FLOOR.name(), FORKED.name());
    let rows = [
        (
            "the kernel's floor: fork+exec with `ret ALLOW` / without",
            floor_name.as_str(),
            forked_name.as_str(),
        ),
        (
            "fork server, realistic policy / fork+exec with `ret ALLOW`",
            SERVED,
            floor_name.as_str(),
        ),
    ];
    // Every row is tried (no short cut at the first missing one), so that what can be
    // printed is.
    let printed: Vec<bool> = rows
        .iter()
        .map(|(label, a, b)| {
            stats::compare(names, times, a, b)
                .map(|r| stats::print_row(label, &r))
                .is_some()
        })
        .collect();
    printed.iter().all(|&p| p)
}

/// The variants for one workload's table, baseline (bare) first.
fn variants<'a>(
    w: &'a Workload,
    allow_all: &'a sandbox_runtime::Policy,
    realistic: &'a sandbox_runtime::Policy,
) -> Vec<Variant<'a>> {
    let none = Setup::with_usr(None);
    let permissive = Setup::with_usr(Some(allow_all));
    let strict = Setup::with_usr(Some(realistic));
    let mut v = judged(w, realistic);
    let forked = [FORKED, FLOOR].map(|peer| peer_variant(w, peer));
    let ours = [
        Variant::new(NO_POLICY, move || none.run(w.argv, w.ok, w.drain)),
        Variant::new(ALLOW_ALL, move || permissive.run(w.argv, w.ok, w.drain)),
        Variant::new(REALISTIC, move || strict.run(w.argv, w.ok, w.drain)),
    ];
    // Between bare and the fork server's row.
    v.splice(1..1, forked.into_iter().chain(ours));
    for peer in [Peer::Bwrap { net: true }, filtered_bwrap(allow_all)] {
        if peer.available() {
            v.push(peer_variant(w, peer));
        }
    }
    v
}

/// bubblewrap under the `default allow;` policy's program for this machine (`--seccomp`), so
/// that its row shows what any filter costs a peer. It is the compiled program as it is; ours
/// runs it with its kills turned into notifications for the monitor, which changes nothing for
/// the calls it allows. The program is made from the first `allow_all` passed and kept.
fn filtered_bwrap(allow_all: &sandbox_runtime::Policy) -> Peer {
    static PROGRAM: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    let program = PROGRAM.get_or_init(|| {
        let native = allow_all
            .native_program()
            .expect("the benchmark runs on a supported architecture");
        native.filter.iter().flat_map(|i| i.to_ne_bytes()).collect()
    });
    Peer::BwrapFiltered {
        label: "`default allow;`",
        program,
    }
}

/// Runs one workload's comparison; returns the missed target, if any.
fn workload(mode: Mode, w: &Workload, allow_all: &sandbox_runtime::Policy) -> Vec<Finding> {
    if let Some(missing) = announce_missing(w) {
        return vec![Finding::Missed(format!(
            "{}: not measured ({missing} does not exist here)",
            w.name
        ))];
    }
    let realistic = ours::compile(w.name, w.policy);
    let vs = variants(w, allow_all, &realistic);
    let (rounds, batch) = mode.pick(w.quick, w.full);
    println!("{}: {rounds} interleaved rounds of {batch}", w.name);
    let times = match stats::interleave(&vs, rounds, batch) {
        Ok(t) => t,
        Err(e) => return vec![Finding::Failed(format!("{}: {e}", w.name))],
    };
    stats::print_table(&vs, &times, 0);
    let names = stats::names(&vs);
    let compare = |a, b| stats::compare(&names, &times, a, b);
    let (Some(filter), Some(any_filter), Some(served), Some(direct)) = (
        compare(REALISTIC, NO_POLICY),
        compare(ALLOW_ALL, NO_POLICY),
        compare(SERVED, BARE),
        compare(REALISTIC, BARE),
    ) else {
        return vec![Finding::Failed(format!("{}: a variant is missing", w.name))];
    };
    stats::print_row("realistic policy / no policy", &filter);
    stats::print_row("`default allow;` / no policy (any filter)", &any_filter);
    if !print_floor_rows(&names, &times) {
        return vec![Finding::Failed(format!("{}: a variant is missing", w.name))];
    }
    let bwrap = (
        Peer::Bwrap { net: true }.name(),
        filtered_bwrap(allow_all).name(),
    );
    if let Some(row) = compare(&bwrap.1, &bwrap.0) {
        stats::print_row("bwrap: with the filter / without", &row);
    }
    for (row, how) in [
        (&served, "through the fork server"),
        (&direct, "cloned directly"),
    ] {
        println!(
            "  in this table, <= {OVERHEAD_BOUND}x bare under the realistic policy {how}: {}",
            verdict(row.ci)
        );
    }
    judge(mode, w, &realistic)
}

/// The target's own run: bare against the fork server's sandbox under the realistic policy
/// (each sandbox's namespaces made ahead after the previous one ended), nothing else in the
/// rounds. The target is met only when the whole 95% interval is within the bound in both
/// readings of the rounds, paired by round and each variant after its own kind (see
/// [`leftover_check`]), and neither reading shows a disturbed run ([`disturbed`]); otherwise
/// returns the finding.
fn judge(mode: Mode, w: &Workload, realistic: &sandbox_runtime::Policy) -> Vec<Finding> {
    let vs = judged(w, realistic);
    let rounds = mode.pick(w.verdict.0, w.verdict.1);
    println!(
        "  the target's own run: bare and the fork server's row only, {rounds} rounds, each run after a {} ms pause",
        stats::SETTLE.as_millis()
    );
    let times = match stats::interleave_paced(&vs, rounds, stats::SETTLE) {
        Ok(t) => t,
        Err(e) => return vec![Finding::Failed(format!("{}: {e}", w.name))],
    };
    let Some(served) = stats::compare(&stats::names(&vs), &times, SERVED, BARE) else {
        return vec![Finding::Failed(format!("{}: a variant is missing", w.name))];
    };
    stats::print_row("fork server, realistic policy / bare", &served);
    let own_kind = leftover_check(&times);
    let readings = [
        ("paired by round", Some(served)),
        ("each after its own kind (half as many pairs)", own_kind),
    ];
    let mut missed = Vec::new();
    for (how, row) in &readings {
        let said = row
            .as_ref()
            .map_or("not decided: too few rounds to pair", |r| verdict(r.ci));
        println!("  target <= {OVERHEAD_BOUND}x bare under the realistic policy, {how}: {said}");
        // Met only when shown: an interval across the bound counts as a miss too.
        match row {
            Some(r) if met(r.ci) => {}
            Some(r) => missed.push(format!(
                "{how} {:.3}x, 95% interval: {} ({said})",
                r.ratio,
                show(r.ci, |x| format!("{x:.3}"), "-")
            )),
            None => missed.push(format!("{how}: {said}")),
        }
    }
    println!();
    if missed.is_empty() {
        return Vec::new();
    }
    vec![Finding::Missed(format!(
        "{}: ours under the realistic policy through the fork server against bare, {rounds} rounds, target <= {OVERHEAD_BOUND}x: {}",
        w.name,
        missed.join("; ")
    ))]
}

/// What each run leaves the next, from the target's own rounds. With two variants the runs go
/// bare, ours | ours, bare | bare, ours | ...: in odd rounds both variants follow ours, in
/// even ones (after the first) both follow bare. A slow-down that a sandbox leaves on the
/// next run (the kernel finishing its teardown, say) then falls on both sides of an odd
/// round, and the per-round ratio cancels it only if it is the same fraction of both. Three
/// rows show it, each pairing runs one or two places apart in time: bare after ours against
/// bare after bare, ours after ours against ours after bare, and ours after ours against bare
/// after bare. The last is the target's second reading, and is returned: each variant after a
/// run of its own kind, as a host running only sandboxes, or only bare programs, one every
/// pause, would see them. It charges the sandbox with what it leaves the next run and bare
/// with nothing of the sandbox's, as long as what a run leaves is gone within one run and
/// its pause (the sequence repeats every four runs, so what lasts longer still reaches bare
/// after bare, which favours ours).
fn leftover_check(times: &stats::Rounds) -> Option<stats::Summary> {
    let (bare, ours) = (0, 1);
    let after = |v, prev| stats::runs_after(times, v, prev);
    let (bare_after_bare, ours_after_ours) = (after(bare, bare), after(ours, ours));
    let paired = |name: &str, xs: &[f64], base: &[f64]| {
        let pairs = xs.len().min(base.len());
        let row = (pairs > 0).then(|| stats::summarise(&xs[..pairs], &base[..pairs]));
        match &row {
            Some(r) => stats::print_row(name, r),
            None => println!("  {name}: too few rounds to pair"),
        }
        row
    };
    paired(
        "bare after ours / bare after bare",
        &after(bare, ours),
        &bare_after_bare,
    );
    paired(
        "ours after ours / ours after bare",
        &ours_after_ours,
        &after(ours, bare),
    );
    paired(
        "ours after ours / bare after bare",
        &ours_after_ours,
        &bare_after_bare,
    )
}

/// Whether a ratio's whole 95% interval shows the bound met, on a run that can judge it.
fn met(ci: (f64, f64)) -> bool {
    !disturbed(ci) && place(ci, OVERHEAD_BOUND) == Placement::AtOrBelow
}

/// Whether a sandbox's whole 95% interval lies below bare's time. A sandbox runs the same
/// program and more, so such a run shows what else the machine ran, not what either variant
/// costs, and judges nothing: without this, rounds disturbed in that direction would read
/// as the bound met.
fn disturbed((_, hi): (f64, f64)) -> bool {
    hi < 1.0
}

/// Where a ratio's 95% interval lies against [`OVERHEAD_BOUND`], in words.
fn verdict(ci: (f64, f64)) -> &'static str {
    if disturbed(ci) {
        return "not decided: the run was disturbed (the whole 95% interval is below bare's time, which no sandbox can be)";
    }
    match place(ci, OVERHEAD_BOUND) {
        Placement::TooFewRounds => "not decided: too few rounds for a 95% interval",
        Placement::AtOrBelow => "met: the whole 95% interval is within it",
        Placement::Above => "missed: the whole 95% interval is above it",
        Placement::Straddles => "not decided: the 95% interval straddles it",
    }
}

/// Runs every workload; returns the missed targets.
pub fn run(mode: Mode) -> Vec<Finding> {
    println!("== Monitor overhead on real work (whole runs, start-up included) ==");
    let allow_all = ours::compile("allow-all", ours::ALLOW_ALL_POLICY);
    WORKLOADS
        .iter()
        .flat_map(|w| workload(mode, w, &allow_all))
        .collect()
}

/// The kernel's floor against ours, in the design of the target's own run (paced, many
/// rounds, nothing else in them), for the workloads that ask for it: bare fork+exec through the
/// `no_new_privs` hook, the same under the one-instruction `ret ALLOW` filter, and ours under
/// the realistic policy through the fork server. The first table's floor columns share their
/// rounds with seven other variants; this run gives all of its rounds to the two questions
/// they raise: what any filter costs the workload, and what ours costs beyond that. Measures
/// only: no target is judged here.
pub fn floor(mode: Mode) -> Vec<Finding> {
    println!("== The kernel's floor against ours on real work (paced, as the target's own run) ==");
    let mut found = Vec::new();
    for w in WORKLOADS {
        let Some(rounds) = w.floor.map(|(quick, full)| mode.pick(quick, full)) else {
            println!(
                "{}: NOTICE: not in this section (only the workloads nearest the bound are)\n",
                w.name
            );
            continue;
        };
        if announce_missing(w).is_some() {
            continue;
        }
        let realistic = ours::compile(w.name, w.policy);
        let vs = vec![
            peer_variant(w, FORKED),
            peer_variant(w, FLOOR),
            served(w, &realistic),
        ];
        println!(
            "{}: {rounds} rounds, each run after a {} ms pause",
            w.name,
            stats::SETTLE.as_millis()
        );
        let times = match stats::interleave_paced(&vs, rounds, stats::SETTLE) {
            Ok(t) => t,
            Err(e) => {
                found.push(Finding::Failed(format!("{}: {e}", w.name)));
                continue;
            }
        };
        stats::print_table(&vs, &times, 0);
        if !print_floor_rows(&stats::names(&vs), &times) {
            found.push(Finding::Failed(format!("{}: a variant is missing", w.name)));
        }
        println!();
    }
    found
}
