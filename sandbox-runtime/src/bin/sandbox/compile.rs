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
    let loaded = match policy_file::load_for_arch(&args.file, args.arch.as_deref()) {
        Ok(l) => l,
        Err(code) => return code,
    };
    let bytes: Vec<u8> = loaded
        .filter()
        .iter()
        .flat_map(|i| i.to_ne_bytes())
        .collect();
    if let Err(e) = std::fs::write(&args.output, &bytes) {
        eprintln!("error: cannot write `{}`: {e}", args.output.display());
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}
