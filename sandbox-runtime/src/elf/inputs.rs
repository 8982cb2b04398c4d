//! What a resolution read from the file system: each path it opened, listed or looked for, and
//! what was there, so that its result can be reused for as long as all of it is unchanged (see
//! [`super::resolve_remembered`]).
//!
//! A path is looked at before it is read. A file changed after that look (rewritten,
//! replaced, renamed over, made or removed) shows a different inode, size, modification or
//! change time the next time, so a result is never reused past a change to anything it read,
//! even one made while it was being worked out. A directory listed for `include` patterns
//! changes its modification time when an entry is added, removed or renamed.
//!
//! Some kernels and file systems stamp changes with a coarse clock (a tick of a few
//! milliseconds), so a second change of the same size within the tick of the first could
//! leave every time as it was. As git does with its index, an object modified or changed
//! within [`RACY`] of being looked at makes the whole record *racy*: its result is not reused.
//! So does a read that failed for a reason other than what is at the path (out of descriptors
//! or memory, an I/O error): the result would not say what the files say.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// What was at a path when it was looked at.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Seen {
    /// An object (symbolic links followed): its device, inode, mode, size, and modification and
    /// change times in nanoseconds.
    Object {
        dev: u64,
        ino: u64,
        mode: u32,
        size: u64,
        modified: (i64, i64),
        changed: (i64, i64),
    },
    /// Nothing could be looked at: this errno (`ENOENT`, `EACCES`, ...).
    Missing(i32),
}

impl Seen {
    fn object(path: &Path) -> Seen {
        match std::fs::metadata(path) {
            Ok(m) => Seen::Object {
                dev: m.dev(),
                ino: m.ino(),
                mode: m.mode(),
                size: m.size(),
                modified: (m.mtime(), m.mtime_nsec()),
                changed: (m.ctime(), m.ctime_nsec()),
            },
            Err(e) => Seen::Missing(e.raw_os_error().unwrap_or(0)),
        }
    }

    /// The object's mode (type and permissions), or `None` if nothing was there.
    fn mode(&self) -> Option<u32> {
        match self {
            Seen::Object { mode, .. } => Some(*mode),
            Seen::Missing(_) => None,
        }
    }

    /// Whether this is an object whose modification or change time is within [`RACY`] of
    /// now, or later.
    fn changed_lately(&self) -> bool {
        let Seen::Object {
            modified, changed, ..
        } = self
        else {
            return false;
        };
        let Ok(now) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) else {
            return true;
        };
        let now = i128::from(now.as_secs()) * 1_000_000_000 + i128::from(now.subsec_nanos());
        let at = |(secs, nanos): (i64, i64)| i128::from(secs) * 1_000_000_000 + i128::from(nanos);
        now - at(*modified).max(at(*changed)) < RACY.as_nanos() as i128
    }
}

/// `path`'s canonical path (every symbolic link resolved), or the errno canonicalising failed
/// with.
fn canonical(path: &Path) -> Result<PathBuf, i32> {
    path.canonicalize()
        .map_err(|e| e.raw_os_error().unwrap_or(0))
}

/// Whether a mode [`Inputs::note`] returned is a regular file's.
pub(crate) fn is_regular_file(mode: Option<u32>) -> bool {
    mode.is_some_and(|m| m & libc::S_IFMT == libc::S_IFREG)
}

/// How recent a change must be for the record holding it to be racy.
const RACY: std::time::Duration = std::time::Duration::from_secs(2);

/// The paths one resolution looked at, in order, each once.
#[derive(Debug, Default)]
pub(crate) struct Inputs {
    looked: RefCell<Vec<(PathBuf, Seen)>>,
    /// Where each path is in `looked`: a binary's search path may list thousands of
    /// directories, each looked up for every library it needs.
    index: RefCell<HashMap<PathBuf, usize>>,
    /// Paths canonicalised, and what each gave.
    canonicalised: RefCell<Vec<(PathBuf, Result<PathBuf, i32>)>>,
    /// Whether an object looked at had changed within [`RACY`] of the look.
    racy: Cell<bool>,
    /// Bytes of ELF files read.
    read: Cell<u64>,
}

impl Inputs {
    /// Records what is at `path` now (following symbolic links), unless it was looked at
    /// already, and returns the mode of the object there as recorded (`None`: nothing could be
    /// looked at), so that the caller decides on what the record holds without looking again.
    /// Call it before reading `path`, or listing it.
    pub(crate) fn note(&self, path: &Path) -> Option<u32> {
        let mut looked = self.looked.borrow_mut();
        let mut index = self.index.borrow_mut();
        if let Some(&at) = index.get(path) {
            return looked[at].1.mode();
        }
        let seen = Seen::object(path);
        if seen.changed_lately() {
            self.racy.set(true);
        }
        let mode = seen.mode();
        index.insert(path.to_path_buf(), looked.len());
        looked.push((path.to_path_buf(), seen));
        mode
    }

    /// Counts `bytes` more read from ELF files.
    pub(crate) fn count_read(&self, bytes: u64) {
        self.read.set(self.read.get().saturating_add(bytes));
    }

    /// Bytes read from ELF files so far.
    pub(crate) fn read_so_far(&self) -> u64 {
        self.read.get()
    }

    /// Canonicalises `path`, recording what it gave.
    pub(crate) fn canonicalize(&self, path: &Path) -> std::io::Result<PathBuf> {
        let result = canonical(path);
        self.canonicalised
            .borrow_mut()
            .push((path.to_path_buf(), result.clone()));
        result.map_err(std::io::Error::from_raw_os_error)
    }

    /// Records that reading or listing a path noted before failed with `error`. An answer
    /// about the path (it is missing, not a directory, not permitted, a loop of links, not
    /// text) is what the record shows; any other failure makes the record racy.
    pub(crate) fn failed(&self, error: &std::io::Error) {
        let about_the_path = [
            libc::ENOENT,
            libc::ENOTDIR,
            libc::EISDIR,
            libc::EACCES,
            libc::EPERM,
            libc::ELOOP,
            libc::ENAMETOOLONG,
        ];
        if error
            .raw_os_error()
            .is_some_and(|errno| !about_the_path.contains(&errno))
        {
            self.racy.set(true);
        }
    }

    /// Whether an object looked at had changed so shortly before that a change right after
    /// might not show (see the module docs): such a record must not be reused.
    pub(crate) fn racy(&self) -> bool {
        self.racy.get()
    }

    /// Whether every path looked at still shows what it showed, and every path canonicalised
    /// still gives what it gave.
    pub(crate) fn unchanged(&self) -> bool {
        let looked = self.looked.borrow();
        let canonicalised = self.canonicalised.borrow();
        looked.iter().all(|(p, seen)| Seen::object(p) == *seen)
            && canonicalised.iter().all(|(p, was)| canonical(p) == *was)
    }
}
