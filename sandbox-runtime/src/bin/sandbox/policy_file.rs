//! Loading a policy file for a subcommand, with errors printed like rustc.

use sandbox_policy::{compile_file, Arch, Compiled, SockFilter};
use std::path::Path;
use std::process::ExitCode;

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

/// A compiled policy and the architecture a subcommand works on.
pub struct Loaded {
    /// Every stage of the compilation.
    pub compiled: Compiled,
    /// The architecture chosen with `--arch`.
    pub arch: Arch,
}

impl Loaded {
    /// The program for the chosen architecture (checked to exist by [`load_for_arch`]).
    pub fn filter(&self) -> &[SockFilter] {
        self.compiled
            .policy
            .program(self.arch)
            .map_or(&[], |p| &p.filter[..])
    }
}

/// `--arch` and the policy file together, as `compile` and `explain` take them. On failure the
/// reason is printed and the exit code returned: 2 for a bad `--arch`, 1 for a bad policy.
pub fn load_for_arch(path: &Path, arch_name: Option<&str>) -> Result<Loaded, ExitCode> {
    let arch = arch(arch_name).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(2)
    })?;
    let compiled = load(path).ok_or(ExitCode::from(1))?;
    if compiled.policy.program(arch).is_none() {
        eprintln!("error: no program for {arch}");
        return Err(ExitCode::from(1));
    }
    Ok(Loaded { compiled, arch })
}
