//! What the tests of the `sandbox` tool share: the binary, scratch directories, and runs of the
//! machine's own programs outside the sandbox.
#![allow(dead_code)] // each test binary uses its own subset

use std::path::Path;
use std::process::{Command, Output};

#[path = "../scratch/mod.rs"]
mod scratch;
#[allow(unused_imports)] // not every test binary makes scratch directories
pub use scratch::ScratchDir;

/// The `sandbox` binary under test.
pub fn sandbox() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sandbox"))
}

/// A child process (a `sandbox` command) killed and reaped when dropped, so that a failed test
/// leaves nothing running.
pub struct KilledOnDrop(pub std::process::Child);

impl Drop for KilledOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs the `sandbox` binary with `args` and returns what it did.
pub fn sandbox_output(args: &[&str]) -> Output {
    sandbox().args(args).output().expect("run sandbox")
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
