//! `sandbox check FILE...`

use crate::console::{self, outln};
use crate::policy_file;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `sandbox check`.
#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Policy files to check.
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

/// Compiles every file; prints errors as `file:line:col: error: ...` with the source line and a
/// caret; exits 1 if any file has errors, or when standard output cannot be written.
pub fn main(args: CheckArgs) -> ExitCode {
    let mut failed = false;
    for file in &args.files {
        match policy_file::load(file) {
            Some(compiled) => {
                let sizes: Vec<String> = compiled
                    .policy
                    .programs
                    .iter()
                    .map(|p| format!("{} {} instructions", p.arch, p.filter.len()))
                    .collect();
                let written = outln!(
                    "{}: ok ({} rules; {})",
                    file.display(),
                    compiled.policy.rules.len(),
                    sizes.join(", ")
                );
                if let Err(e) = written {
                    return console::stdout_failed(&e);
                }
            }
            None => failed = true,
        }
    }
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
