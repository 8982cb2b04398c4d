//! Scratch directories for tests: made fresh, removed with their content when dropped, so a
//! failing test leaves nothing behind in the system's temporary directory.
#![allow(dead_code)] // each test binary uses its own subset

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A new, empty directory in the system's temporary directory for one test's files, removed
/// with everything in it on drop.
///
/// Its name is `sandbox-test-BINARY-TAG-PID-N`, with the name of the test binary: the process
/// id keeps test binaries that run at the same time apart, and `N` counts the calls in this
/// process, so tests running in parallel never share a directory even with the same tag. It is
/// made with `create_dir`, which fails on an existing path; a name already taken (left behind by
/// an earlier process with the same id) is skipped for the next `N`, so an existing directory is
/// never reused, nor its content trusted.
pub struct ScratchDir {
    path: PathBuf,
}

impl ScratchDir {
    /// Makes a new directory whose name carries `tag` (the test's name, say).
    pub fn new(tag: &str) -> ScratchDir {
        static CALLS: AtomicUsize = AtomicUsize::new(0);
        let (binary, pid) = (env!("CARGO_CRATE_NAME"), std::process::id());
        loop {
            let n = CALLS.fetch_add(1, Ordering::Relaxed);
            let name = format!("sandbox-test-{binary}-{tag}-{pid}-{n}");
            let path = std::env::temp_dir().join(name);
            match std::fs::create_dir(&path) {
                Ok(()) => return ScratchDir { path },
                Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
                Err(e) => panic!("create the scratch directory {}: {e}", path.display()),
            }
        }
    }

    /// The directory itself.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The path of `name` inside the directory, as a command-line argument.
    pub fn file(&self, name: &str) -> String {
        self.path.join(name).to_str().unwrap().to_string()
    }

    /// Writes `contents` to `name` inside the directory and returns its path as [`file`] does.
    ///
    /// [`file`]: ScratchDir::file
    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> String {
        let path = self.file(name);
        std::fs::write(&path, contents).unwrap();
        path
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}
