//! What the tests of the `sandbox` tool share: the binary, scratch directories, and runs of the
//! machine's own programs outside the sandbox.
#![allow(dead_code)] // each test binary uses its own subset

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The `sandbox` binary under test.
pub fn sandbox() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sandbox"))
}

/// Runs the `sandbox` binary with `args` and returns what it did.
pub fn sandbox_output(args: &[&str]) -> Output {
    sandbox().args(args).output().expect("run sandbox")
}

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

/// Fails the test when `program` is missing: its real set-up cannot run, so it must not pass.
pub fn require(program: &str) {
    assert!(
        Path::new(program).exists(),
        "{program} is not installed (install it; .ci/run does)"
    );
}

/// `/usr/lib/python3.X` of the installed `python3` (its real name is `python3.X`).
pub fn python_stdlib() -> String {
    require("/usr/bin/python3");
    let real = std::fs::canonicalize("/usr/bin/python3").unwrap();
    format!("/usr/lib/{}", real.file_name().unwrap().to_string_lossy())
}

/// Runs `command` outside any sandbox.
pub fn unsandboxed(command: &[&str]) -> Output {
    Command::new(command[0])
        .args(&command[1..])
        .output()
        .expect("run the program")
}

/// `ls -l` output with the owner and group columns left out: the host's ids map to other ids
/// inside the sandbox.
pub fn without_owners(b: &[u8]) -> String {
    String::from_utf8_lossy(b)
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() > 4 {
                format!("{} {} {}", f[0], f[1], f[4..].join(" "))
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}
