//! sandbox2tool in a few lines of the library API: compile a policy file, run a command under
//! it with the program and its libraries mounted, print the outcome.
//!
//! ```text
//! cargo run --example tool -- POLICY_FILE [--ro PATH]... -- PROGRAM [ARGS...]
//! cargo run --example tool -- examples/policies/cat.policy --ro /etc -- /bin/cat /etc/hostname
//! ```
//!
//! Exits with the program's exit code, or 1 when it did not exit on its own. The full-featured
//! tool is the `sandbox` binary (`cargo run --bin sandbox -- run --help`).

use sandbox_runtime::{Limits, SandboxCommand};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(split) = args.iter().position(|a| a == "--") else {
        eprintln!("usage: tool POLICY_FILE [--ro PATH]... -- PROGRAM [ARGS...]");
        return ExitCode::from(2);
    };
    let (opts, command) = (&args[..split], &args[split + 1..]);
    let (Some(policy_file), Some(program)) = (opts.first(), command.first()) else {
        eprintln!("usage: tool POLICY_FILE [--ro PATH]... -- PROGRAM [ARGS...]");
        return ExitCode::from(2);
    };
    let policy = match sandbox_policy::compile_file(policy_file.as_ref()) {
        Ok(compilation) => match compilation.result {
            Ok(compiled) => compiled.policy,
            Err(_) => {
                eprint!("{}", compilation.render_errors());
                return ExitCode::from(2);
            }
        },
        Err(e) => {
            eprintln!("{policy_file}: {e}");
            return ExitCode::from(2);
        }
    };

    // A bare name is looked up in the host's PATH, like a shell; the sandbox gets that binary
    // and the shared libraries it loads, read-only at their own paths.
    let Some(program) = find_in_path(program) else {
        eprintln!("{program}: not found");
        return ExitCode::from(127);
    };
    let mut cmd = SandboxCommand::new(&program);
    cmd.add_program_with_libraries(&program);
    cmd.args(&command[1..]).policy(&policy).limits(Limits {
        wall_time: Some(Duration::from_secs(30)),
        ..Limits::default()
    });
    for pair in opts[1..].chunks(2) {
        match pair {
            [flag, path] if flag == "--ro" => cmd.mount_ro(path, path),
            _ => {
                eprintln!("unknown option {}", pair[0]);
                return ExitCode::from(2);
            }
        };
    }
    match cmd.status() {
        Ok(outcome) => {
            eprintln!("{outcome}");
            match outcome.exit_code() {
                Some(c) => ExitCode::from(c as u8),
                None => ExitCode::FAILURE,
            }
        }
        Err(e) => {
            eprintln!("cannot start the sandbox: {e}");
            ExitCode::FAILURE
        }
    }
}

fn find_in_path(program: &str) -> Option<PathBuf> {
    if program.contains('/') {
        return Some(PathBuf::from(program));
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}
