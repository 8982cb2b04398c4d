//! Runs the example binaries and checks what they print.
//!
//! `cargo test` builds every example of the package before it runs any test, into
//! `target/<profile>/examples/`, next to this test's own `target/<profile>/deps/`. The tests
//! find them there; when one is missing (a test binary run on its own after `cargo clean`,
//! say) it is built with `cargo build --example` first. Running the binaries directly, rather
//! than `cargo run`, keeps each test to the sandbox's own cost.

use std::path::PathBuf;
use std::process::{Command, Output};

fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps");
    let path = profile_dir.join("examples").join(name);
    if !path.exists() {
        let status = Command::new(env!("CARGO"))
            .args(["build", "--quiet", "--example", name])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("run cargo");
        assert!(status.success(), "cargo build --example {name} failed");
    }
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
        text.starts_with("violation caught: syscall violation: openat("),
        "{text}"
    );
}

#[test]
fn static_sandboxee_upper_cases_the_passed_descriptor() {
    let dir = std::env::temp_dir().join(format!("sandbox-static-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("in.txt");
    std::fs::write(&file, "Hello, sandboxed World 42!\n").unwrap();
    let out = run("static", &[file.to_str().unwrap()]);
    std::fs::remove_dir_all(&dir).ok();
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
    assert!(err.contains("syscall violation: "), "{err}");
}
