//! Loading a policy file for a subcommand, with errors printed like rustc.

use crate::console::{err, errln};
use sandbox_policy::{compile_file_for, Arch, Compiled, SockFilter};
use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Why a policy file gives no policy.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The file cannot be read.
    #[error("cannot read policy file `{}`: {source}", .path.display())]
    Unreadable {
        /// The policy file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The file does not compile. Shown as its first error in one line (with the count of the
    /// others); [`PolicyError::print`] prints them all.
    #[error("policy file `{}` does not compile: {first}{}", .path.display(), more_errors(*.count))]
    Invalid {
        /// The policy file.
        path: PathBuf,
        /// The first error, as `file:line:col: message`.
        first: String,
        /// How many errors there are.
        count: usize,
        /// Every error rendered like rustc, with the count.
        rendered: String,
    },
}

/// ` (and N more errors)` after the first of `count` errors.
fn more_errors(count: usize) -> String {
    match count {
        0 | 1 => String::new(),
        2 => " (and 1 more error)".to_string(),
        n => format!(" (and {} more errors)", n - 1),
    }
}

impl PolicyError {
    /// Prints the error on stderr: every compilation error like rustc, or why the file cannot
    /// be read.
    pub fn print(&self) {
        match self {
            PolicyError::Unreadable { .. } => errln!("error: {self}"),
            PolicyError::Invalid { rendered, .. } => err!("{rendered}"),
        }
    }
}

/// A policy file that compiled, with what else its compilation found.
pub struct PolicyFile {
    /// Every stage of the compilation.
    pub compiled: Compiled,
    /// Its warnings, rendered like rustc (empty when there are none).
    pub warnings: String,
    /// The file itself and every file it includes: what an output must not replace.
    pub sources: Vec<PathBuf>,
}

/// What of the command's own inputs `output` would replace, in words for an error message:
/// a file among `sources` (the policy file first, then the files it includes, as
/// [`compile_listing_sources`] lists them), this `sandbox` executable, or `program` (the one
/// the command runs, if it runs one). An output given the wrong name must destroy none of
/// them: the next run would find a report or a policy where a policy or a program was.
pub fn overwritten(
    sources: &[PathBuf],
    program: Option<&Path>,
    output: &crate::output_file::OutputFile,
) -> Option<String> {
    if let Some((i, source)) = sources.iter().enumerate().find(|(_, s)| output.names(s)) {
        let what = if i == 0 {
            "the policy file"
        } else {
            "a file the policy includes,"
        };
        return Some(format!("{what} `{}`", source.display()));
    }
    let this = std::env::current_exe().ok();
    if let Some(exe) = this.filter(|exe| output.names(exe)) {
        return Some(format!("this `sandbox` executable `{}`", exe.display()));
    }
    program
        .filter(|p| output.names(p))
        .map(|p| format!("the program to run `{}`", p.display()))
}

/// `path` followed by the files it included.
fn sources_of(path: &Path, included: &[PathBuf]) -> Vec<PathBuf> {
    std::iter::once(path)
        .chain(included.iter().map(PathBuf::as_path))
        .map(Path::to_path_buf)
        .collect()
}

/// Compiles `path` for every architecture, with the warnings and the files read.
pub fn compile_whole(path: &Path) -> Result<PolicyFile, PolicyError> {
    compile_listing_sources(path, &Arch::ALL).1
}

/// As [`compile_whole`], with programs for `arches` only (checked for every architecture all
/// the same; see [`sandbox_policy::compile_text_for`]), and the files it read whether or not
/// the policy compiles: the policy file and every file it includes, as far as they could be
/// read (what an output must not replace, see [`overwritten`]).
pub fn compile_listing_sources(
    path: &Path,
    arches: &[Arch],
) -> (Vec<PathBuf>, Result<PolicyFile, PolicyError>) {
    let compilation = match compile_file_for(path, arches) {
        Ok(c) => c,
        Err(source) => {
            let unreadable = PolicyError::Unreadable {
                path: path.to_path_buf(),
                source,
            };
            return (vec![path.to_path_buf()], Err(unreadable));
        }
    };
    let rendered = compilation.render_errors();
    let warnings = compilation.render_warnings();
    let sources = sources_of(path, &compilation.included_files);
    let result = match compilation.result {
        Ok(compiled) => Ok(PolicyFile {
            compiled,
            warnings,
            sources: sources.clone(),
        }),
        Err(errors) => Err(PolicyError::Invalid {
            path: path.to_path_buf(),
            first: errors.first().map_or_else(String::new, |d| {
                format!("{}: {}", compilation.sources.describe(d.loc), d.message)
            }),
            count: errors.len(),
            rendered,
        }),
    };
    (sources, result)
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
    /// The policy file and every file it includes.
    pub sources: Vec<PathBuf>,
}

impl Loaded {
    /// The program for the chosen architecture (checked to exist by [`load_for_arch`]): the
    /// one with the terminal guard laid in, which a sandbox that reaches a host terminal runs,
    /// if `terminal_guard`.
    pub fn filter(&self, terminal_guard: bool) -> &[SockFilter] {
        self.compiled.policy.program(self.arch).map_or(&[], |p| {
            if terminal_guard {
                &p.terminal_guarded[..]
            } else {
                &p.filter[..]
            }
        })
    }
}

/// `--arch` and the policy file together, as `compile` and `explain` take them. On failure the
/// reason is printed and the exit code returned: 2 for a bad `--arch`, 1 for a bad policy.
pub fn load_for_arch(path: &Path, arch_name: Option<&str>) -> Result<Loaded, ExitCode> {
    let arch = arch(arch_name).map_err(|e| {
        errln!("error: {e}");
        ExitCode::from(2)
    })?;
    let PolicyFile {
        compiled, sources, ..
    } = compile_listing_sources(path, &[arch]).1.map_err(|e| {
        e.print();
        ExitCode::from(1)
    })?;
    if compiled.policy.program(arch).is_none() {
        errln!("error: no program for {arch}");
        return Err(ExitCode::from(1));
    }
    Ok(Loaded {
        compiled,
        arch,
        sources,
    })
}
