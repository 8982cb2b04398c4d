//! A statically linked C program (examples/static/upper.c, built by the package's build.rs)
//! upper-cases a file the host opened and passed in as descriptor 3. Like Sandbox2's static
//! example.
//!
//! ```text
//! cargo run --example static -- [FILE]     # default: this example's own source
//! ```
//!
//! The sandbox's file system holds only the program; it never opens anything, so the policy
//! allows static start-up, reading descriptor 3, writing descriptor 1 and exiting.

use sandbox_runtime::{Limits, SandboxCommand, Status};
use std::fs::File;
use std::process::ExitCode;
use std::time::Duration;

static POLICY: sandbox_runtime::Policy = sandbox_runtime::policy! {
    default kill;
    use static_startup;
    // glibc's static start-up asks for /proc/self/exe (for `$ORIGIN`); it copes without it.
    errno(ENOENT) readlink;
    // glibc seeds its malloc hardening with a few random bytes, without blocking.
    allow getrandom if flags == GRND_NONBLOCK;
    allow read if fd == 3;
    allow write if fd == 1;
    allow exit_group;
};

fn main() -> ExitCode {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/examples/static.rs").into());
    let input = match File::open(&path) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("static: {path}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let program = env!("SANDBOX_STATIC_UPPER");
    let out = SandboxCommand::new(program)
        .mount_ro(program, program)
        .pass_fd(input.into(), 3)
        .policy(&POLICY)
        .limits(Limits {
            wall_time: Some(Duration::from_secs(10)),
            ..Limits::default()
        })
        .output();
    let out = match out {
        Ok(o) => o,
        Err(e) => {
            eprintln!("static: cannot start the sandbox: {e}");
            return ExitCode::FAILURE;
        }
    };
    print!("{}", String::from_utf8_lossy(&out.stdout));
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    if out.outcome.status == Status::Exited(0) {
        ExitCode::SUCCESS
    } else {
        eprintln!("static: {}", out.outcome);
        ExitCode::FAILURE
    }
}
