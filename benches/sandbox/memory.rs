//! Memory per idle sandbox: [`COUNT`] sandboxes each running `cat` blocked on an empty pipe,
//! measured from `/proc/<pid>/smaps_rollup` over each sandbox's process tree, plus the host
//! process's own growth (monitor threads and bookkeeping); bubblewrap side by side.

use crate::ours::{self, Setup};
use crate::peers::Peer;
use crate::Finding;
use std::process::Stdio as StdStdio;
use std::time::{Duration, Instant};

/// Idle sandboxes held at once.
pub const COUNT: usize = 20;

const CAT: &[&str] = &["/bin/cat"];

/// Memory figures of a set of processes, in KiB.
#[derive(Clone, Copy, Debug, Default)]
struct Mem {
    rss: u64,
    pss: u64,
    /// Private clean and dirty pages.
    private: u64,
    /// Page tables (`VmPTE`), not part of the others.
    pte: u64,
    processes: usize,
}

impl std::ops::AddAssign for Mem {
    fn add_assign(&mut self, o: Mem) {
        self.rss += o.rss;
        self.pss += o.pss;
        self.private += o.private;
        self.pte += o.pte;
        self.processes += o.processes;
    }
}

/// The value in KiB of `key:` in a `/proc` file's text.
fn field(text: &str, key: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// One process's RSS, PSS, private (clean + dirty) memory and page tables; an error (not zeros
/// that would pass for a measurement) when its `/proc` files cannot be read.
fn process_mem(pid: u32) -> Result<Mem, String> {
    let read = |f: &str| {
        std::fs::read_to_string(format!("/proc/{pid}/{f}"))
            .map_err(|e| format!("read /proc/{pid}/{f}: {e}"))
    };
    let (text, status) = (read("smaps_rollup")?, read("status")?);
    Ok(Mem {
        rss: field(&text, "Rss"),
        pss: field(&text, "Pss"),
        private: field(&text, "Private_Clean") + field(&text, "Private_Dirty"),
        pte: field(&status, "VmPTE"),
        processes: 1,
    })
}

/// Whether `pid` runs the program named `comm`.
fn runs(pid: u32, comm: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == comm)
}

/// The memory of the sandboxes' trees rooted at `roots`: everything, and the supervising
/// processes only (all but the `cat` programs themselves).
fn trees_mem(roots: impl Iterator<Item = u32>) -> Result<(Mem, Mem), String> {
    let (mut all, mut supervision) = (Mem::default(), Mem::default());
    for p in roots.flat_map(tree) {
        let m = process_mem(p)?;
        all += m;
        if !runs(p, "cat") {
            supervision += m;
        }
    }
    Ok((all, supervision))
}

/// `pid` and all its descendants.
fn tree(pid: u32) -> Vec<u32> {
    let mut out = vec![pid];
    let mut i = 0;
    while i < out.len() {
        let p = out[i];
        let kids =
            std::fs::read_to_string(format!("/proc/{p}/task/{p}/children")).unwrap_or_default();
        out.extend(
            kids.split_whitespace()
                .filter_map(|k| k.parse::<u32>().ok()),
        );
        i += 1;
    }
    out
}

/// Waits until a process named `comm` runs in `pid`'s tree (the program has exec'd).
fn wait_for_exec(pid: u32, comm: &str) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if tree(pid).into_iter().any(|p| runs(p, comm)) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    Err(format!("{comm} did not start under pid {pid}"))
}

/// The host process's resident set in KiB.
fn self_rss() -> u64 {
    field(
        &std::fs::read_to_string("/proc/self/status").unwrap_or_default(),
        "VmRSS",
    )
}

/// Holds [`COUNT`] of our sandboxes idle, cloned directly or by the fork server; returns their
/// trees' memory (all, supervision) and the host's growth in KiB.
fn ours_idle(fork_server: bool) -> Result<(Mem, Mem, i64), String> {
    let policy = ours::compile("cat", include_str!("../../examples/policies/cat.policy"));
    let setup = Setup {
        fork_server,
        ..Setup::program_only(Some(&policy))
    };
    let before = self_rss();
    let mut children = Vec::new();
    for _ in 0..COUNT {
        let mut c = setup.command(CAT);
        c.stdin(sandbox_runtime::Stdio::Piped);
        let child = c.spawn().map_err(|e| format!("spawn: {e}"))?;
        wait_for_exec(child.id(), "cat")?;
        children.push(child);
    }
    let (all, supervision) = trees_mem(children.iter().map(|c| c.id()))?;
    let growth = self_rss() as i64 - before as i64;
    drop(children); // kills and reaps every sandbox
    Ok((all, supervision, growth))
}

/// Holds [`COUNT`] bubblewrap sandboxes idle; returns their trees' memory (all, supervision).
fn bwrap_idle(peer: Peer) -> Result<(Mem, Mem), String> {
    let mut children = Vec::new();
    let result = (|| {
        for _ in 0..COUNT {
            let child = peer
                .command(CAT)
                .stdin(StdStdio::piped())
                .spawn()
                .map_err(|e| format!("spawn: {e}"))?;
            let pid = child.id();
            children.push(child);
            wait_for_exec(pid, "cat")?;
        }
        trees_mem(children.iter().map(|c| c.id()))
    })();
    for mut c in children {
        let _ = c.kill();
        let _ = c.wait();
    }
    result
}

/// One table row: the per-sandbox averages.
fn print_mem(name: &str, m: &Mem) {
    let n = COUNT as f64;
    println!(
        "  {name:<38} {:>5.1} {:>8.0} {:>8.0} {:>9.0} {:>8.0}",
        m.processes as f64 / n,
        m.rss as f64 / n,
        m.pss as f64 / n,
        m.private as f64 / n,
        m.pte as f64 / n
    );
}

/// Runs the memory comparison.
pub fn run() -> Vec<Finding> {
    println!("== Memory per idle sandbox ({COUNT} sandboxes running `cat` on an empty pipe) ==");
    println!(
        "  {:<38} {:>5} {:>8} {:>8} {:>9} {:>8}",
        "per sandbox", "procs", "RSS KiB", "PSS KiB", "priv KiB", "PTE KiB"
    );
    let mut misses = Vec::new();
    for (fork_server, label) in [(false, "ours"), (true, "ours, fork server")] {
        match ours_idle(fork_server) {
            Ok((all, supervision, growth)) => {
                print_mem(&format!("{label}: init + cat"), &all);
                print_mem(&format!("{label}: init alone"), &supervision);
                println!(
                    "  host process growth: {} KiB for {COUNT} sandboxes ({:.0} KiB each: monitor threads, pipes)",
                    growth,
                    growth as f64 / COUNT as f64
                );
            }
            Err(e) => misses.push(Finding::Failed(format!("memory ({label}): {e}"))),
        }
    }
    let peer = Peer::Bwrap { net: true };
    if peer.available() {
        match bwrap_idle(peer) {
            Ok((all, supervision)) => {
                print_mem("bwrap --unshare-all: all", &all);
                print_mem("bwrap --unshare-all: without cat", &supervision);
            }
            Err(e) => misses.push(Finding::Failed(format!("memory (bwrap): {e}"))),
        }
    }
    println!(
        "  (RSS counts pages shared with the host or other sandboxes in full; PSS divides them;"
    );
    println!("   private pages and page tables are what each sandbox alone costs)\n");
    misses
}
