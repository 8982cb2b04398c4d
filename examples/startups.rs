//! Starts `/bin/true` in a sandbox many times back to back, the way the start-up benchmark's
//! judged rows do (the program and its libraries bound, the host's network shared, the
//! benchmark's two-line policy, `status()`), and prints the median. Made for counting what a
//! start-up costs the kernel with `benches/syscalls_per_startup.sh`.
//!
//! `--bare` starts it with `std::process::Command` instead (its `posix_spawn`, the benchmark's
//! stricter baseline), for a profile of the program bare to set beside one in the sandbox.
//! `--new-net` gives each sandbox a network namespace of its own instead of the host's.
//! `--alternate` gives every other sandbox another hostname, so that through the fork server no
//! spare, made like the sandbox before, serves the next: each is a fresh clone of the server,
//! as for a host that alternates between two kinds of sandbox.
//!
//! ```text
//! cargo run --release --example startups -- [COUNT] [--fork-server | --bare] [--new-net] [--alternate]
//! ```

use sandbox_runtime::{Limits, SandboxCommand, Status, Stdio};
use std::process::ExitCode;
use std::time::{Duration, Instant};

static POLICY: sandbox_runtime::Policy = sandbox_runtime::policy! {
    default kill;
    use dynamic_startup, malloc, exit;
};

fn main() -> ExitCode {
    let fork_server = std::env::args().any(|a| a == "--fork-server");
    let bare = std::env::args().any(|a| a == "--bare");
    let new_net = std::env::args().any(|a| a == "--new-net");
    let alternate = std::env::args().any(|a| a == "--alternate");
    let known = ["--fork-server", "--bare", "--new-net", "--alternate"];
    if let Some(a) = std::env::args()
        .skip(1)
        .find(|a| a.starts_with("--") && !known.contains(&a.as_str()))
    {
        eprintln!("unknown option {a:?} (known: {})", known.join(", "));
        return ExitCode::FAILURE;
    }
    if fork_server {
        if let Err(e) = sandbox_runtime::start_fork_server() {
            eprintln!("cannot start the fork server: {e}");
            return ExitCode::FAILURE;
        }
    }
    let count = match std::env::args().nth(1).filter(|a| !a.starts_with("--")) {
        None => 300,
        Some(a) => match a.parse::<usize>() {
            Ok(n) if n > 0 => n,
            _ => {
                eprintln!("COUNT must be a positive number, not {a:?}");
                return ExitCode::FAILURE;
            }
        },
    };
    let mut times = Vec::with_capacity(count);
    for round in 0..count {
        let begun = Instant::now();
        if bare {
            match std::process::Command::new("/bin/true")
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
            {
                Ok(s) if s.success() => {}
                other => {
                    eprintln!("/bin/true did not end well: {other:?}");
                    return ExitCode::FAILURE;
                }
            }
            times.push(begun.elapsed());
            continue;
        }
        let mut cmd = SandboxCommand::new("/bin/true");
        cmd.limits(Limits {
            wall_time: Some(Duration::from_secs(10)),
            ..Limits::default()
        })
        .stdin(Stdio::Null)
        .stdout(Stdio::Null)
        .stderr(Stdio::Null)
        .share_network(!new_net)
        .hostname(if alternate && round % 2 == 1 {
            "other"
        } else {
            "sandbox"
        })
        .use_fork_server(fork_server)
        .add_program_with_libraries("/bin/true")
        .policy(&POLICY);
        match cmd.status() {
            Ok(outcome) if outcome.status == Status::Exited(0) => {}
            Ok(outcome) => {
                eprintln!("a start-up did not end well: {outcome}");
                return ExitCode::FAILURE;
            }
            Err(e) => {
                eprintln!("cannot start the sandbox: {e}");
                return ExitCode::FAILURE;
            }
        }
        times.push(begun.elapsed());
    }
    times.sort();
    let how = if bare {
        "bare (posix_spawn)"
    } else if fork_server {
        "through the fork server"
    } else {
        "cloned directly"
    };
    let net = if new_net {
        ", each with a new network namespace"
    } else {
        ""
    };
    let kinds = if alternate { ", two kinds in turn" } else { "" };
    println!(
        "{count} start-ups {how}{net}{kinds}: median {:?}",
        times[count / 2]
    );
    ExitCode::SUCCESS
}
