//! Start-up: the time to run `/bin/true` to its end in each sandbox, against plain fork+exec
//! (the baseline of every ratio here), `std::process::Command`'s own spawn, util-linux
//! `unshare` and bubblewrap, with and without a network namespace.

use crate::ours::{self, Setup, TRUE};
use crate::peers::{self, Peer};
use crate::stats::{self, Variant};
use crate::{Finding, Mode};
use sandbox_runtime::Policy;
use std::time::Instant;

/// The bound on our start-up without a network namespace, as a multiple of plain
/// fork+exec ([`Peer::ForkExec`]).
const FORK_EXEC_BOUND: f64 = 3.0;

/// The two baselines, fork+exec first (every table's ratios are to it): plain fork+exec, which
/// copies this process's page tables as our direct clone does, and `Command`'s own spawn, a
/// `vfork` that copies nothing, the stricter of the two.
fn baselines() -> Vec<Variant<'static>> {
    [Peer::ForkExec, Peer::Bare]
        .into_iter()
        .map(|p| Variant::new(p.name(), move || p.run(TRUE, &[0], false)))
        .collect()
}

/// Our sandbox variants: full (new network namespace), full sharing the host's network, and
/// namespaces and mounts only (no filter, no notification listener) sharing the network, all
/// cloned directly from this process; and the first two cloned by the fork server.
fn our_variants(policy: &Policy) -> Vec<Variant<'_>> {
    let full = Setup::program_only(Some(policy));
    let shared = full.sharing_network();
    let bare_ns = Setup::program_only(None).sharing_network();
    let full_server = full.served();
    let shared_server = shared.served();
    vec![
        Variant::new("ours: full", move || full.run(TRUE, &[0], false)),
        Variant::new("ours: full, share_network(true)", move || {
            shared.run(TRUE, &[0], false)
        }),
        Variant::new("ours: no policy, share_network(true)", move || {
            bare_ns.run(TRUE, &[0], false)
        }),
        Variant::new("ours: full, fork server", move || {
            full_server.run(TRUE, &[0], false)
        }),
        Variant::new("ours: full, share_network(true), fork server", move || {
            shared_server.run(TRUE, &[0], false)
        }),
    ]
}

/// The peers that work here (each missing one announced).
fn peer_variants() -> Vec<Variant<'static>> {
    [
        Peer::Unshare { net: false },
        Peer::Unshare { net: true },
        Peer::Bwrap { net: true },
        Peer::Bwrap { net: false },
        Peer::Firejail,
    ]
    .into_iter()
    .filter(Peer::available)
    .map(|p| Variant::new(p.name(), move || p.run(TRUE, &[0], false)))
    .collect()
}

/// A way to find a program's libraries: `elf::resolve` (reads every file each time) or
/// `elf::resolve_remembered` (what our spawn uses).
type Resolve =
    fn(&std::path::Path) -> Result<sandbox_runtime::elf::ElfDeps, sandbox_runtime::elf::ElfError>;

/// The median time one `resolve` of `/bin/true` takes.
fn elf_resolve_time(resolve: Resolve, n: usize) -> Result<f64, String> {
    let samples = (0..n)
        .map(|_| {
            let t = Instant::now();
            resolve(std::path::Path::new("/bin/true"))
                .map(|_| t.elapsed().as_secs_f64())
                .map_err(|e| e.to_string())
        })
        .collect::<Result<Vec<f64>, String>>()?;
    Ok(stats::median(&samples))
}

/// Runs the start-up comparison; returns the medians by name (for the throughput section)
/// and the missed targets.
pub fn run(mode: Mode) -> (Vec<(String, f64)>, Vec<Finding>) {
    println!("== Start-up: /bin/true to its end ==");
    println!(
        "ours: /bin/true and its libraries bound, /proc, /dev, user+mount+pid+IPC+UTS+cgroup(+net) namespaces, \
         a {}-line kill-by-default policy, the monitor",
        ours::TRUE_POLICY.lines().count()
    );
    peers::announce_missing();
    let policy = ours::compile("true", ours::TRUE_POLICY);
    if let Err(e) = peers::fork_exec_forks() {
        return (Vec::new(), vec![Finding::Failed(format!("start-up: {e}"))]);
    }
    let mut variants = baselines();
    variants.extend(our_variants(&policy));
    variants.extend(peer_variants());
    let (rounds, batch) = mode.pick((5, 10), (25, 30));
    println!(
        "{rounds} interleaved rounds of {batch} runs per variant; this process, which fork+exec \
         and our direct clone copy: {}\n",
        process_size()
    );
    let times = match stats::interleave(&variants, rounds, batch) {
        Ok(t) => t,
        Err(e) => return (Vec::new(), vec![Finding::Failed(format!("start-up: {e}"))]),
    };
    stats::print_table(&variants, &times, 0);
    let names = stats::names(&variants);
    let mut misses = report(&names, &times);
    let fresh = elf_resolve_time(sandbox_runtime::elf::resolve, 200);
    let remembered = elf_resolve_time(|p| sandbox_runtime::elf::resolve_remembered(p, None), 200);
    match fresh.and_then(|f| remembered.map(|r| (f, r))) {
        Ok((fresh, remembered)) => println!(
            "  (of ours, finding /bin/true's libraries takes {} per spawn: the files read at the \
             first spawn are looked at again; reading them all takes {})",
            stats::human(remembered),
            stats::human(fresh)
        ),
        Err(e) => misses.push(Finding::Failed(format!(
            "resolve /bin/true's libraries: {e}"
        ))),
    }
    misses.extend(host_size_effect(mode, &policy));
    misses.extend(paced(mode, &policy));
    let medians = names
        .iter()
        .cloned()
        .zip(times.iter().map(|t| stats::median(t)))
        .collect();
    (medians, misses)
}

/// This process's resident set and page tables (`VmRSS`, `VmPTE` of `/proc/self/status`):
/// what a fork of it copies, which fork+exec's time and our direct clone's grow with.
fn process_size() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map_or("unknown".into(), |v| v.trim().to_string())
    };
    format!(
        "{} resident, {} of page tables",
        field("VmRSS:"),
        field("VmPTE:")
    )
}

/// Resident memory added to the host process for [`host_size_effect`].
const BALLAST_MIB: usize = 256;

/// Our start-up (sharing the network) against the baselines while the host process holds
/// [`BALLAST_MIB`] more resident memory. Cloned directly, our init is a fork-like clone of the
/// host, so its page tables are copied, as fork+exec's child's are; cloned by the fork server
/// (started before the ballast) it is a clone of the small server; `std::process::Command`'s
/// own spawn copies nothing. Returns the failure, if a run failed.
fn host_size_effect(mode: Mode, policy: &Policy) -> Vec<Finding> {
    let ballast = vec![1u8; BALLAST_MIB << 20];
    let shared = Setup::program_only(Some(policy)).sharing_network();
    let mut variants = baselines();
    variants.extend([
        Variant::new("ours: full, share_network(true)", move || {
            shared.run(TRUE, &[0], false)
        }),
        Variant::new("ours: full, share_network(true), fork server", move || {
            shared.served().run(TRUE, &[0], false)
        }),
    ]);
    let (rounds, batch) = mode.pick((3, 10), (15, 30));
    println!(
        "  with {BALLAST_MIB} MiB more resident in the host process ({}):",
        process_size()
    );
    match stats::interleave(&variants, rounds, batch) {
        Ok(times) => {
            for (v, t) in variants.iter().zip(&times) {
                stats::print_row(&v.name, &stats::summarise(t, &times[0]));
            }
        }
        Err(e) => {
            println!("    FAILED: {e}");
            return vec![Finding::Failed(format!("start-up with a larger host: {e}"))];
        }
    }
    println!();
    drop(std::hint::black_box(ballast));
    Vec::new()
}

/// Start-up when sandboxes start now and then (a pause before each), not back to back: the
/// fork server then has the next sandbox's namespaces and file system made ahead (a spare),
/// and only the sandboxee's own steps and the program remain. One configuration goes through
/// the server (it keeps a spare for the last configuration it served only). Returns the
/// failure, if any.
fn paced(mode: Mode, policy: &Policy) -> Vec<Finding> {
    const DIRECT: &str = "ours: full";
    const SERVED: &str = "ours: full, fork server";
    let full = Setup::program_only(Some(policy));
    let served = full.served();
    let bwrap = Peer::Bwrap { net: true };
    let mut variants = baselines();
    variants.extend([
        Variant::new(DIRECT, move || full.run(TRUE, &[0], false)),
        Variant::new(SERVED, move || served.run(TRUE, &[0], false)),
    ]);
    if bwrap.available() {
        variants.push(Variant::new(bwrap.name(), move || {
            bwrap.run(TRUE, &[0], false)
        }));
    }
    let rounds = mode.pick((10, 1), (151, 1)).0;
    println!(
        "  one start-up every {} ms or so ({rounds} rounds; the fork server makes each next sandbox ahead):",
        stats::SETTLE.as_millis()
    );
    match stats::interleave_paced(&variants, rounds, stats::SETTLE) {
        Ok(times) => {
            stats::print_table(&variants, &times, 0);
            let names = stats::names(&variants);
            for (label, b) in [("direct", DIRECT), ("bwrap", &bwrap.name())] {
                if let Some(s) = stats::compare(&names, &times, SERVED, b) {
                    stats::print_row(&format!("full, fork server / {label}"), &s);
                }
            }
        }
        Err(e) => {
            println!("    FAILED: {e}");
            return vec![Finding::Failed(format!("paced start-up: {e}"))];
        }
    }
    println!();
    Vec::new()
}

/// Prints the side-by-side ratios and network-namespace costs; returns the missed targets.
fn report(names: &[String], times: &stats::Rounds) -> Vec<Finding> {
    let mut misses = Vec::new();
    println!();
    println!("  side by side (ours / peer, per round):");
    let pairs = [
        (
            "full / bwrap --unshare-all",
            "ours: full",
            "bwrap --unshare-all",
        ),
        (
            "shared net / bwrap --share-net",
            "ours: full, share_network(true)",
            "bwrap --unshare-all --share-net",
        ),
        (
            "shared net / unshare -Urmpiu",
            "ours: full, share_network(true)",
            "unshare -Urmpiu --fork",
        ),
        (
            "full / firejail --net=none",
            "ours: full",
            "firejail --noprofile --net=none",
        ),
    ];
    for (label, a, b) in pairs {
        match stats::compare(names, times, a, b) {
            Some(s) => {
                stats::print_row(label, &s);
                if b.starts_with("bwrap") && s.ratio >= 1.0 {
                    misses.push(Finding::Missed(format!(
                        "start-up: {a} is not faster than {b} ({:.2}x)",
                        s.ratio
                    )));
                }
            }
            None => {
                println!("  {a} / {b}: skipped ({b} not available)");
                if b.starts_with("bwrap") {
                    misses.push(Finding::Missed(format!(
                        "start-up: {a} not compared with {b}, which is not available"
                    )));
                }
            }
        }
    }
    println!("  the fork server (ours / ours cloned directly, per round):");
    for (label, a, b) in [
        (
            "full, fork server / direct",
            "ours: full, fork server",
            "ours: full",
        ),
        (
            "shared net, fork server / direct",
            "ours: full, share_network(true), fork server",
            "ours: full, share_network(true)",
        ),
    ] {
        if let Some(s) = stats::compare(names, times, a, b) {
            stats::print_row(label, &s);
        }
    }
    println!("  without a network namespace, against each baseline (per round; the target is on the first):");
    let shared = "ours: full, share_network(true)";
    let labels = ["shared net / fork+exec", "shared net / posix_spawn"];
    for (i, (baseline, label)) in [Peer::ForkExec, Peer::Bare].iter().zip(labels).enumerate() {
        let Some(s) = stats::compare(names, times, shared, &baseline.name()) else {
            continue;
        };
        stats::print_row(label, &s);
        if i == 0 && s.ratio > FORK_EXEC_BOUND {
            misses.push(Finding::Missed(format!(
                "start-up: without a network namespace ours is {:.2}x fork+exec (target <= {FORK_EXEC_BOUND}x)",
                s.ratio
            )));
        }
    }
    println!("  network namespace, extra time per start-up (median of per-round differences):");
    for (a, b) in [
        ("ours: full", "ours: full, share_network(true)"),
        (
            "ours: full, fork server",
            "ours: full, share_network(true), fork server",
        ),
        ("unshare -Urmpiun --fork", "unshare -Urmpiu --fork"),
        ("bwrap --unshare-all", "bwrap --unshare-all --share-net"),
    ] {
        if let Some(s) = stats::compare(names, times, a, b) {
            println!("    {a:<44} {:>10}", stats::signed(s.extra));
        }
    }
    misses
}
