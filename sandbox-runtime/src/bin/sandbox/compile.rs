//! `sandbox compile FILE [--arch A] -o OUT`

use crate::policy_file;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `sandbox compile`.
#[derive(Args, Debug)]
pub struct CompileArgs {
    /// The policy file.
    file: PathBuf,
    /// Target architecture: x86_64 or aarch64 (default: this machine's).
    #[arg(long)]
    arch: Option<String>,
    /// Where to write the program: the kernel's `struct sock_filter` array, 8 bytes per
    /// instruction, in this machine's byte order.
    #[arg(short = 'o', long = "output")]
    output: PathBuf,
}

/// Compiles and writes the raw program.
pub fn main(args: CompileArgs) -> ExitCode {
    let arch = match policy_file::arch(args.arch.as_deref()) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let Some(compiled) = policy_file::load(&args.file) else {
        return ExitCode::from(1);
    };
    let Some(program) = compiled.policy.program(arch) else {
        eprintln!("error: no program for {arch}");
        return ExitCode::from(1);
    };
    let bytes: Vec<u8> = program
        .filter
        .iter()
        .flat_map(|i| i.to_ne_bytes())
        .collect();
    if let Err(e) = std::fs::write(&args.output, &bytes) {
        eprintln!("error: cannot write `{}`: {e}", args.output.display());
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}
