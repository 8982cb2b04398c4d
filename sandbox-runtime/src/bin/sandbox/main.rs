//! `sandbox`: run a program you did not write under a policy file, and check, explain and
//! compile policy files. A thin layer over the same API a library user calls.

mod check;
mod compile;
mod console;
mod exiting_init;
mod explain;
mod interrupt;
mod learn;
mod output_file;
mod path_spec;
mod policy_file;
mod run;
mod synth;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use std::process::ExitCode;

/// Run programs in a sandbox under a seccomp policy written in the policy language.
#[derive(Parser, Debug)]
#[command(
    name = "sandbox",
    version,
    about = "Run a program in a fresh sandbox (namespaces, private root, limits) under a seccomp policy \
             written in the policy language; check, explain, compile and learn policy files"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run PROGRAM in a fresh sandbox under a policy.
    Run(Box<run::RunArgs>),
    /// Run PROGRAM with every system call recorded (filter not enforced) and write a policy
    /// that allows what it did.
    Learn(Box<learn::LearnArgs>),
    /// Check policy files and print every error, like rustc.
    Check(check::CheckArgs),
    /// Show the compiled program, or which rule decides a given call.
    Explain(explain::ExplainArgs),
    /// Write the raw BPF program (struct sock_filter[], native byte order) to a file.
    Compile(compile::CompileArgs),
}

fn main() -> ExitCode {
    // A closed output pipe (`sandbox explain ... | head`) ends the command quietly, as it does
    // any Unix tool, instead of making its next message panic (Rust ignores SIGPIPE). A
    // sandbox running then ends with it (its init dies with its parent).
    // SAFETY: signal() with a valid signal number and SIG_DFL, before any thread exists.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let matches = match Cli::command().try_get_matches() {
        Ok(matches) => matches,
        Err(e) => return usage(&e),
    };
    let mut cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => return usage(&e),
    };
    if let Command::Explain(args) = &mut cli.command {
        args.note_order(matches.subcommand_matches("explain"));
    }
    let runs_a_sandbox = matches!(cli.command, Command::Run(_) | Command::Learn(_));
    if runs_a_sandbox {
        // Before any thread starts: see `interrupt`.
        interrupt::block();
        // `run` and `learn` write only messages on standard error, never standard output: a
        // closed pipe there must not end the command before it has ended its sandbox and
        // written its report (the sandbox starts with every action at its default).
        // SAFETY: signal() with a valid signal number and SIG_IGN, before any thread exists.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    }
    let code = match cli.command {
        Command::Run(args) => run::main(*args),
        Command::Learn(args) => learn::main(*args),
        Command::Check(args) => check::main(args),
        Command::Explain(args) => explain::main(args),
        Command::Compile(args) => compile::main(args),
    };
    exiting_init::wait();
    code
}

/// Prints what clap has to say instead of running a command (`--help`, `--version` on standard
/// output; a usage error on standard error, as plain text through [`console::err`], which
/// escapes what a terminal would act on: the error quotes the arguments as given) and returns
/// its exit status: 0 after help, 2 after a usage error, or the failure to write the help
/// ([`console::stdout_failed`]).
fn usage(e: &clap::Error) -> ExitCode {
    if e.use_stderr() {
        console::err!("{}", e.render());
        return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
    }
    match e.print() {
        Err(write_error) => console::stdout_failed(&write_error),
        Ok(()) => ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2)),
    }
}
