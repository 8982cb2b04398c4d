//! The `sandbox` command's contract, which scripts rely on: exit statuses, the JSON report,
//! rustc-style `check` errors, `explain --syscall` and the raw bytes of `compile`.

mod cli_common;

use cli_common::{sandbox_output, ScratchDir};
use std::path::Path;
use std::process::Output;

fn code(out: &Output) -> i32 {
    out.status.code().expect("exited, not signaled")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// What `/bin/sh -c` needs, and nothing that opens files for writing or sockets.
const SHELL_POLICY: &str = "default kill;\n\
    use dynamic_startup, malloc, exit, signals, getpids, getids, stdio, pipes, tcgets, time;\n\
    allow wait4, clone, vfork, execve, fcntl, getcwd, sysinfo;\n";

fn shell(s: &ScratchDir, script: &str, extra: &[&str]) -> Output {
    let policy = s.write("sh.policy", SHELL_POLICY);
    let mut args = vec!["run", "--policy", &policy];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--", "/bin/sh", "-c", script]);
    sandbox_output(&args)
}

#[test]
fn exit_status_is_the_programs_own() {
    let s = ScratchDir::new("exit");
    let out = shell(&s, "exit 7", &[]);
    assert_eq!(code(&out), 7, "{}", stderr(&out));
}

#[test]
fn killed_by_a_signal_is_128_plus_n() {
    let s = ScratchDir::new("signal");
    let out = shell(&s, "kill -TERM $$", &[]);
    assert_eq!(code(&out), 128 + libc::SIGTERM, "{}", stderr(&out));
}

#[test]
fn violation_is_159_with_a_one_line_summary_and_a_json_report() {
    let s = ScratchDir::new("violation");
    let policy = s.write(
        "p.policy",
        "default kill;\nuse dynamic_startup, malloc, exit;\n",
    );
    let report = s.path().join("report.json");
    let out = sandbox_output(&[
        "run",
        "--policy",
        &policy,
        "--report",
        report.to_str().unwrap(),
        "--",
        "/bin/echo",
        "hello",
    ]);
    assert_eq!(code(&out), 159, "{}", stderr(&out));
    let err = stderr(&out);
    let line = err
        .lines()
        .find(|l| l.contains("policy violation"))
        .unwrap_or_default();
    assert!(
        line.starts_with("sandbox: policy violation: write(1, "),
        "{err}"
    );
    assert!(line.contains("no rule matches; default is kill"), "{err}");
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(json["status"], "violation");
    assert_eq!(json["violation"]["syscall"], "write");
    assert_eq!(json["violation"]["args"][0], 1);
    assert_eq!(json["violation"]["args"].as_array().map(Vec::len), Some(6));
    assert!(json["exit_code"].is_null() && json["signal"].is_null());
    for key in ["wall_time_ms", "cpu_time_ms", "max_rss_kb"] {
        assert!(json[key].is_number(), "{key}: {json}");
    }
}

#[test]
fn time_out_is_124() {
    let s = ScratchDir::new("timeout");
    let policy = s.write("p.policy", format!("{SHELL_POLICY}use sleep;\n"));
    let out = sandbox_output(&[
        "run",
        "--policy",
        &policy,
        "--time-limit",
        "0.5",
        "--",
        "/bin/sleep",
        "5",
    ]);
    assert_eq!(code(&out), 124, "{}", stderr(&out));
}

#[test]
fn setup_errors_name_the_problem_and_are_125() {
    let s = ScratchDir::new("setup");
    let missing = s.path().join("no-such-dir");
    let ro = format!("{}:/data", missing.display());
    let out = shell(&s, "true", &["--ro", &ro]);
    assert_eq!(code(&out), 125, "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&missing.display().to_string()),
        "{}",
        stderr(&out)
    );

    let out = shell(&s, "true", &["--pids", "0"]);
    assert_eq!(code(&out), 125, "{}", stderr(&out));
    assert!(stderr(&out).contains("pids"), "{}", stderr(&out));

    let bad = s.write("bad.policy", "default kill;\nallow opne;\n");
    let out = sandbox_output(&["run", "--policy", &bad, "--", "/bin/true"]);
    assert_eq!(code(&out), 125, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("unknown syscall `opne`"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn missing_program_is_127_and_not_executable_is_126() {
    let s = ScratchDir::new("programs");
    let policy = s.write("p.policy", SHELL_POLICY);
    let out = sandbox_output(&["run", "--policy", &policy, "--", "/no/such/program"]);
    assert_eq!(code(&out), 127, "{}", stderr(&out));
    let out = sandbox_output(&["run", "--policy", &policy, "--", "no-such-program-on-path"]);
    assert_eq!(code(&out), 127, "{}", stderr(&out));
    let not_exec = s.write("data.txt", "just text\n");
    let out = sandbox_output(&["run", "--policy", &policy, "--", &not_exec]);
    assert_eq!(code(&out), 126, "{}", stderr(&out));
}

#[test]
fn check_prints_every_error_like_rustc_and_exits_1() {
    let s = ScratchDir::new("check");
    let bad = s.write("bad.policy", "default kill;\nuse maloc;\nallow opne;\n");
    let out = sandbox_output(&["check", &bad]);
    assert_eq!(code(&out), 1);
    let err = stderr(&out);
    assert!(
        err.contains(&format!("{bad}:2:5: error: unknown group `maloc`")),
        "{err}"
    );
    assert!(
        err.contains(&format!("{bad}:3:7: error: unknown syscall `opne`")),
        "{err}"
    );
    assert!(err.contains("3 | allow opne;"), "{err}");
    assert!(err.contains("  |       ^^^^"), "{err}");
    assert!(err.contains("did you mean `open`?"), "{err}");

    let good = s.write("good.policy", "default kill;\nuse stdio, exit;\n");
    let out = sandbox_output(&["check", &good]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

#[test]
fn explain_names_the_deciding_rule() {
    let s = ScratchDir::new("explain");
    let policy = s.write(
        "p.policy",
        "default kill;\nallow openat if flags & O_ACCMODE == O_RDONLY;\nerrno(EPERM) socket;\n",
    );
    let out = sandbox_output(&[
        "explain",
        &policy,
        "--arch",
        "x86_64",
        "--syscall",
        "openat",
        "AT_FDCWD",
        "0",
        "O_RDONLY",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("-> allow: rule `allow openat if flags & O_ACCMODE == O_RDONLY`"),
        "{text}"
    );
    assert!(text.contains(&format!("{policy}:2:1")), "{text}");

    let out = sandbox_output(&[
        "explain",
        &policy,
        "--arch",
        "aarch64",
        "--syscall",
        "socket",
        "AF_INET",
        "1",
        "0",
    ]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("[nr 198, aarch64] -> errno(EPERM)"));

    let out = sandbox_output(&["explain", &policy]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("ret   #0x7fff0000"));
}

#[test]
fn compile_writes_the_raw_program() {
    let s = ScratchDir::new("compile");
    let policy = s.write("p.policy", "default kill;\nuse stdio, exit;\n");
    let out_path = s.path().join("p.bpf");
    for arch in ["x86_64", "aarch64"] {
        let out = sandbox_output(&[
            "compile",
            &policy,
            "--arch",
            arch,
            "-o",
            out_path.to_str().unwrap(),
        ]);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        let bytes = std::fs::read(&out_path).unwrap();
        let compiled = sandbox_policy::compile_file(Path::new(&policy))
            .unwrap()
            .result
            .unwrap();
        let program = compiled
            .policy
            .program(sandbox_policy::Arch::from_name(arch).unwrap())
            .unwrap();
        let expected: Vec<u8> = program
            .filter
            .iter()
            .flat_map(|i| i.to_ne_bytes())
            .collect();
        assert_eq!(bytes, expected, "{arch}");
    }
    let out = sandbox_output(&[
        "compile",
        &policy,
        "--arch",
        "mips",
        "-o",
        out_path.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 2);
}

/// A report in a directory the sandbox may write to: the program plants a link to a host file
/// under the report's name, and the report replaces the link instead of overwriting that file.
#[test]
fn a_link_the_sandbox_plants_at_the_report_is_replaced_not_followed() {
    let s = ScratchDir::new("report-link");
    let victim = s.write("victim", "secret\n");
    std::fs::create_dir(s.path().join("out")).unwrap();
    // Writable by the sandbox's host id (65534 as root, the caller's own otherwise).
    let open_to_all = std::os::unix::fs::PermissionsExt::from_mode(0o777);
    std::fs::set_permissions(s.path().join("out"), open_to_all).unwrap();
    let rw = format!("{}:/out", s.file("out"));
    let report = s.path().join("out/report.json");
    let policy = s.write("all.policy", "default allow;\n");
    let out = sandbox_output(&[
        "run",
        "--policy",
        &policy,
        "--rw",
        &rw,
        "--report",
        report.to_str().unwrap(),
        "--",
        "/bin/ln",
        "-sf",
        &victim,
        "/out/report.json",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "secret\n");
    assert!(std::fs::symlink_metadata(&report).unwrap().is_file());
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(json["exit_code"], 0);
}

/// A report whose directory does not exist is refused before anything runs.
#[test]
fn a_report_in_a_missing_directory_is_a_setup_error_before_the_run() {
    let s = ScratchDir::new("report-missing");
    let report = s.path().join("no-such-dir/report.json");
    let marker = s.path().join("ran");
    let out = shell(
        &s,
        &format!("echo > {}", marker.display()),
        &["--report", report.to_str().unwrap()],
    );
    assert_eq!(code(&out), 125, "{}", stderr(&out));
    assert!(stderr(&out).contains("no-such-dir"), "{}", stderr(&out));
    assert!(!marker.exists());
}

/// A closed output pipe ends the command quietly (SIGPIPE), as with any Unix tool, not with a
/// panic (exit status 101).
#[test]
fn a_closed_output_pipe_ends_the_command_quietly() {
    use std::io::BufRead;
    use std::os::unix::process::ExitStatusExt;
    let s = ScratchDir::new("pipe");
    // Far more errors than a pipe holds, so that the writer meets the closed pipe.
    let policy = s.write(
        "p.policy",
        format!("default kill;\n{}", "allow opne;\n".repeat(5000)),
    );
    let mut child = cli_common::sandbox()
        .args(["check", &policy])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
    err.read_line(&mut first).unwrap();
    drop(err);
    let status = child.wait().unwrap();
    assert_eq!(
        status.signal(),
        Some(libc::SIGPIPE),
        "{status:?}, first line {first:?}"
    );
}
