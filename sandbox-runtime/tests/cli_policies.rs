//! The policy files of `examples/policies/` run their programs under the `sandbox` tool, and
//! the programs print what they print outside the sandbox.
//!
//! The programs come from Debian's coreutils, gzip and python3 packages, which `.ci/run`
//! installs; a missing program fails its test rather than skipping it.

mod cli_common;

use cli_common::{python_stdlib, require, sandbox, unsandboxed, without_owners, ScratchDir};
use std::path::{Path, PathBuf};
use std::process::Output;

fn policy(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/policies")
        .join(name)
}

/// A scratch directory with two small text files, `a.txt` and `b.txt`.
fn scratch_with_texts(tag: &str) -> ScratchDir {
    let s = ScratchDir::new(tag);
    s.write("a.txt", "alpha\nbeta\ngamma\n".repeat(100));
    s.write("b.txt", "second file\n");
    s
}

/// Runs `sandbox run --policy POLICY [--ro DIR]... -- PROGRAM ARGS...`.
fn sandboxed(policy_file: &str, ro: &[&str], command: &[&str]) -> Output {
    let mut cmd = sandbox();
    cmd.arg("run").arg("--policy").arg(policy(policy_file));
    for dir in ro {
        cmd.arg("--ro").arg(dir);
    }
    cmd.arg("--").args(command);
    let out = cmd.output().expect("run the sandbox tool");
    eprintln!(
        "sandbox {policy_file} {command:?}: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs `command` both ways and checks the sandboxed run succeeded with the same stdout.
fn same_output(policy_file: &str, ro: &[&str], command: &[&str]) -> Output {
    let inside = sandboxed(policy_file, ro, command);
    let outside = unsandboxed(command);
    assert!(
        outside.status.success(),
        "the program fails outside the sandbox"
    );
    assert!(inside.status.success(), "sandboxed run failed");
    assert_eq!(
        String::from_utf8_lossy(&inside.stdout),
        String::from_utf8_lossy(&outside.stdout)
    );
    inside
}

#[test]
fn cat_prints_files() {
    let s = scratch_with_texts("cat");
    let (a, b) = (s.file("a.txt"), s.file("b.txt"));
    same_output(
        "cat.policy",
        &[s.path().to_str().unwrap()],
        &["/bin/cat", &a, &b],
    );
}

#[test]
fn ls_lists_a_directory_long() {
    let s = scratch_with_texts("ls");
    let dir = s.path().to_str().unwrap();
    // Owners differ inside (the host's ids map to the sandbox's user or to nobody), so compare
    // `ls -l` with the owner and group columns left out, and `ls -n`-free names exactly.
    let command = ["/bin/ls", "-l", "--time-style=+%s", dir];
    let inside = sandboxed("ls.policy", &[dir, "/etc"], &command);
    let outside = unsandboxed(&command);
    assert!(inside.status.success());
    assert_eq!(
        without_owners(&inside.stdout),
        without_owners(&outside.stdout)
    );
}

#[test]
fn sha256sum_hashes_files() {
    require("/usr/bin/sha256sum");
    let s = scratch_with_texts("sha");
    let (a, b) = (s.file("a.txt"), s.file("b.txt"));
    same_output(
        "sha256sum.policy",
        &[s.path().to_str().unwrap()],
        &["/usr/bin/sha256sum", &a, &b],
    );
}

#[test]
fn gzip_compresses_to_stdout() {
    require("/bin/gzip");
    let s = scratch_with_texts("gzip");
    let a = s.file("a.txt");
    same_output(
        "gzip.policy",
        &[s.path().to_str().unwrap()],
        &["/bin/gzip", "-c", &a],
    );
}

#[test]
fn python3_runs_a_snippet() {
    let stdlib = python_stdlib();
    let real = std::fs::canonicalize("/usr/bin/python3").unwrap();
    let code =
        "import json, hashlib; print(json.dumps({'x': 6 * 7}), hashlib.sha256(b'x').hexdigest())";
    same_output(
        "python3.policy",
        &[&stdlib],
        &[real.to_str().unwrap(), "-c", code],
    );
}
