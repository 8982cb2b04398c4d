//! What the caller's mounts show where a program's files must be: its program and libraries
//! at their places, and nothing the loader would load instead at the places it looks first.
//! Init mounts shallowest first, so the deepest mount at or above a place decides what the
//! sandbox shows there.

use super::{same_file, without_dot_dot};
use crate::command::Mount;
use crate::elf::ElfDeps;
use crate::error::SpawnError;
use std::path::{Path, PathBuf};

/// Where a path lands in the sandbox, through the plan's links.
pub(super) type Place<'a> = &'a dyn Fn(&Path) -> PathBuf;

/// What the sandbox shows at `at` (a path already placed) by the caller's `mounts`.
enum Shows<'a> {
    /// No bind or tmpfs at or above it: the sandbox's own root (empty but for what is bound).
    Nothing,
    /// The host path a bind shows there, and the bind's source.
    Host {
        path: PathBuf,
        bind_source: &'a Path,
    },
    /// A tmpfs, at `at` itself or above it.
    Tmpfs { at_the_place: bool },
}

/// What the deepest bind or tmpfs at or above `at` shows there (a link of the plan's own is no
/// mount: the caller looks at those).
fn shows_at<'a>(mounts: &'a [Mount], at: &Path, place: Place<'_>) -> Shows<'a> {
    let mut deepest: Option<(usize, PathBuf, &Mount)> = None;
    for m in mounts {
        if matches!(m, Mount::Symlink { .. }) {
            continue;
        }
        let landed = place(m.destination());
        if !at.starts_with(&landed) {
            continue;
        }
        let depth = landed.components().count();
        if deepest.as_ref().is_none_or(|(d, ..)| depth >= *d) {
            deepest = Some((depth, landed, m));
        }
    }
    let Some((_, landed, m)) = deepest else {
        return Shows::Nothing;
    };
    match m {
        Mount::Bind { src, .. } => {
            let below = at.strip_prefix(&landed).unwrap_or(Path::new(""));
            let path = if below.as_os_str().is_empty() {
                src.clone()
            } else {
                src.join(below)
            };
            Shows::Host {
                path,
                bind_source: src,
            }
        }
        _ => Shows::Tmpfs {
            at_the_place: landed == at,
        },
    }
}

/// Whether the caller's `mounts` already show the host file `file` where it lands in the
/// sandbox (`at`, through the plan's links as `place` follows them). The deepest mount at or
/// above `at` decides: a bind there, or a bind of a directory above it whose source holds the
/// same file at the same place below (an identity bind of `/usr` shows `/usr/bin/true`), shows
/// it, and it must not be bound again (the plan would refuse two entries in one place). A bind
/// that shows another file there, or a directory without it, or a tmpfs there, would have the
/// sandbox run or load that in the file's stead: refused, naming both. Under a tmpfs of a
/// directory above, or no mount, it is bound.
pub(super) fn already_shown(
    mounts: &[Mount],
    file: &Path,
    at: &Path,
    place: Place<'_>,
) -> Result<bool, SpawnError> {
    // A link of the plan's own that leads to the file's place: the file is reached through it.
    let link_there = mounts
        .iter()
        .any(|m| matches!(m, Mount::Symlink { .. }) && place(m.destination()) == at);
    if link_there {
        return Ok(true);
    }
    let replaced = |shown: String| SpawnError::ProgramFileReplaced {
        file: file.display().to_string(),
        place: at.display().to_string(),
        shown,
    };
    match shows_at(mounts, at, place) {
        Shows::Host { path, .. } if same_file(&path, file) => Ok(true),
        Shows::Host { path, bind_source } if path == bind_source => {
            Err(replaced(format!("`{}`", path.display())))
        }
        Shows::Host { path, bind_source } => Err(replaced(format!(
            "`{}` (a bind of `{}`)",
            path.display(),
            bind_source.display()
        ))),
        Shows::Tmpfs { at_the_place: true } => Err(replaced("a tmpfs".into())),
        Shows::Tmpfs { .. } | Shows::Nothing => Ok(false),
    }
}

/// Refuses a mount of the caller's that shows, at a place where the loader looks for one of
/// `deps`' libraries before the file found for it, a file the loader would load instead: an
/// ELF file of this machine other than the one the host has at that place. Those places are
/// each directory of the library's search list before its own, and the subdirectories of
/// these and of its own that the loader looks in first ([`crate::elf::loader_subdirs`]). An
/// identity bind shows the host's own file there (the resolver looked at it), a tmpfs
/// nothing.
pub(super) fn no_library_shadowed(
    mounts: &[Mount],
    deps: &ElfDeps,
    place: Place<'_>,
) -> Result<(), SpawnError> {
    for (dir, name) in &deps.searched {
        let found_here = dir.join(name);
        let own = deps.paths().any(|p| p == found_here);
        let subdirs = crate::elf::loader_subdirs().iter();
        let before = subdirs
            .map(|sub| dir.join(sub).join(name))
            .chain((!own).then_some(found_here));
        for looked_at in before {
            let looked_at = without_dot_dot(&looked_at);
            let at = place(&looked_at);
            let Shows::Host { path, .. } = shows_at(mounts, &at, place) else {
                continue;
            };
            // Most places hold nothing: looked at first, as the loader does.
            let loadable = || crate::elf::check_runnable(&path).is_ok();
            if path != looked_at && loadable() && !same_file(&path, &looked_at) {
                let library = deps
                    .paths()
                    .find(|p| p.file_name() == Some(name.as_os_str()))
                    .map_or_else(|| name.to_string_lossy(), |p| p.to_string_lossy());
                return Err(SpawnError::LibraryShadowed {
                    library: library.into_owned(),
                    place: at.display().to_string(),
                    shown: path.display().to_string(),
                });
            }
        }
    }
    Ok(())
}
