//! Where the loader looks: `$ORIGIN` expansion of `DT_RPATH`/`DT_RUNPATH` lists and the system
//! directories from `/etc/ld.so.conf` (with `include`) followed by the built-in defaults.

use super::inputs::{is_regular_file, Inputs};
use super::tokens::{expand, Expansion, TooManyLibTokens};
use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Nested `include` directives followed before giving up (guards against include loops).
const MAX_INCLUDE_DEPTH: usize = 8;

const EM_PPC64: u16 = 21;
const EM_S390: u16 = 22;
const EM_X86_64: u16 = 62;
const EM_AARCH64: u16 = 183;
const EM_RISCV: u16 = 243;

/// The `e_machine` of this machine's programs.
#[cfg(target_arch = "x86_64")]
pub(crate) const NATIVE_MACHINE: u16 = EM_X86_64;
/// The `e_machine` of this machine's programs.
#[cfg(target_arch = "aarch64")]
pub(crate) const NATIVE_MACHINE: u16 = EM_AARCH64;

/// The directories searched after `DT_RPATH` and `DT_RUNPATH`, in order: those listed in
/// `/etc/ld.so.conf` (standing in for `/etc/ld.so.cache`), then the multiarch and classic
/// system directories. Every file and directory read is noted in `inputs`.
pub(crate) fn system_dirs(machine: u16, inputs: &Inputs) -> Vec<PathBuf> {
    let mut dirs = ld_so_conf_dirs(Path::new("/etc/ld.so.conf"), inputs);
    dirs.extend(default_dirs(machine));
    dedup_in_order(dirs)
}

/// The directories the loader searches without `/etc/ld.so.cache`: the multiarch ones, then
/// `/lib`, `/usr/lib`, `/lib64`, `/usr/lib64`. A library found only through another
/// `ld.so.conf` directory is found inside a sandbox through the cache alone.
pub(crate) fn default_dirs(machine: u16) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(triplet) = multiarch_triplet(machine) {
        dirs.push(Path::new("/lib").join(triplet));
        dirs.push(Path::new("/usr/lib").join(triplet));
    }
    dirs.extend(["/lib", "/usr/lib", "/lib64", "/usr/lib64"].map(PathBuf::from));
    dirs
}

/// The Debian multiarch directory name for an ELF machine.
pub(crate) fn multiarch_triplet(machine: u16) -> Option<&'static str> {
    match machine {
        EM_X86_64 => Some("x86_64-linux-gnu"),
        EM_AARCH64 => Some("aarch64-linux-gnu"),
        EM_RISCV => Some("riscv64-linux-gnu"),
        EM_PPC64 => Some("powerpc64le-linux-gnu"),
        EM_S390 => Some("s390x-linux-gnu"),
        _ => None,
    }
}

/// Directories listed in an `ld.so.conf`-style file, following `include` lines. Unreadable
/// files contribute nothing, as with `ldconfig`. Every file and directory read is noted in
/// `inputs`.
pub(crate) fn ld_so_conf_dirs(path: &Path, inputs: &Inputs) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    read_conf(path, 0, &mut dirs, inputs);
    dedup_in_order(dirs)
}

fn read_conf(path: &Path, depth: usize, dirs: &mut Vec<PathBuf>, inputs: &Inputs) {
    if depth > MAX_INCLUDE_DEPTH {
        return;
    }
    inputs.note(path);
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) => return inputs.failed(&e),
    };
    let base = path.parent().unwrap_or(Path::new("/"));
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if let Some(patterns) = line
            .strip_prefix("include")
            .filter(|r| r.starts_with([' ', '\t']))
        {
            for pattern in patterns.split_whitespace() {
                for file in glob_files(&base.join(pattern), inputs) {
                    read_conf(&file, depth + 1, dirs, inputs);
                }
            }
        } else if line.starts_with('/') {
            // Old syntax allows "dir=TYPE"; the type is irrelevant here.
            let dir = line.split('=').next().unwrap_or(line).trim_end_matches('/');
            dirs.push(PathBuf::from(if dir.is_empty() { "/" } else { dir }));
        }
        // "hwcap" lines and relative entries are ignored, as ldconfig does.
    }
}

/// Files matching `pattern`, where only the last component may contain `*` wildcards; sorted
/// like glob(3).
fn glob_files(pattern: &Path, inputs: &Inputs) -> Vec<PathBuf> {
    let (Some(dir), Some(name)) = (pattern.parent(), pattern.file_name()) else {
        return Vec::new();
    };
    let name = name.to_string_lossy();
    if !name.contains('*') {
        return if is_regular_file(inputs.note(pattern)) {
            vec![pattern.to_path_buf()]
        } else {
            Vec::new()
        };
    }
    inputs.note(dir);
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            inputs.failed(&e);
            return Vec::new();
        }
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|entry| entry.map_err(|e| inputs.failed(&e)).ok())
        .filter(|e| wildcard_match(&name, &e.file_name().to_string_lossy()))
        .map(|e| e.path())
        .filter(|p| is_regular_file(inputs.note(p)))
        .collect();
    files.sort();
    files
}

/// Matches `text` against `pattern`, where `*` matches any run of characters (not a leading dot).
pub(crate) fn wildcard_match(pattern: &str, text: &str) -> bool {
    if text.starts_with('.') && !pattern.starts_with('.') {
        return false;
    }
    let parts: Vec<&str> = pattern.split('*').collect();
    let (first, rest) = match parts.split_first() {
        Some(split) => split,
        None => return text.is_empty(),
    };
    let Some(mut remaining) = text.strip_prefix(first) else {
        return false;
    };
    let Some((last, middle)) = rest.split_last() else {
        return remaining.is_empty();
    };
    for part in middle {
        match remaining.find(part) {
            Some(at) => remaining = &remaining[at + part.len()..],
            None => return false,
        }
    }
    remaining.len() >= last.len() && remaining.ends_with(last)
}

/// A directory of a search list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SearchDir {
    /// The directory.
    pub path: PathBuf,
    /// Whether the loader surely looks here; not for each value an entry with `$LIB` may
    /// have: no library is taken from such a place, but it counts as searched (a mount there
    /// may not shadow a library found later).
    pub sure: bool,
}

/// The directories of one entry, `$ORIGIN` being `origin`; relative ones taken against `cwd`,
/// or left out without one.
fn entry_dirs(
    entry: &[u8],
    origin: &Path,
    cwd: Option<&Path>,
    machine: u16,
) -> Result<Vec<SearchDir>, TooManyLibTokens> {
    let (paths, sure) = match expand(entry, origin, machine)? {
        None => return Ok(Vec::new()),
        Some(Expansion::Exact(path)) => (vec![path], true),
        Some(Expansion::OneOf(paths)) => (paths, false),
    };
    Ok(paths
        .into_iter()
        .filter_map(|dir| {
            let path = match cwd {
                _ if dir.is_absolute() => dir,
                Some(cwd) => cwd.join(dir),
                None => return None,
            };
            Some(SearchDir { path, sure })
        })
        .collect())
}

/// The directories of every entry, in order.
fn all_dirs<'a>(
    entries: impl Iterator<Item = &'a [u8]>,
    dirs_of: impl Fn(&[u8]) -> Result<Vec<SearchDir>, TooManyLibTokens>,
) -> Result<Vec<SearchDir>, TooManyLibTokens> {
    let mut dirs = Vec::new();
    for entry in entries {
        dirs.extend(dirs_of(entry)?);
    }
    Ok(dirs)
}

/// Splits a colon-separated `DT_RPATH`/`DT_RUNPATH` list of an object of `machine`, putting in
/// the loader's tokens ([`super::tokens`]); empty entries are skipped, relative entries taken
/// relative to `cwd`.
pub(crate) fn expand_path_list(
    list: &OsStr,
    origin: &Path,
    cwd: &Path,
    machine: u16,
) -> Result<Vec<SearchDir>, TooManyLibTokens> {
    let entries = list.as_bytes().split(|&b| b == b':');
    all_dirs(entries.filter(|entry| !entry.is_empty()), |entry| {
        entry_dirs(entry, origin, Some(cwd), machine)
    })
}

/// The directories of an `LD_LIBRARY_PATH` value the sandbox's program gets: its absolute
/// entries and those starting with a token (`:` or `;` between them, as the loader splits it),
/// `$ORIGIN` being the executable's directory. A relative entry would be taken against the
/// program's working directory inside the sandbox, which the host cannot look at: it is left
/// out.
pub(crate) fn library_path_dirs(
    list: &OsStr,
    origin: &Path,
    machine: u16,
) -> Result<Vec<SearchDir>, TooManyLibTokens> {
    let entries = list.as_bytes().split(|&b| b == b':' || b == b';');
    all_dirs(
        entries.filter(|entry| entry.starts_with(b"/") || entry.starts_with(b"$")),
        |entry| entry_dirs(entry, origin, None, machine),
    )
}

/// The one path a library name with a `/` names, its tokens put in; `None` where the loader
/// drops it or `$LIB` leaves it open which.
pub(crate) fn expand_exact(name: &[u8], origin: &Path, machine: u16) -> Option<PathBuf> {
    match expand(name, origin, machine).ok()?? {
        Expansion::Exact(path) => Some(path),
        Expansion::OneOf(_) => None,
    }
}

fn dedup_in_order(dirs: Vec<PathBuf>) -> Vec<PathBuf> {
    let mut seen = std::collections::HashSet::new();
    dirs.into_iter()
        .filter(|d| seen.insert(d.clone()))
        .collect()
}
