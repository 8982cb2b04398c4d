//! Resolutions remembered between spawns. A host that starts the same program again and again
//! reads its ELF headers, its libraries' and the loader's configuration once; later spawns
//! only look at each of those paths again to see that nothing changed (for `/bin/true`, a
//! dozen `statx` calls and one canonicalisation instead of some sixty calls that open and
//! read).

use super::inputs::Inputs;
use super::{current_dir, resolve_in, ElfDeps, ElfError};
use crate::first_use::OnceBox;
use crate::spawn::this_process::ThisProcess;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

/// How many resolutions are kept; the one used least recently goes first.
const KEPT: usize = 32;

/// One earlier resolution and everything it read.
struct Remembered {
    cwd: PathBuf,
    binary: PathBuf,
    /// The `LD_LIBRARY_PATH` it was resolved with.
    library_path: Option<OsString>,
    deps: ElfDeps,
    inputs: Inputs,
}

/// The resolutions kept, and the process that keeps them.
struct Kept {
    /// The process that made the list: a process forked from it neither reads nor adds to its
    /// copy, whose lock a thread it does not have may have held at the fork.
    here: ThisProcess,
    list: Mutex<Vec<Remembered>>,
}

static REMEMBERED: OnceBox<Kept> = OnceBox::new();

/// The kept resolutions, locked; `None` in a process forked from the one that keeps them
/// (whose spawns then resolve afresh each time).
fn kept() -> Option<MutexGuard<'static, Vec<Remembered>>> {
    let kept = REMEMBERED.get_or_init(|| {
        Box::new(Kept {
            here: ThisProcess::mark(),
            list: Mutex::new(Vec::new()),
        })
    });
    // The list is consistent between statements: a panic elsewhere leaves it usable.
    kept.here
        .is_current()
        .then(|| kept.list.lock().unwrap_or_else(|e| e.into_inner()))
}

/// [`super::resolve`], reusing the result of an earlier call for the same `binary` from the
/// same current directory while every path that call read or looked for still shows the same:
/// the same object (device, inode, mode, size, modification and change times), the same
/// absence, the same canonical path. A file changed, replaced, added to a search directory
/// ahead of the one found, or a loader configuration edited since, makes it resolve afresh.
/// Errors are not remembered, nor a result that read a file changed within two seconds
/// before (a change right after it might not show in those times). The spawn of a sandbox with
/// [`crate::SandboxCommand::add_program_with_libraries`] resolves through this, with the
/// `LD_LIBRARY_PATH` the sandbox's program gets, if any (see
/// [`super::resolve_with_library_path`]).
pub fn resolve_remembered(
    binary: &Path,
    library_path: Option<&OsStr>,
) -> Result<ElfDeps, ElfError> {
    let cwd = current_dir();
    let same = |r: &Remembered| {
        r.cwd == cwd && r.binary == binary && r.library_path.as_deref() == library_path
    };
    let earlier = {
        let mut kept = kept();
        let kept = kept.as_deref_mut();
        kept.and_then(|k| k.iter().position(same).map(|at| k.remove(at)))
    };
    // Looked at without the lock: a slow file system holds up this spawn only.
    if let Some(earlier) = earlier.filter(|e| e.inputs.unchanged()) {
        let deps = earlier.deps.clone();
        keep(earlier);
        return Ok(deps);
    }
    let inputs = Inputs::default();
    let deps = resolve_in(&cwd, binary, library_path, &inputs)?;
    // A directory without a name (`.`) cannot be told from the next one: nothing is kept.
    if !inputs.racy() && cwd.is_absolute() {
        keep(Remembered {
            cwd,
            binary: binary.to_path_buf(),
            library_path: library_path.map(OsStr::to_os_string),
            deps: deps.clone(),
            inputs,
        });
    }
    Ok(deps)
}

/// Keeps `r` as the most recently used, in place of any other for the same binary (another
/// thread may have resolved it meanwhile).
fn keep(r: Remembered) {
    let Some(mut kept) = kept() else {
        return;
    };
    kept.retain(|k| k.cwd != r.cwd || k.binary != r.binary || k.library_path != r.library_path);
    if kept.len() >= KEPT {
        kept.remove(0);
    }
    kept.push(r);
}

/// Whether a resolution of `binary` from the current directory is kept.
#[cfg(test)]
pub(super) fn is_remembered(binary: &Path) -> bool {
    let cwd = current_dir();
    kept().is_some_and(|k| k.iter().any(|r| r.cwd == cwd && r.binary == binary))
}
