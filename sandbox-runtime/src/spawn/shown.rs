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
    /// The host path a bind shows there (symbolic links below its source not followed), the
    /// bind's place and its source.
    Host {
        path: PathBuf,
        landed: PathBuf,
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
                landed,
                bind_source: src,
            }
        }
        _ => Shows::Tmpfs {
            at_the_place: landed == at,
        },
    }
}

/// Most symbolic links followed to find what the sandbox shows at a place, as the kernel's own
/// bound.
const MAX_LINKS: usize = 40;

/// The host path the sandbox reaches at `at` (a path already placed), following symbolic links
/// as the sandbox will: a link met below a bind's source is read on the host, and its target
/// taken in the sandbox (an absolute one from the sandbox's root, through the caller's mounts
/// again), not on the host. The path may name nothing. `None` where the sandbox shows no host
/// file there (its own root, a tmpfs) or the links loop.
fn reached_at(mounts: &[Mount], at: &Path, place: Place<'_>) -> Option<PathBuf> {
    let mut at = at.to_path_buf();
    'links: for _ in 0..MAX_LINKS {
        let (landed, source) = match shows_at(mounts, &at, place) {
            Shows::Host {
                landed,
                bind_source,
                ..
            } => (landed, bind_source),
            _ => return None,
        };
        // A bind's source is resolved on the host when it is mounted.
        let mut host = std::fs::canonicalize(source).unwrap_or_else(|_| source.to_path_buf());
        let below: Vec<_> = at
            .strip_prefix(&landed)
            .unwrap_or(Path::new(""))
            .components()
            .collect();
        for (i, c) in below.iter().enumerate() {
            host.push(c);
            let Ok(meta) = std::fs::symlink_metadata(&host) else {
                // Nothing there: nor is there anything further down.
                host.extend(&below[i + 1..]);
                return Some(host);
            };
            if meta.file_type().is_symlink() {
                let target = std::fs::read_link(&host).ok()?;
                let in_sandbox: PathBuf = below[..i].iter().collect();
                let rest: PathBuf = below[i + 1..].iter().collect();
                let next = landed.join(in_sandbox).join(target).join(rest);
                at = place(&without_dot_dot(&next));
                continue 'links;
            }
        }
        return Some(host);
    }
    None
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
        Shows::Host {
            path, bind_source, ..
        } => {
            let reached = reached_at(mounts, at, place);
            if reached.as_deref().is_some_and(|r| same_file(r, file)) {
                return Ok(true);
            }
            let what = match reached {
                Some(r) if r == path && path == bind_source => format!("`{}`", path.display()),
                Some(r) if r == path => {
                    format!(
                        "`{}` (a bind of `{}`)",
                        path.display(),
                        bind_source.display()
                    )
                }
                Some(r) => format!(
                    "`{}` (a bind of `{}`), which leads to `{}`",
                    path.display(),
                    bind_source.display(),
                    r.display()
                ),
                None => format!(
                    "`{}` (a bind of `{}`), a link to where the sandbox shows no host file",
                    path.display(),
                    bind_source.display()
                ),
            };
            Err(replaced(what))
        }
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
/// nothing. More than [`MAX_PLACES_CHECKED`] places (`program`'s hostile search lists) are
/// refused rather than checked.
pub(super) fn no_library_shadowed(
    mounts: &[Mount],
    program: &Path,
    deps: &ElfDeps,
    place: Place<'_>,
) -> Result<(), SpawnError> {
    let subdirs = crate::elf::loader_subdirs();
    let places: usize = deps.searched.iter().map(|(_, names)| names.len()).sum();
    if places.saturating_mul(subdirs.len() + 1) > MAX_PLACES_CHECKED {
        return Err(SpawnError::Libraries {
            path: program.display().to_string(),
            reason: format!(
                "its libraries are looked for in more than {MAX_PLACES_CHECKED} places, more \
                 than are checked against the mounts"
            ),
        });
    }
    for (dir, names) in &deps.searched {
        let dir = without_dot_dot(dir);
        if untouched(mounts, &place(&dir), place) {
            continue;
        }
        for name in names {
            let found_here = dir.join(name);
            let own = deps.paths().any(|p| without_dot_dot(p) == found_here);
            let before = subdirs
                .iter()
                .map(|sub| dir.join(sub).join(name))
                .chain((!own).then_some(found_here));
            for looked_at in before {
                shadows(mounts, deps, &looked_at, name, place)?;
            }
        }
    }
    Ok(())
}

/// Most places [`no_library_shadowed`] checks for one program (a large program's take a few
/// hundred): a hostile binary's search lists could otherwise have it check millions.
const MAX_PLACES_CHECKED: usize = 1 << 16;

/// Whether no mount of the caller's can show anything at or below the placed directory `dir`:
/// none lands below it, and none at or above it but a tmpfs (the sandbox's root, otherwise).
fn untouched(mounts: &[Mount], dir: &Path, place: Place<'_>) -> bool {
    let lands_below = mounts.iter().any(|m| {
        let landed = place(m.destination());
        landed != dir && landed.starts_with(dir)
    });
    !lands_below && !matches!(shows_at(mounts, dir, place), Shows::Host { .. })
}

/// Refuses what a mount shows at `looked_at`, where the loader looks for `name`, if it is an
/// ELF file of this machine other than the host's own there.
fn shadows(
    mounts: &[Mount],
    deps: &ElfDeps,
    looked_at: &Path,
    name: &std::ffi::OsStr,
    place: Place<'_>,
) -> Result<(), SpawnError> {
    let looked_at = without_dot_dot(looked_at);
    let at = place(&looked_at);
    let Some(path) = reached_at(mounts, &at, place) else {
        return Ok(());
    };
    // Most places hold nothing: looked at first, as the loader does.
    let loadable = || crate::elf::check_runnable(&path).is_ok();
    if path == looked_at || !loadable() || same_file(&path, &looked_at) {
        return Ok(());
    }
    let library = deps
        .paths()
        .find(|p| p.file_name() == Some(name))
        .map_or_else(|| name.to_string_lossy(), |p| p.to_string_lossy());
    Err(SpawnError::LibraryShadowed {
        library: library.into_owned(),
        place: at.display().to_string(),
        shown: path.display().to_string(),
    })
}
