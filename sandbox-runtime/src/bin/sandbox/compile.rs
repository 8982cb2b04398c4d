//! `sandbox compile FILE [--arch A] -o OUT`

use crate::console::errln;
use crate::output_file::OutputFile;
use crate::policy_file;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `sandbox compile`.
#[derive(Args, Debug)]
#[command(
    after_help = "Exit status: 0 when the program is written; 1 when the policy does not \
    compile or OUT cannot be written; 2 for a bad --arch, or when OUT is the policy file or \
    one it includes."
)]
pub struct CompileArgs {
    /// The policy file.
    file: PathBuf,
    /// Target architecture: x86_64 or aarch64 (default: this machine's).
    #[arg(long)]
    arch: Option<String>,
    /// Where to write the program: the kernel's `struct sock_filter` array, 8 bytes per
    /// instruction, in this machine's byte order. Written whole (a temporary file renamed over
    /// the name, a link there replaced rather than followed), or appended to one of the
    /// caller's streams (/dev/stdout, /dev/fd/N), a FIFO or a character device.
    #[arg(short = 'o', long = "output", value_name = "OUT")]
    output: PathBuf,
    /// Write the program of a sandbox that can reach a host terminal: the policy's with the
    /// terminal guard laid in (TIOCSTI and the other terminal requests, O_ASYNC refused).
    #[arg(long)]
    terminal_guard: bool,
}

/// Compiles and writes the raw program.
pub fn main(args: CompileArgs) -> ExitCode {
    // The policy and the architecture first, so that a bad --arch is 2 whatever OUT is.
    let loaded = match policy_file::load_for_arch(&args.file, args.arch.as_deref()) {
        Ok(l) => l,
        Err(code) => return code,
    };
    let output = match OutputFile::open(&args.output) {
        Ok(o) => o,
        Err(e) => return cannot_write(&args, &e),
    };
    if let Some(what) = policy_file::overwritten(&loaded.sources, None, &output) {
        errln!(
            "error: `-o {}` names {what}, which it would overwrite",
            args.output.display()
        );
        return ExitCode::from(2);
    }
    let bytes: Vec<u8> = loaded
        .filter(args.terminal_guard)
        .iter()
        .flat_map(|i| i.to_ne_bytes())
        .collect();
    match output.write(&bytes) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => cannot_write(&args, &e),
    }
}

/// Says that OUT cannot be written, and why; the exit status for it.
fn cannot_write(args: &CompileArgs, e: &std::io::Error) -> ExitCode {
    errln!("error: cannot write `{}`: {e}", args.output.display());
    ExitCode::from(1)
}
