//! What a sandbox run through this library leaves the next program: a bare
//! `tar cf - /usr/include`, its output read by this process (as the overhead benchmark's host
//! reads it), timed 20 ms (the benchmark's pause) after a pre-step, against the same after the
//! matching bare pre-step in the same round.
//!
//! Pre-steps: `/bin/true`, `/bin/sleep 0.1`, `/bin/sleep 0.3` and `tar` itself (output read
//! here), each bare, in a sandbox through the fork server, and in a sandbox cloned directly. The
//! two `sleep`s end as close to the timed run as `/bin/true` does but start 100 and 300 ms
//! earlier, so their rows show what the sandbox's end leaves (its teardown, the fork server's
//! next spare) without its start-up.
//! Every sandbox runs under an allow-everything policy, with the program's binary and
//! libraries bound (and `/usr/include` for `tar`): the filter is not what is looked at here.
//!
//! Prints, per pre-step, the median time of the timed `tar` and the median of its per-round
//! ratio over the bare pre-step's, with a 95% interval (`benches/common/interval.rs`).
//!
//! ```text
//! cargo run --release --example after_effect -- [ROUNDS]     (default 60; as root)
//! ```

#[path = "../benches/common/interval.rs"]
#[allow(dead_code)]
mod interval;

use sandbox_runtime::{Limits, SandboxCommand, Status, Stdio};
use std::io::{Read, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

static POLICY: sandbox_runtime::Policy = sandbox_runtime::policy! {
    default allow;
};

const TAR: [&str; 4] = ["/usr/bin/tar", "cf", "-", "/usr/include"];
const PAUSE: Duration = Duration::from_millis(20);

/// Where a pre-step runs.
#[derive(Clone, Copy)]
enum Place {
    /// Forked and exec'd by this process, no sandbox.
    Bare,
    /// In a sandbox started through the fork server.
    ForkServer,
    /// In a sandbox cloned directly from this process.
    Direct,
}

/// The pre-steps' programs, by name.
const PROGRAMS: &[(&str, &[&str])] = &[
    ("/bin/true", &["/bin/true"]),
    ("sleep 0.1", &["/bin/sleep", "0.1"]),
    ("sleep 0.3", &["/bin/sleep", "0.3"]),
    ("tar", &TAR),
];

/// Where each program runs, and how a row says so.
const PLACES: [(Place, &str); 3] = [
    (Place::Bare, ""),
    (Place::ForkServer, ", fork server"),
    (Place::Direct, ", cloned directly"),
];

/// A pre-step: a program and where it runs.
struct Step {
    name: String,
    argv: &'static [&'static str],
    place: Place,
}

/// Every program in every place, each program's bare step first.
fn steps() -> Vec<Step> {
    PROGRAMS
        .iter()
        .flat_map(|&(program, argv)| {
            PLACES.iter().map(move |&(place, how)| Step {
                name: format!("{program}{how}"),
                argv,
                place,
            })
        })
        .collect()
}

/// Reads `out` to its end.
fn drain(mut out: impl Read) -> std::io::Result<()> {
    let mut buf = vec![0u8; 65536];
    while out.read(&mut buf)? > 0 {}
    Ok(())
}

/// Runs `argv` bare, its output read here to its end; the time it took.
fn bare(argv: &[&str]) -> Result<Duration, String> {
    let begun = Instant::now();
    let mut child = std::process::Command::new(argv[0])
        .args(&argv[1..])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", argv[0]))?;
    if let Some(out) = child.stdout.take() {
        if let Err(e) = drain(out) {
            // Not left running (nor unreaped) behind the error.
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("reading {}: {e}", argv[0]));
        }
    }
    match child.wait() {
        Ok(s) if s.success() => Ok(begun.elapsed()),
        other => Err(format!("{} ended with {other:?}", argv[0])),
    }
}

/// Runs `argv` in a sandbox, its output read here to its end.
fn sandboxed(argv: &[&str], fork_server: bool) -> Result<(), String> {
    let mut cmd = SandboxCommand::new(argv[0]);
    cmd.args(&argv[1..])
        .limits(Limits {
            wall_time: Some(Duration::from_secs(10)),
            ..Limits::default()
        })
        .stdin(Stdio::Null)
        .stdout(Stdio::Piped)
        .stderr(Stdio::Null)
        .use_fork_server(fork_server)
        .policy(&POLICY);
    cmd.add_program_with_libraries(argv[0]);
    if argv == TAR {
        cmd.mount_ro("/usr/include", "/usr/include");
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot spawn {}: {e}", argv[0]))?;
    if let Some(out) = child.stdout.take() {
        drain(out).map_err(|e| format!("reading {}: {e}", argv[0]))?;
    }
    match child.wait().status {
        Status::Exited(0) => Ok(()),
        s => Err(format!("{} in a sandbox ended with {s:?}", argv[0])),
    }
}

/// Runs a pre-step to its end.
fn run(step: &Step) -> Result<(), String> {
    match step.place {
        Place::Bare => bare(step.argv).map(drop),
        Place::ForkServer => sandboxed(step.argv, true),
        Place::Direct => sandboxed(step.argv, false),
    }
}

/// The index of the same program's bare step ([`steps`] puts it first): the baseline of
/// `step`'s ratios.
fn baseline(step: usize) -> usize {
    step - step % PLACES.len()
}

fn main() -> ExitCode {
    let rounds = match std::env::args().nth(1) {
        None => 60,
        Some(a) => match a.parse::<usize>() {
            Ok(n) if n >= 6 => n,
            _ => {
                eprintln!("ROUNDS must be a number of at least 6, not {a:?}");
                return ExitCode::FAILURE;
            }
        },
    };
    if let Err(e) = sandbox_runtime::start_fork_server() {
        eprintln!("cannot start the fork server: {e}");
        return ExitCode::FAILURE;
    }
    let steps = steps();
    let mut times: Vec<Vec<f64>> = vec![Vec::with_capacity(rounds); steps.len()];
    let mut order: Vec<usize> = (0..steps.len()).collect();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..rounds {
        // A Fisher-Yates shuffle on a fixed-seed generator: each round its own order.
        for i in (1..order.len()).rev() {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            order.swap(i, (seed >> 33) as usize % (i + 1));
        }
        for &k in &order {
            let timed = run(&steps[k]).and_then(|()| {
                std::thread::sleep(PAUSE);
                bare(&TAR)
            });
            match timed {
                Ok(t) => times[k].push(t.as_secs_f64()),
                Err(e) => {
                    eprintln!("{e}");
                    return ExitCode::FAILURE;
                }
            }
        }
    }
    match print_table(&steps, &times, rounds) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cannot print the table: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Prints each step's median time of the timed `tar` and its per-round ratio over its
/// program's bare step.
fn print_table(steps: &[Step], times: &[Vec<f64>], rounds: usize) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "bare `{}`, read here, {} ms after each pre-step; {rounds} rounds",
        TAR.join(" "),
        PAUSE.as_millis()
    )?;
    for (k, step) in steps.iter().enumerate() {
        let base = baseline(k);
        let ratios: Vec<f64> = times[k]
            .iter()
            .zip(&times[base])
            .map(|(a, b)| a / b)
            .collect();
        let (low, high) = interval::median_ci(&ratios);
        writeln!(
            out,
            "  after {:28} {:7.2} ms  {:.3}x [{low:.3}-{high:.3}] of after {}",
            step.name,
            interval::median(&times[k]) * 1e3,
            interval::median(&ratios),
            steps[base].name
        )?;
    }
    Ok(())
}
