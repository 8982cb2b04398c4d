//! Runs the example binaries and checks what they print.
//!
//! Each example is brought up to date with `cargo build --example` (a no-op when `cargo test`
//! has just built it; without it, `cargo test --test examples` alone would run stale binaries)
//! into `target/<profile>/examples/`, next to this test's own `target/<profile>/deps/`, and run
//! directly rather than through `cargo run`, which keeps each test to the sandbox's own cost.

use std::path::PathBuf;
use std::process::{Command, Output};

#[path = "../sandbox-runtime/tests/scratch/mod.rs"]
mod scratch;

fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps");
    let path = profile_dir.join("examples").join(name);
    let mut build = Command::new(env!("CARGO"));
    build
        .args(["build", "--quiet", "--example", name])
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    if profile_dir.ends_with("release") {
        build.arg("--release");
    }
    let status = build.status().expect("run cargo");
    assert!(status.success(), "cargo build --example {name} failed");
    assert!(path.exists(), "{} was not built", path.display());
    path
}

fn run(name: &str, args: &[&str]) -> Output {
    let out = Command::new(example(name))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run the example");
    eprintln!(
        "{name} {args:?}: {}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn crc4_returns_the_checksum_computed_in_the_sandbox() {
    let out = run("crc4", &["123456789"]);
    assert!(out.status.success());
    assert_eq!(stdout(&out), "crc32 = cbf43926\n");
    let out = run("crc4", &[]);
    assert!(out.status.success());
    assert_eq!(stdout(&out), "crc32 = 414fa339\n");
}

#[test]
fn crc4_misbehaving_sandboxee_is_stopped_by_the_policy() {
    let out = run("crc4", &["--misbehave"]);
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(
        text.starts_with("violation caught: policy violation: openat("),
        "{text}"
    );
}

#[test]
fn static_sandboxee_upper_cases_the_passed_descriptor() {
    let dir = scratch::ScratchDir::new("static");
    let file = dir.write("in.txt", "Hello, sandboxed World 42!\n");
    let out = run("static", &[&file]);
    assert!(out.status.success());
    assert_eq!(stdout(&out), "HELLO, SANDBOXED WORLD 42!\n");
}

#[test]
fn parser_accepts_good_input_and_rejects_bad_input() {
    let out = run("parser", &[]);
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(text.contains("  name = demo\n  size = 3\n"), "{text}");
    assert!(
        text.contains("  rejected: line 2: expected key=value\n"),
        "{text}"
    );
    let out = run("parser", &["a=1\\na=2"]);
    assert!(out.status.success());
    assert!(stdout(&out).contains("rejected: line 2: duplicate key \"a\""));
}

#[test]
fn tool_runs_a_program_under_a_policy_file() {
    let out = run(
        "tool",
        &[
            "examples/policies/sha256sum.policy",
            "--ro",
            "/etc",
            "--",
            "/usr/bin/sha256sum",
            "/etc/hostname",
        ],
    );
    assert!(out.status.success());
    let host = Command::new("/usr/bin/sha256sum")
        .arg("/etc/hostname")
        .output()
        .unwrap();
    assert_eq!(out.stdout, host.stdout);
    assert!(String::from_utf8_lossy(&out.stderr).contains("exited with code 0"));
}

#[test]
fn tool_reports_a_violation() {
    // sha256sum's policy does not let a program list directories.
    let out = run(
        "tool",
        &[
            "examples/policies/sha256sum.policy",
            "--",
            "/usr/bin/ls",
            "/",
        ],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("policy violation: "), "{err}");
}
