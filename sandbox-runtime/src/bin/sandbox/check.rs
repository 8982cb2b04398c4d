//! `sandbox check FILE...`

use crate::console::{self, err, outln};
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

/// Compiles every file; prints errors and warnings as `file:line:col: error: ...` (or
/// `warning:`) with the source line and a caret, on stderr; exits 1 if any file has errors, or
/// when standard output cannot be written. Warnings alone leave the status 0.
pub fn main(args: CheckArgs) -> ExitCode {
    let mut failed = false;
    for file in &args.files {
        match policy_file::compile_whole(file) {
            Ok(policy_file::PolicyFile {
                compiled, warnings, ..
            }) => {
                err!("{warnings}");
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
            Err(e) => {
                e.print();
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
