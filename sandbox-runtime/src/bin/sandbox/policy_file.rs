//! Loading a policy file for a subcommand, with errors printed like rustc.

use sandbox_policy::{compile_file, Arch, Compiled};
use std::path::Path;

/// Compiles `path`; on failure prints every error (or why the file cannot be read) to stderr
/// and returns `None`.
pub fn load(path: &Path) -> Option<Compiled> {
    match compile_file(path) {
        Err(e) => {
            eprintln!("error: cannot read policy file `{}`: {e}", path.display());
            None
        }
        Ok(compilation) => match compilation.result {
            Ok(compiled) => Some(compiled),
            Err(_) => {
                eprint!("{}", compilation.render_errors());
                None
            }
        },
    }
}

/// Parses `--arch`, defaulting to the host's architecture (x86_64 on unsupported hosts).
pub fn arch(name: Option<&str>) -> Result<Arch, String> {
    match name {
        None => Ok(Arch::native().unwrap_or(Arch::X86_64)),
        Some(n) => Arch::from_name(n)
            .ok_or_else(|| format!("unknown architecture `{n}`: expected x86_64 or aarch64")),
    }
}
