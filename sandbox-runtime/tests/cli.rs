//! The `sandbox` command's contract, which scripts rely on: exit statuses, the JSON report,
//! rustc-style `check` errors, `explain --syscall` and the raw bytes of `compile`.

mod cgroup_dirs;
mod cli_common;
mod terminal;

use cli_common::{sandbox_output, KilledOnDrop, ScratchDir};
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

/// The report says how each limit was enforced, so that a caller can tell a cgroup from an
/// rlimit standing in for it.
#[test]
fn the_report_lists_each_limit_and_what_enforced_it() {
    let s = ScratchDir::new("enforced");
    let report = s.path().join("r.json");
    let out = shell(
        &s,
        "exit 0",
        &[
            "--report",
            report.to_str().unwrap(),
            "--open-files",
            "64",
            "--time-limit",
            "5",
        ],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let limits = report_json(&report)["enforced_limits"].clone();
    let has = |limit: &str, value: u64, by: &str| {
        limits
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["limit"] == limit && l["value"] == value && l["by"] == by)
    };
    assert!(has("open_files", 64, "rlimit"), "{limits}");
    assert!(has("wall_time", 5000, "monitor"), "{limits}");
    assert!(has("core", 0, "rlimit"), "{limits}");
}

/// A command started in a directory since removed (which has no name, though a shell runs
/// programs from it) runs a program named by an absolute path, libraries and all, and says a
/// relative one is not found.
#[test]
fn a_removed_current_directory_only_fails_relative_programs() {
    use std::os::unix::process::CommandExt;
    let s = ScratchDir::new("removed-cwd");
    let policy = s.write("p.policy", "default allow;\n");
    let run_in_removed = |program: &str| {
        let dir = s.path().join(format!("gone-{}", program.len()));
        std::fs::create_dir(&dir).unwrap();
        let path = std::ffi::CString::new(dir.to_str().unwrap()).unwrap();
        let mut command = cli_common::sandbox();
        command
            .args(["run", "--policy", &policy, "--", program, "removed"])
            .current_dir(&dir);
        // SAFETY: runs in the forked child after its chdir, before the exec, and only makes
        // the rmdir system call on a path made before the fork.
        unsafe {
            command.pre_exec(move || {
                if libc::rmdir(path.as_ptr()) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            })
        };
        command.output().unwrap()
    };
    let out = run_in_removed("/bin/echo");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(out.stdout, b"removed\n");
    let out = run_in_removed("./echo");
    assert_eq!(code(&out), 127, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("./echo: program not found"),
        "{}",
        stderr(&out)
    );
}

/// Paths and arguments are bytes, as the system takes them, not only UTF-8: a directory and a
/// file whose names are not UTF-8 are bound and read.
#[test]
fn paths_and_arguments_need_not_be_utf8() {
    use std::os::unix::ffi::{OsStrExt, OsStringExt};
    let s = ScratchDir::new("bytes");
    let policy = s.write("p.policy", "default allow;\n");
    let dir = s.path().join(std::ffi::OsStr::from_bytes(b"d\xff"));
    std::fs::create_dir(&dir).unwrap();
    let file = dir.join(std::ffi::OsStr::from_bytes(b"f\xfe"));
    std::fs::write(&file, "bytes\n").unwrap();
    let mut spec = dir.clone().into_os_string().into_vec();
    spec.extend_from_slice(b":/d\xff");
    let out = cli_common::sandbox()
        .args(["run", "--policy", &policy, "--ro"])
        .arg(std::ffi::OsString::from_vec(spec))
        .args(["--", "/bin/cat"])
        .arg(std::ffi::OsStr::from_bytes(b"/d\xff/f\xfe"))
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(out.stdout, b"bytes\n");
}

/// A path may hold `:` and `\\`, written `\\:` and `\\\\`, on either side of the `:` that ends
/// SRC, and in a tmpfs's DST. A `\\` before anything else is an error that names the option.
#[test]
fn mount_paths_may_hold_colons() {
    let s = ScratchDir::new("colons");
    let policy = s.write("p.policy", "default allow;\n");
    let dir = s.path().join("a:b\\c");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("f"), "colon\n").unwrap();
    let escaped = dir
        .to_str()
        .unwrap()
        .replace('\\', "\\\\")
        .replace(':', "\\:");
    let run = |options: &[&str], command: &[&str]| {
        cli_common::sandbox()
            .args(["run", "--policy", &policy])
            .args(options)
            .arg("--")
            .args(command)
            .output()
            .unwrap()
    };
    let out = run(
        &["--ro", &format!("{escaped}:/in\\:side")],
        &["/bin/cat", "/in:side/f"],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(out.stdout, b"colon\n");
    let out = run(
        &["--ro", &escaped],
        &["/bin/cat", &format!("{}/f", dir.display())],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(out.stdout, b"colon\n");
    let out = run(&["--tmpfs", "/t\\:x:1M"], &["/bin/ls", "-d", "/t:x"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(out.stdout, b"/t:x\n");

    for (option, value, error) in [
        ("--ro", dir.display().to_string(), "`\\` escapes only"),
        ("--ro", format!("{escaped}:/x:y"), "a second `:`"),
        ("--rw", "/a\\b".to_string(), "`\\` escapes only"),
        ("--tmpfs", "/t:x:1M".to_string(), "a second `:`"),
    ] {
        let out = run(&[option, &value], &["/bin/true"]);
        assert_eq!(code(&out), 125, "{}", stderr(&out));
        let named = format!("{option} `{value}`: {error}");
        assert!(stderr(&out).contains(&named), "{}", stderr(&out));
    }
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
    assert!(
        stderr(&out).contains("timed out: its wall-time limit ran out"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_time_out_says_which_limit_ran_out() {
    let s = ScratchDir::new("which-limit");
    let policy = s.write("p.policy", SHELL_POLICY);
    let spin = ["--", "/bin/sh", "-c", "while :; do :; done"];
    for (limit, value, keyword, words) in [
        ("--cpu-limit", "1", "cpu_time", "CPU-time limit"),
        ("--time-limit", "0.5", "wall_time", "wall-time limit"),
    ] {
        let report = s.path().join(format!("{keyword}.json"));
        let out = sandbox_output(
            &[
                ["run", "--policy", &policy, limit, value, "--report"].as_slice(),
                &[report.to_str().unwrap()],
                &spin,
            ]
            .concat(),
        );
        assert_eq!(code(&out), 124, "{limit}: {}", stderr(&out));
        assert!(
            stderr(&out).contains(&format!("timed out: its {words} ran out")),
            "{limit}: {}",
            stderr(&out)
        );
        let json = report_json(&report);
        assert_eq!(json["status"], "timeout", "{limit}: {json}");
        assert_eq!(json["time_limit"], keyword, "{limit}: {json}");
    }
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

/// An error quotes what was typed, but what would act on the reader's terminal (an escape
/// sequence, a carriage return, a bidirectional control) is shown escaped.
#[test]
fn errors_quote_hostile_names_without_acting_on_the_terminal() {
    let s = ScratchDir::new("hostile-name");
    let missing = s.path().join("gone\u{1b}[2J\rsandbox: ok\u{202e}");
    let ro = format!("{}:/data", missing.display());
    let out = shell(&s, "true", &["--ro", &ro]);
    assert_eq!(code(&out), 125, "{}", stderr(&out));
    let text = stderr(&out);
    for raw in ['\u{1b}', '\r', '\u{202e}'] {
        assert!(!text.contains(raw), "{raw:?} in {text:?}");
    }
    let shown = r"gone\u{1b}[2J\rsandbox: ok\u{202e}";
    assert!(text.contains(shown), "{text:?}");
    // A usage error, which the argument parser words, written to a terminal (where the parser
    // would pass them on as they are).
    let (code, text) = stderr_on_a_terminal(&["run", "--bogus\u{1b}]0;title\u{7}\u{1b}[2J"]);
    assert_eq!(code, Some(2));
    assert!(text.contains("--bogus"), "{text:?}");
    // Only the command's own reset of the character attributes (below) is left.
    let own = text.replace(RESET_ATTRIBUTES, "");
    assert!(
        !own.contains('\u{1b}') && !own.contains('\u{7}'),
        "{text:?}"
    );
}

/// What the command writes before each of its messages on a terminal.
const RESET_ATTRIBUTES: &str = "\u{1b}[0m";

/// On a terminal, the command resets the character attributes before its own words: a program
/// that left the terminal writing concealed text (`ESC [8m`) cannot hide the report of the
/// call it was killed for.
#[test]
fn a_program_cannot_hide_the_commands_report_on_a_terminal() {
    let s = ScratchDir::new("conceal");
    let policy = s.write("p.policy", "default allow;\nkill umask;\n");
    let script = "printf '\\033[8m' >&2; umask";
    let (code, text) =
        stderr_on_a_terminal(&["run", "--policy", &policy, "--", "/bin/sh", "-c", script]);
    assert_eq!(code, Some(159), "{text:?}");
    let concealed = text.find("\u{1b}[8m").expect("the program's escape");
    let report = text
        .find("sandbox: policy violation: umask")
        .expect("the report");
    assert!(concealed < report, "{text:?}");
    assert!(text[..report].ends_with(RESET_ATTRIBUTES), "{text:?}");
}

/// The exit code of `sandbox ARGS` and what it (and its sandbox) wrote on standard error when
/// that is a terminal (a new pty's).
fn stderr_on_a_terminal(args: &[&str]) -> (Option<i32>, String) {
    use std::io::Read;
    let (master, slave) = terminal::pty();
    let mut master = std::fs::File::from(master);
    let status = cli_common::sandbox()
        .args(args)
        .stderr(slave)
        .status()
        .unwrap();
    let mut got = Vec::new();
    // Reading past what was written ends with EIO once no slave is open.
    let _ = master.read_to_end(&mut got);
    (status.code(), String::from_utf8_lossy(&got).into_owned())
}

/// A descriptor opened at `/dev/tty` names the terminal it was opened on; opened again by path
/// it would name the opener's controlling terminal instead. Given one while the command's own
/// controlling terminal is another pty, the sandbox still writes to the first.
#[test]
fn a_descriptor_of_dev_tty_stays_on_its_own_terminal() {
    cli_common::require("/usr/bin/python3");
    let s = ScratchDir::new("dev-tty");
    let policy = s.write("p.policy", "default allow;\n");
    let script = s.write(
        "two-ttys.py",
        concat!(
            "import os, pty, fcntl, termios, time, sys\n",
            "m1, s1 = pty.openpty(); m2, s2 = pty.openpty()\n",
            "pid = os.fork()\n",
            "if pid == 0:\n",
            "    os.setsid(); fcntl.ioctl(s1, termios.TIOCSCTTY, 0)\n",
            "    fd = os.open('/dev/tty', os.O_RDWR)\n",
            "    inner = os.fork()\n",
            "    if inner == 0:\n",
            "        os.setsid(); fcntl.ioctl(s2, termios.TIOCSCTTY, 0)\n",
            "        os.dup2(fd, 0); os.execv(sys.argv[1], sys.argv[1:])\n",
            "    os.waitpid(inner, 0); os._exit(0)\n",
            "os.waitpid(pid, 0); time.sleep(0.2)\n",
            "for name, m in (('first', m1), ('second', m2)):\n",
            "    os.set_blocking(m, False)\n",
            "    try: got = os.read(m, 4096)\n",
            "    except BlockingIOError: got = b''\n",
            "    print(name, got)\n",
        ),
    );
    let out = std::process::Command::new("/usr/bin/python3")
        .arg(&script)
        .arg(env!("CARGO_BIN_EXE_sandbox"))
        .args([
            "run",
            "--policy",
            &policy,
            "--",
            "/bin/sh",
            "-c",
            "echo to-fd-0 >&0",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("first b'to-fd-0\\r\\n'"), "{text}");
    assert!(text.contains("second b''"), "{text}");
}

/// The program gets the name it was called by, as from a shell, not the file it resolves to
/// (`sh` is a link to `dash` on Debian): programs that go by their name (`xzcat`) depend on it.
#[test]
fn the_program_is_called_by_the_name_as_typed() {
    let s = ScratchDir::new("arg0");
    let resolved = std::fs::canonicalize("/bin/sh").unwrap();
    assert_ne!(resolved, Path::new("/bin/sh"), "/bin/sh is no link here");
    for name in ["sh", "/bin/sh"] {
        let policy = s.write("sh.policy", SHELL_POLICY);
        let out = sandbox_output(&["run", "--policy", &policy, "--", name, "-c", "echo $0"]);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        assert_eq!(String::from_utf8_lossy(&out.stdout), format!("{name}\n"));
    }
}

/// A name on PATH is the first file of that name that can run, as `execvp` finds it: one that
/// cannot, earlier on PATH, is passed over.
#[test]
fn path_lookup_passes_over_a_file_that_cannot_run() {
    let s = ScratchDir::new("path-lookup");
    let policy = s.write("p.policy", SHELL_POLICY);
    let early = s.path().join("early");
    std::fs::create_dir(&early).unwrap();
    std::fs::copy("/bin/false", early.join("true")).unwrap();
    std::fs::set_permissions(
        early.join("true"),
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .unwrap();
    let run_true_on = |path: String| {
        cli_common::sandbox()
            .env("PATH", path)
            .args(["run", "--policy", &policy, "--", "true"])
            .output()
            .unwrap()
    };
    let out = run_true_on(format!("{}:/usr/bin:/bin", early.display()));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    // With no file of that name that can run, the first is named as not executable.
    let out = run_true_on(early.display().to_string());
    assert_eq!(code(&out), 126, "{}", stderr(&out));
    assert!(stderr(&out).contains("not executable"), "{}", stderr(&out));
}

#[test]
fn missing_program_is_127_and_not_executable_is_126() {
    let s = ScratchDir::new("programs");
    let policy = s.write("p.policy", SHELL_POLICY);
    let out = sandbox_output(&["run", "--policy", &policy, "--", "/no/such/program"]);
    assert_eq!(code(&out), 127, "{}", stderr(&out));
    let out = sandbox_output(&["run", "--policy", &policy, "--", "no-such-program-on-path"]);
    assert_eq!(code(&out), 127, "{}", stderr(&out));
    let out = sandbox_output(&["run", "--policy", &policy, "--", ""]);
    assert_eq!(code(&out), 125, "{}", stderr(&out));
    assert!(stderr(&out).contains("name is empty"), "{}", stderr(&out));
    let not_exec = s.write("data.txt", "just text\n");
    let out = sandbox_output(&["run", "--policy", &policy, "--", &not_exec]);
    assert_eq!(code(&out), 126, "{}", stderr(&out));
    // Executable, but no program the sandbox can start: a script, or text.
    for (name, text, why) in [
        ("script.sh", "#!/bin/sh\necho hi\n", "is a script (#!)"),
        ("text", "just text\n", "is not an ELF binary"),
    ] {
        let file = s.write(name, text);
        std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let out = sandbox_output(&["run", "--policy", &policy, "--", &file]);
        assert_eq!(code(&out), 126, "{}", stderr(&out));
        assert!(stderr(&out).contains(why), "{}", stderr(&out));
    }
    // The first 100 bytes of a real program, its program headers cut off: no shell runs it.
    let cut = s.path().join("cut");
    std::fs::write(&cut, &std::fs::read("/bin/true").unwrap()[..100]).unwrap();
    std::fs::set_permissions(&cut, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let out = sandbox_output(&["run", "--policy", &policy, "--", cut.to_str().unwrap()]);
    assert_eq!(code(&out), 126, "{}", stderr(&out));
    let why = "is a truncated or malformed ELF file";
    assert!(stderr(&out).contains(why), "{}", stderr(&out));
    // An ELF header of this machine with no program headers: the kernel refuses it (ENOEXEC),
    // as a shell reports with 126.
    let machine: u16 = if cfg!(target_arch = "aarch64") {
        183
    } else {
        62
    };
    let mut elf = b"\x7fELF\x02\x01\x01\x00".to_vec();
    elf.extend_from_slice(&[0; 8]);
    for (value, width) in [
        (2, 2), // e_type: ET_EXEC
        (machine.into(), 2),
        (1, 4),         // e_version
        (0x40_0000, 8), // e_entry
        (64, 8),        // e_phoff
        (0, 8),         // e_shoff
        (0, 4),         // e_flags
        (64, 2),        // e_ehsize
        (56, 2),        // e_phentsize
        (0, 2),         // e_phnum
        (64, 2),        // e_shentsize
        (0, 2),         // e_shnum
        (0, 2),         // e_shstrndx
    ] {
        elf.extend_from_slice(&u64::to_le_bytes(value)[..width]);
    }
    let file = s.path().join("headless");
    std::fs::write(&file, elf).unwrap();
    std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let file = file.to_str().unwrap();
    let out = sandbox_output(&["run", "--policy", &policy, "--ro", file, "--", file]);
    assert_eq!(code(&out), 126, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("Exec format error"),
        "{}",
        stderr(&out)
    );
    // A real program of this machine with its header changed to another machine, or to a
    // core file: the kernel refuses both (ENOEXEC), and so does the command, before looking
    // for libraries that would not be there.
    let real = std::fs::read("/bin/true").unwrap();
    let other_machine = if cfg!(target_arch = "aarch64") {
        62u16
    } else {
        183
    };
    for (name, at, value, why) in [
        ("foreign", 18, other_machine, "for another machine"),
        ("core", 16, 4, "not an executable"),
    ] {
        let mut patched = real.clone();
        patched[at..at + 2].copy_from_slice(&value.to_le_bytes());
        let file = s.path().join(name);
        std::fs::write(&file, patched).unwrap();
        std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let file = file.to_str().unwrap();
        let out = sandbox_output(&["run", "--policy", &policy, "--", file]);
        assert_eq!(code(&out), 126, "{name}: {}", stderr(&out));
        assert!(stderr(&out).contains(why), "{name}: {}", stderr(&out));
    }
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

/// A policy that compiles with a warning: `check` prints it like rustc on stderr and exits 0.
#[test]
fn check_prints_warnings_like_rustc_and_exits_0() {
    let s = ScratchDir::new("check-warning");
    let file = s.write(
        "w.policy",
        "default allow;\nkill socket if type == SOCK_RAW;\n",
    );
    let out = sandbox_output(&["check", &file]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "{file}:2:16: warning: a call whose `type` sets one bit more than the value \
             compared escapes this `kill` rule"
        )),
        "{err}"
    );
    assert!(err.contains("`type & MASK == VALUE`"), "{err}");
    assert!(String::from_utf8_lossy(&out.stdout).contains(": ok ("));
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

    // One call per run: a second `--syscall` is refused, not merged into the first.
    let out = sandbox_output(&["explain", &policy, "--syscall", "read", "--syscall", "1"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("--syscall"), "{}", stderr(&out));
}

/// `--terminal-guard` shows and writes the program of a sandbox that can reach a host terminal,
/// where the terminal guard refuses what the policy's own program allows, and names the guard's
/// rule; without it, the policy's own program.
#[test]
fn explain_and_compile_show_the_terminal_guarded_program_on_request() {
    let s = ScratchDir::new("explain-terminal");
    let policy = s.write("p.policy", "default kill;\nallow ioctl, read;\n");
    let call = ["--arch", "x86_64", "--syscall", "ioctl", "0", "TIOCSTI"];
    let plain = sandbox_output(&[&["explain", policy.as_str()][..], &call].concat());
    assert_eq!(code(&plain), 0, "{}", stderr(&plain));
    let text = String::from_utf8_lossy(&plain.stdout);
    assert!(
        text.contains("-> allow: rule `allow ioctl, read`"),
        "{text}"
    );
    let args = [&["explain", policy.as_str(), "--terminal-guard"][..], &call].concat();
    let guarded = sandbox_output(&args);
    assert_eq!(code(&guarded), 0, "{}", stderr(&guarded));
    let text = String::from_utf8_lossy(&guarded.stdout);
    assert!(
        text.contains("-> errno(EPERM): rule `errno(EPERM) ioctl if request == TIOCSTI`"),
        "{text}"
    );
    assert!(text.contains("terminal guard"), "{text}");
    let sizes: Vec<u64> = [false, true]
        .into_iter()
        .map(|guard| {
            let out = s.path().join(format!("p{guard}.bpf"));
            let out = out.to_str().unwrap();
            let mut args = vec!["compile", policy.as_str(), "-o", out];
            if guard {
                args.push("--terminal-guard");
            }
            let run = sandbox_output(&args);
            assert_eq!(code(&run), 0, "{}", stderr(&run));
            std::fs::metadata(out).unwrap().len()
        })
        .collect();
    assert!(sizes[1] > sizes[0], "{sizes:?}");
}

/// `check` makes every architecture's program; `explain`, `compile` and `run` only the one they
/// need. A policy whose x86_64 program is too long (1500 argument rules on `open`, which only
/// x86_64 has) fails `check` and anything asking for x86_64, and explains and compiles for
/// aarch64; `run` refuses it on an x86_64 machine and runs under it on an aarch64 one (where
/// `/bin/true` is then a violation of it).
#[test]
fn only_the_architectures_a_subcommand_needs_are_compiled() {
    let s = ScratchDir::new("arch-subset");
    let mut text = String::from("default kill;\n");
    for i in 0..1500 {
        text.push_str(&format!(
            "allow open if flags == {} && mode == {i};\n",
            i * 7 + 1
        ));
    }
    let policy = s.write("p.policy", &text);
    let too_long = "the x86_64 filter needs";
    let check = sandbox_output(&["check", policy.as_str()]);
    assert_eq!(code(&check), 1, "{}", stderr(&check));
    assert!(stderr(&check).contains(too_long), "{}", stderr(&check));
    for arch in ["x86_64", "aarch64"] {
        let out = s.path().join(format!("{arch}.bpf"));
        let out = out.to_str().unwrap();
        for args in [
            vec!["explain", policy.as_str(), "--arch", arch],
            vec!["compile", policy.as_str(), "--arch", arch, "-o", out],
        ] {
            let run = sandbox_output(&args);
            if arch == "x86_64" {
                assert_eq!(code(&run), 1, "{args:?}: {}", stderr(&run));
                assert!(
                    stderr(&run).contains(too_long),
                    "{args:?}: {}",
                    stderr(&run)
                );
            } else {
                assert_eq!(code(&run), 0, "{args:?}: {}", stderr(&run));
            }
        }
    }
    let run = sandbox_output(&["run", "--policy", policy.as_str(), "--", "/bin/true"]);
    if cfg!(target_arch = "x86_64") {
        assert_eq!(code(&run), 125, "{}", stderr(&run));
        assert!(stderr(&run).contains(too_long), "{}", stderr(&run));
    } else {
        assert!(!stderr(&run).contains(too_long), "{}", stderr(&run));
        assert_ne!(code(&run), 125, "{}", stderr(&run));
    }
}

/// `explain --syscall` reads a value as the policy language reads a constant: every literal
/// form, `|` between values, and the same error for a leading zero.
#[test]
fn explain_reads_values_as_the_language_does() {
    let s = ScratchDir::new("explain-values");
    let policy = s.write(
        "p.policy",
        "default kill;\nerrno(EACCES) openat if flags & (O_WRONLY | O_CREAT) == O_WRONLY | O_CREAT;\n\
         allow write if fd == 0b10;\nallow read if count == 1_000;\nallow mkdir if mode == 0o755;\n",
    );
    let explain = |call: &[&str]| {
        let mut args = vec!["explain", &policy, "--arch", "x86_64", "--syscall"];
        args.extend(call);
        sandbox_output(&args)
    };
    for (call, decision) in [
        (&["write", "2"][..], "-> allow"),
        (&["write", "0b10"], "-> allow"),
        (&["write", "0x_2"], "-> allow"),
        (&["read", "0", "0", "1_000"], "-> allow"),
        (&["read", "0", "0", "1000"], "-> allow"),
        (&["mkdir", "0", "0o755"], "-> allow"),
        (&["mkdir", "0", "493"], "-> allow"),
        (
            &["openat", "AT_FDCWD", "0", "O_WRONLY|O_CREAT"],
            "-> errno(EACCES)",
        ),
        (
            &["openat", "AT_FDCWD", "0", "O_WRONLY | 0o100"],
            "-> errno(EACCES)",
        ),
        (&["openat", "AT_FDCWD", "0", "O_WRONLY"], "-> kill"),
        (&["uretprobe"], "without asking any seccomp filter"),
    ] {
        let out = explain(call);
        assert_eq!(code(&out), 0, "{call:?}: {}", stderr(&out));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(decision), "{call:?}: {text}");
    }
    for (call, error) in [
        (&["mkdir", "0", "0755"][..], "leading zero"),
        (&["write", "0b12"], "not a binary digit"),
        (&["write", "1|"], "`|` joins two values"),
        (&["write", ""], "no value; expected an integer"),
        (&["write", " "], "no value; expected an integer"),
        (&["write", "2|-1"], "negative values cannot be combined"),
        (
            &["openat", "AT_FDCWD|1"],
            "negative values cannot be combined",
        ),
        (&["write", "1|-EPERM"], "a `-` goes before an integer"),
    ] {
        let out = explain(call);
        assert_eq!(code(&out), 2, "{call:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(error), "{call:?}: {}", stderr(&out));
    }
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
    use std::os::fd::AsRawFd;
    use std::os::unix::process::ExitStatusExt;
    let s = ScratchDir::new("pipe");
    // Far more errors than the pipe holds (a page: the command renders at most 100 errors),
    // so that the writer meets the closed pipe.
    let policy = s.write(
        "p.policy",
        format!("default kill;\n{}", "allow opne;\n".repeat(5000)),
    );
    let (read_end, write_end) = std::io::pipe().unwrap();
    // SAFETY: fcntl on a live pipe descriptor with an integer argument.
    let size = unsafe { libc::fcntl(write_end.as_raw_fd(), libc::F_SETPIPE_SZ, 4096) };
    assert!(size >= 4096, "{}", std::io::Error::last_os_error());
    let mut child = cli_common::sandbox()
        .args(["check", &policy])
        .stderr(write_end)
        .spawn()
        .unwrap();
    let mut first = String::new();
    let mut err = std::io::BufReader::new(read_end);
    err.read_line(&mut first).unwrap();
    drop(err);
    let status = child.wait().unwrap();
    assert_eq!(
        status.signal(),
        Some(libc::SIGPIPE),
        "{status:?}, first line {first:?}"
    );
}

/// The JSON report at `path`.
fn report_json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// `/dev/full`, open for writing: every write fails with ENOSPC.
fn dev_full() -> std::fs::File {
    std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap()
}

/// A failure before the program starts still writes the report, as a `setup_error` naming the
/// problem, over whatever an earlier run left there.
#[test]
fn a_failure_before_the_spawn_replaces_an_old_report_with_a_setup_error() {
    let s = ScratchDir::new("report-early");
    let good = s.write("good.policy", "default allow;\n");
    let bad = s.write("bad.policy", "default kill;\nallow opne;\n");
    let script = s.write("script.sh", "#!/bin/sh\necho hi\n");
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let report = s.path().join("report.json");
    let cases: [(&[&str], i32, &str); 5] = [
        (
            &["--policy", &bad, "--", "/bin/true"],
            125,
            "unknown syscall `opne`",
        ),
        (
            &["--policy", &good, "--", "/no/such/program"],
            127,
            "/no/such/program",
        ),
        (
            &["--policy", &good, "--memory", "0", "--", "/bin/true"],
            125,
            "memory",
        ),
        (
            &["--policy", &good, "--", &script],
            126,
            "run its interpreter",
        ),
        (&["--policy", &good, "--", "/"], 126, "is a directory"),
    ];
    for (args, expected, problem) in cases {
        std::fs::write(&report, "{\"status\": \"ok\", \"exit_code\": 0}\n").unwrap();
        let mut all = vec!["run", "--report", report.to_str().unwrap()];
        all.extend_from_slice(args);
        let out = sandbox_output(&all);
        assert_eq!(code(&out), expected, "{args:?}: {}", stderr(&out));
        let json = report_json(&report);
        assert_eq!(json["status"], "setup_error", "{args:?}: {json}");
        assert!(json["exit_code"].is_null(), "{args:?}: {json}");
        let error = json["error"].as_str().unwrap_or_default();
        assert!(error.contains(problem), "{args:?}: {json}");
    }
}

/// A report that cannot be written fails the command with 125: a directory is refused before
/// the run, a write error after it is not ignored.
#[test]
fn a_report_that_cannot_be_written_is_125() {
    let s = ScratchDir::new("report-unwritable");
    let policy = s.write("all.policy", "default allow;\n");
    let dir = s.path().join("a-directory");
    std::fs::create_dir(&dir).unwrap();
    for report in [dir.to_str().unwrap(), "/dev/full"] {
        let out = sandbox_output(&[
            "run",
            "--policy",
            &policy,
            "--report",
            report,
            "--",
            "/bin/true",
        ]);
        assert_eq!(code(&out), 125, "{report}: {}", stderr(&out));
        assert!(
            stderr(&out).contains(&format!("cannot write report `{report}`")),
            "{}",
            stderr(&out)
        );
    }
    let out = sandbox_output(&[
        "run",
        "--policy",
        &policy,
        "--report",
        dir.to_str().unwrap(),
        "--",
        "/bin/true",
    ]);
    assert!(stderr(&out).contains("directory"), "{}", stderr(&out));
    assert!(std::fs::metadata(&dir).unwrap().is_dir());
    assert!(std::fs::read_dir(&dir).unwrap().next().is_none());
}

/// A standard output or error that cannot be written fails the command cleanly, never with a
/// panic (exit status 101).
#[test]
fn unwritable_stdout_or_stderr_is_a_clean_failure_not_a_panic() {
    let s = ScratchDir::new("dev-full");
    let good = s.write("good.policy", "default kill;\nuse stdio, exit;\n");
    let bad = s.write("bad.policy", "default kill;\nallow opne;\n");
    let to_stdout: [&[&str]; 4] = [
        &["check", &good],
        &["explain", &good],
        &["explain", &good, "--syscall", "read", "0", "0", "1"],
        &["--help"],
    ];
    for args in to_stdout {
        let out = cli_common::sandbox()
            .args(args)
            .stdout(dev_full())
            .output()
            .unwrap();
        assert_eq!(code(&out), 1, "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("cannot write to standard output"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    let to_stderr: [(&[&str], i32); 3] = [
        (&["check", &bad], 1),
        (&["run", "--policy", &good, "--", "/no/such/program"], 127),
        (&["run", "--policy", &bad, "--", "/bin/true"], 125),
    ];
    for (args, expected) in to_stderr {
        let out = cli_common::sandbox()
            .args(args)
            .stderr(dev_full())
            .output()
            .unwrap();
        assert_eq!(code(&out), expected, "{args:?}");
    }
}

/// With SIGPIPE blocked (inherited from the caller), a closed output pipe still ends the
/// command quietly: the status a shell shows for SIGPIPE, and nothing on stderr.
#[test]
fn a_closed_output_pipe_with_sigpipe_blocked_ends_quietly() {
    use std::os::fd::{FromRawFd, OwnedFd};
    use std::os::unix::process::CommandExt;
    let s = ScratchDir::new("pipe-blocked");
    let policy = s.write("p.policy", "default kill;\nuse stdio, exit;\n");
    let mut fds = [0; 2];
    // SAFETY: fds has room for the two descriptors pipe2 returns.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: pipe2 just returned these descriptors and nothing else owns them.
    let (read_end, write_end) =
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    drop(read_end);
    let mut cmd = cli_common::sandbox();
    cmd.args(["explain", &policy]).stdout(write_end);
    // SAFETY: only sigemptyset, sigaddset and sigprocmask, which are async-signal-safe, run
    // between the fork and the exec.
    unsafe {
        cmd.pre_exec(|| {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGPIPE);
            if libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = cmd.output().unwrap();
    assert_eq!(code(&out), 128 + libc::SIGPIPE, "{}", stderr(&out));
    assert_eq!(stderr(&out), "");
}

/// A directory or a device given as the program cannot be executed (126, as a shell says); a
/// missing one is still 127.
#[test]
fn a_directory_or_a_device_as_the_program_is_126() {
    let s = ScratchDir::new("not-a-file");
    let policy = s.write("p.policy", "default allow;\n");
    let dir = s.path().to_str().unwrap();
    for (program, expected, said) in [
        (dir, 126, "is a directory"),
        ("/dev/null", 126, "is not a regular file"),
        ("/no/such/program", 127, "program not found"),
    ] {
        let out = sandbox_output(&["run", "--policy", &policy, "--", program]);
        assert_eq!(code(&out), expected, "{program}: {}", stderr(&out));
        assert!(
            stderr(&out).contains(&format!("{program}: {said}")),
            "{}",
            stderr(&out)
        );
    }
}

/// Options after `--syscall`'s values are options, and negative numbers are still values.
#[test]
fn explain_takes_options_after_the_call_and_negative_numbers_in_it() {
    let s = ScratchDir::new("explain-order");
    let policy = s.write(
        "p.policy",
        "default kill;\nallow openat if flags & O_ACCMODE == O_RDONLY;\n",
    );
    let out = sandbox_output(&[
        "explain",
        &policy,
        "--syscall",
        "openat",
        "AT_FDCWD",
        "0",
        "O_RDWR",
        "--arch",
        "aarch64",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("[nr 56, aarch64] -> kill"), "{text}");

    let out = sandbox_output(&[
        "explain",
        &policy,
        "--syscall",
        "openat",
        "-100",
        "0",
        "O_RDONLY",
        "--arch",
        "x86_64",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("openat(-100, 0, O_RDONLY) [nr 257, x86_64] -> allow"),
        "{text}"
    );
    // The file may follow the call's words, six values or fewer; a seventh value, before or
    // after the file, is refused in words, and so is a word that is neither.
    let six = ["--syscall", "openat", "1", "2", "3", "4", "5", "6"];
    let out = sandbox_output(&[&["explain"], six.as_slice(), &[&policy]].concat());
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = sandbox_output(&["explain", "--syscall", "openat", "AT_FDCWD", "0", &policy]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("openat(AT_FDCWD, 0) [nr "), "{text}");
    let out = sandbox_output(&["explain", &policy, "extra", "--syscall", "openat"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("unexpected argument `extra`"),
        "{}",
        stderr(&out)
    );
    // Six values are no more than a call has: a word between the file and them is the one
    // too many.
    let out = sandbox_output(&[&["explain", &policy, "extra"], six.as_slice()].concat());
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("unexpected argument `extra`"),
        "{}",
        stderr(&out)
    );
    for words in [
        [&["explain"], six.as_slice(), &["7", &policy]].concat(),
        [&["explain", &policy], six.as_slice(), &["7"]].concat(),
    ] {
        let out = sandbox_output(&words);
        assert_eq!(code(&out), 2, "{words:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("more than six values after `openat`"),
            "{words:?}: {}",
            stderr(&out)
        );
    }
}

/// `compile -o` writes as the report does: whole, replacing a link rather than following it,
/// nothing under /proc, no directory; and never over its own policy file.
#[test]
fn compile_writes_like_the_report_and_never_over_its_policy() {
    let s = ScratchDir::new("compile-output");
    let text = "default kill;\nuse stdio, exit;\n";
    let policy = s.write("p.policy", text);
    let aliases = [policy.clone(), s.file("./p.policy")];
    for alias in &aliases {
        let out = sandbox_output(&["compile", &policy, "-o", alias]);
        assert_eq!(code(&out), 2, "{}", stderr(&out));
        assert!(
            stderr(&out).contains("names the policy file"),
            "{}",
            stderr(&out)
        );
        assert_eq!(std::fs::read_to_string(&policy).unwrap(), text);
    }
    // Nor over a file the policy includes.
    let part = s.write("part.policy", "use exit;\n");
    let top = s.write("top.policy", "default kill;\ninclude \"part.policy\";\n");
    let out = sandbox_output(&["compile", &top, "-o", &part]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("names a file the policy includes"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read_to_string(&part).unwrap(), "use exit;\n");

    let victim = s.write("victim", "secret\n");
    let link = s.path().join("out.bpf");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    let out = sandbox_output(&["compile", &policy, "-o", link.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "secret\n");
    assert!(std::fs::symlink_metadata(&link).unwrap().is_file());
    let program = std::fs::read(&link).unwrap();
    assert!(
        !program.is_empty() && program.len() % 8 == 0,
        "{}",
        program.len()
    );

    for refused in [
        "/proc/self/sandbox-test-out.bpf",
        s.path().to_str().unwrap(),
        "/dev/full",
    ] {
        let out = sandbox_output(&["compile", &policy, "-o", refused]);
        assert_eq!(code(&out), 1, "{refused}: {}", stderr(&out));
        assert!(stderr(&out).contains("cannot write"), "{}", stderr(&out));
    }
}

/// `--env` needs a variable's name before its `=`.
#[test]
fn an_env_variable_without_a_name_is_refused() {
    let s = ScratchDir::new("env");
    let policy = s.write("p.policy", "default allow;\n");
    let out = sandbox_output(&[
        "run",
        "--policy",
        &policy,
        "--env",
        "=v",
        "--",
        "/usr/bin/env",
    ]);
    assert_eq!(code(&out), 125, "{}", stderr(&out));
    assert!(stderr(&out).contains("--env `=v`"), "{}", stderr(&out));
    assert!(out.stdout.is_empty());

    let out = sandbox_output(&[
        "run",
        "--policy",
        &policy,
        "--env",
        "A=b=c",
        "--env",
        "E=",
        "--",
        "/usr/bin/env",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "A=b=c\nE=\n");
}

/// A variable's name and value, and a tmpfs's path, may hold any bytes but NUL, as the system
/// takes them: not UTF-8 is no error.
#[test]
fn env_and_tmpfs_take_bytes_that_are_not_utf8() {
    use std::os::unix::ffi::OsStrExt;
    let s = ScratchDir::new("env-bytes");
    let policy = s.write("p.policy", "default allow;\n");
    let out = cli_common::sandbox()
        .args(["run", "--policy", &policy, "--env"])
        .arg(std::ffi::OsStr::from_bytes(b"K\xff=v\xfe"))
        .arg("--tmpfs")
        .arg(std::ffi::OsStr::from_bytes(b"/t\xff"))
        .args(["--", "/usr/bin/env"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(out.stdout, b"K\xff=v\xfe\n");
}

/// A variable given twice is refused, naming both values, as every other option given twice
/// is: the program never runs with one of them silently dropped.
#[test]
fn an_env_variable_given_twice_is_refused() {
    let s = ScratchDir::new("env-twice");
    let policy = s.write("p.policy", "default allow;\n");
    let out = sandbox_output(&[
        "run",
        "--policy",
        &policy,
        "--env",
        "A=1",
        "--env",
        "B=2",
        "--env",
        "A=3",
        "--",
        "/usr/bin/env",
    ]);
    assert_eq!(code(&out), 125, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("`A=1`") && err.contains("`A=3`"), "{err}");
    assert!(out.stdout.is_empty());
}

/// A report naming the policy file, however spelt, is refused before anything runs, and the
/// policy is left as it was.
#[test]
fn a_report_naming_the_policy_file_is_refused() {
    let s = ScratchDir::new("report-policy");
    let policy = s.write("sh.policy", SHELL_POLICY);
    let marker = s.path().join("ran");
    for report in [policy.clone(), s.file("./sh.policy")] {
        let out = sandbox_output(&[
            "run",
            "--policy",
            &policy,
            "--report",
            &report,
            "--",
            "/bin/sh",
            "-c",
            &format!("echo > {}", marker.display()),
        ]);
        assert_eq!(code(&out), 125, "{}", stderr(&out));
        assert!(
            stderr(&out).contains("names the policy file"),
            "{}",
            stderr(&out)
        );
        assert_eq!(std::fs::read_to_string(&policy).unwrap(), SHELL_POLICY);
        assert!(!marker.exists());
    }
    // Nor a file the policy includes.
    let part = s.write("part.policy", "use exit;\n");
    let top = s.write("top.policy", "default allow;\ninclude \"part.policy\";\n");
    let out = sandbox_output(&[
        "run",
        "--policy",
        &top,
        "--report",
        &part,
        "--",
        "/bin/true",
    ]);
    assert_eq!(code(&out), 125, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("part.policy`, which it would overwrite"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("names a file the policy includes"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read_to_string(&part).unwrap(), "use exit;\n");
}

/// An output naming the `sandbox` executable itself, or the program to run, is refused before
/// anything runs: `--report`, `compile -o` and `learn -o` (and its sidecar), and both are left
/// as they were. A copy of the executable runs here, so that a failure destroys only the copy.
#[test]
fn an_output_naming_this_executable_or_the_program_is_refused() {
    let s = ScratchDir::new("output-program");
    let tool = s.file("sandbox");
    std::fs::copy(env!("CARGO_BIN_EXE_sandbox"), &tool).unwrap();
    let program = s.file("true");
    std::fs::copy("/bin/true", &program).unwrap();
    let policy = s.write("allow.policy", "default allow;\n");
    let bytes = |path: &str| std::fs::read(path).unwrap();
    let (tool_before, program_before) = (bytes(&tool), bytes(&program));
    let learn_sidecar = format!("{program}.learn.json");
    let cases: [(Vec<&str>, i32, &str); 6] = [
        (
            vec![
                "run", "--policy", &policy, "--report", &tool, "--", &program,
            ],
            125,
            "names this `sandbox` executable",
        ),
        (
            vec![
                "run", "--policy", &policy, "--report", &program, "--", &program,
            ],
            125,
            "names the program to run",
        ),
        (
            vec!["compile", &policy, "-o", &tool],
            2,
            "names this `sandbox` executable",
        ),
        (
            vec!["learn", "-o", &tool, "--", &program],
            125,
            "names this `sandbox` executable",
        ),
        (
            vec!["learn", "-o", &program, "--", &program],
            125,
            "names the program to run",
        ),
        // The program found on PATH (the scratch directory's, below) is the one refused.
        (
            vec![
                "run", "--policy", &policy, "--report", &program, "--", "true",
            ],
            125,
            "names the program to run `",
        ),
    ];
    for (args, expected, said) in cases {
        let out = std::process::Command::new(&tool)
            .args(&args)
            .env("PATH", s.path())
            .output()
            .unwrap();
        assert_eq!(code(&out), expected, "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(said), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("which it would overwrite"),
            "{args:?}: {}",
            stderr(&out)
        );
        assert_eq!(bytes(&tool), tool_before, "{args:?}");
        assert_eq!(bytes(&program), program_before, "{args:?}");
        assert!(!Path::new(&learn_sidecar).exists(), "{args:?}");
    }
}

/// Whether a shell runs with `tag` as its `$0` (`SHELL -c SCRIPT tag`): the sandboxed one. The
/// `sandbox` command that runs it holds the tag among its arguments too, and so may a shell that
/// starts that command, but neither has it right after the script.
fn tagged_process_exists(tag: &str) -> bool {
    std::fs::read_dir("/proc").unwrap().flatten().any(|e| {
        std::fs::read(e.path().join("cmdline")).is_ok_and(|c| {
            let args: Vec<&[u8]> = c.split(|b| *b == 0).collect();
            args.get(1) == Some(&&b"-c"[..]) && args.get(3) == Some(&tag.as_bytes())
        })
    })
}

/// Starts `run` (a `sandbox run` command with its options so far) on a sandboxed shell tagged
/// `tag` that sleeps a minute, its output discarded; killed and reaped however the test ends,
/// so that a failure leaves nothing running.
fn start_sleeper(run: &mut std::process::Command, tag: &str) -> KilledOnDrop {
    let child = run
        .args(["--ro", "/usr", "--ro", "/bin", "--ro", "/lib"])
        .args(["--", "/bin/sh", "-c", "sleep 60; :", tag])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    KilledOnDrop(child)
}

/// Waits until the sandboxed shell tagged `tag` runs; fails the test past `deadline`.
fn wait_until_tagged_runs(tag: &str, deadline: std::time::Instant) {
    while !tagged_process_exists(tag) {
        assert!(
            std::time::Instant::now() < deadline,
            "the sandbox never ran"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// Waits for `tool` to end; fails the test past `deadline`, saying it did not end on `what`.
fn wait_for_end(
    tool: &mut std::process::Child,
    deadline: std::time::Instant,
    what: &str,
) -> std::process::ExitStatus {
    loop {
        if let Some(status) = tool.try_wait().unwrap() {
            return status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the command did not end on {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// SIGINT (Ctrl-C), SIGTERM and SIGHUP, and the other signals another process may send to end
/// it (SIGQUIT, SIGUSR1, SIGALRM here), end the sandbox, then the command: with 128 + the
/// signal, the report written (status `killed`), and nothing of the sandbox left.
#[test]
fn an_ending_signal_kills_the_sandbox_writes_the_report_and_exits_128_plus_it() {
    for (signal, name) in [
        (libc::SIGINT, "int"),
        (libc::SIGTERM, "term"),
        (libc::SIGHUP, "hup"),
        (libc::SIGQUIT, "quit"),
        (libc::SIGUSR1, "usr1"),
        (libc::SIGALRM, "alrm"),
    ] {
        end_a_running_sandbox(&format!("signal-{name}"), signal, 1);
    }
}

/// One end asked for twice, as `timeout` asks (its signal to the command, then to the
/// command's process group): the second copy of the signal does not cut the end short, so the
/// report is written and nothing of the sandbox is left. Repeated, as the copy must come while
/// the first is being acted on.
#[test]
fn the_same_signal_twice_at_once_is_one_end() {
    for round in 0..5 {
        end_a_running_sandbox(&format!("signal-twice-{round}"), libc::SIGTERM, 2);
    }
}

/// Sends `signal` `times` times, 1 ms apart, to a `sandbox run` whose sandboxed shell runs, and
/// checks that the command then ends with 128 + the signal, its report saying `killed`, and
/// nothing of the sandbox left running. `name` names the scratch directory and the shell's tag.
fn end_a_running_sandbox(name: &str, signal: libc::c_int, times: usize) {
    let s = ScratchDir::new(name);
    let policy = s.write("p.policy", "default allow;\n");
    let report = s.path().join("report.json");
    let tag = format!("cli-{name}-{}", std::process::id());
    let mut tool = start_sleeper(
        with_default_ending_signals(&mut cli_common::sandbox())
            .args(["run", "--policy", &policy, "--report"])
            .arg(&report),
        &tag,
    );
    let tool = &mut tool.0;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    wait_until_tagged_runs(&tag, deadline);
    for _ in 0..times {
        // SAFETY: our child, not reaped yet.
        unsafe { libc::kill(tool.id() as libc::pid_t, signal) };
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    let status = wait_for_end(tool, deadline, &format!("signal {signal} x{times}"));
    assert_eq!(status.code(), Some(128 + signal), "{name}: {status:?}");
    let written = std::fs::read_to_string(&report).unwrap_or_default();
    let json: serde_json::Value = serde_json::from_str(&written)
        .unwrap_or_else(|e| panic!("{name}: report {written:?}: {e}"));
    assert_eq!(json["status"], "killed", "{name}: {json}");
    assert!(!tagged_process_exists(&tag), "{name}: the sandbox runs on");
}

/// `cmd`, to start with the default action of every ending signal, whatever this test was
/// started with: under `nohup` SIGHUP comes ignored, and the command rightly keeps it so
/// (`an_ignored_hangup_stays_ignored`).
fn with_default_ending_signals(cmd: &mut std::process::Command) -> &mut std::process::Command {
    use std::os::unix::process::CommandExt;
    // SAFETY: signal() is async-signal-safe, and the closure allocates nothing.
    unsafe {
        cmd.pre_exec(|| {
            for signal in [
                libc::SIGINT,
                libc::SIGTERM,
                libc::SIGHUP,
                libc::SIGQUIT,
                libc::SIGUSR1,
                libc::SIGUSR2,
                libc::SIGALRM,
            ] {
                libc::signal(signal, libc::SIG_DFL);
            }
            Ok(())
        })
    }
}

/// The pid of a child of `parent` whose `argv[0]` is `program` (any child if `None`), once
/// there is one; fails the test past `deadline`.
fn child_running(parent: u32, program: Option<&str>, deadline: std::time::Instant) -> u32 {
    loop {
        let children = std::fs::read_to_string(format!("/proc/{parent}/task/{parent}/children"));
        let found = children
            .unwrap_or_default()
            .split_whitespace()
            .find_map(|c| {
                let cmdline = std::fs::read(format!("/proc/{c}/cmdline")).ok()?;
                let arg0 = cmdline.split(|b| *b == 0).next()?;
                program
                    .is_none_or(|p| arg0 == p.as_bytes())
                    .then(|| c.parse().ok())?
            });
        if let Some(pid) = found {
            return pid;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no child of {parent} ran {program:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

/// Kills the process it names when dropped, so that a failed test leaves nothing running.
struct PidKilledOnDrop(u32);

impl Drop for PidKilledOnDrop {
    fn drop(&mut self) {
        // SAFETY: kill with integer arguments; the process is the test's own grandchild.
        unsafe { libc::kill(self.0 as libc::pid_t, libc::SIGKILL) };
    }
}

/// A signal while the sandbox is being made waits for it to be made, then kills it, as once it
/// runs: the command exits 128 + the signal, the report says `killed`, and the sandbox's cgroup
/// is gone, not left for a later run to sweep. The command runs under `strace`, which holds it
/// half a second in that window, right after it clones the sandbox's init.
#[test]
fn an_ending_signal_while_the_sandbox_is_made_kills_it_once_made() {
    cli_common::require("/usr/bin/strace");
    let s = ScratchDir::new("signal-making");
    let policy = s.write("p.policy", "default allow;\n");
    let report = s.path().join("report.json");
    let tag = format!("cli-signal-making-{}", std::process::id());
    let mut run = std::process::Command::new("/usr/bin/strace");
    run.args(["-o", "/dev/null", "-e", "trace=clone"])
        .args(["-e", "inject=clone:delay_exit=500000"])
        .arg(env!("CARGO_BIN_EXE_sandbox"))
        .args(["run", "--policy", &policy, "--pids", "16", "--report"])
        .arg(&report);
    let mut strace = start_sleeper(&mut run, &tag);
    let strace = &mut strace.0;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let tool = child_running(strace.id(), Some(env!("CARGO_BIN_EXE_sandbox")), deadline);
    // strace killed leaves its tracee running.
    let _tool_killed = PidKilledOnDrop(tool);
    // SAFETY: geteuid cannot fail.
    let privileged = unsafe { libc::geteuid() } == 0;
    let made = loop {
        // Unprivileged, no cgroup is made: init's appearance marks the window.
        let made = if privileged {
            cgroup_dirs::made_by(tool)
        } else {
            child_running(tool, None, deadline);
            Vec::new()
        };
        if !privileged || !made.is_empty() {
            break made;
        }
        assert!(std::time::Instant::now() < deadline, "no cgroup was made");
        std::thread::sleep(std::time::Duration::from_millis(1));
    };
    // SAFETY: a live process: strace's child, which strace has not reaped (it waits for it).
    unsafe { libc::kill(tool as libc::pid_t, libc::SIGTERM) };
    let status = wait_for_end(strace, deadline, "SIGTERM");
    assert_eq!(status.code(), Some(128 + libc::SIGTERM), "{status:?}");
    assert_eq!(report_json(&report)["status"], "killed");
    let left: Vec<_> = made.iter().filter(|d| d.exists()).collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    assert!(!tagged_process_exists(&tag), "the sandbox runs on");
}

/// A standard error nobody reads any more (`sandbox run ... 2>&1 | head -1`) does not end the
/// command before its report: the program there dies of SIGPIPE, and the command still writes
/// the report and exits with the program's status.
#[test]
fn a_closed_standard_error_still_gets_the_report_written() {
    let s = ScratchDir::new("closed-stderr");
    let policy = s.write("p.policy", "default allow;\n");
    let report = s.path().join("report.json");
    let (read, write) = std::io::pipe().unwrap();
    drop(read);
    let status = cli_common::sandbox()
        .args(["run", "--policy", &policy, "--report"])
        .arg(&report)
        .args(["--ro", "/usr", "--ro", "/bin", "--ro", "/lib"])
        .args(["--", "/usr/bin/yes"])
        .stdout(write.try_clone().unwrap())
        .stderr(write)
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(128 + libc::SIGPIPE), "{status:?}");
    let json = report_json(&report);
    assert_eq!(json["status"], "signaled", "{json}");
    assert_eq!(json["signal"], libc::SIGPIPE, "{json}");
}

/// `cmd`, to start with descriptor `fd` closed.
fn with_closed(cmd: &mut std::process::Command, fd: i32) -> &mut std::process::Command {
    use std::os::unix::process::CommandExt;
    // SAFETY: close() is async-signal-safe, and the closure allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            libc::close(fd);
            Ok(())
        })
    }
}

/// A command started without a standard stream gives its sandbox `/dev/null` there (Rust's
/// runtime opens it before `main`), never a file it opened itself: were standard input closed,
/// the report's FIFO would take descriptor 0, and the program, writing to its standard input,
/// would forge the report.
#[test]
fn a_closed_standard_stream_never_hands_the_sandbox_the_report() {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let s = ScratchDir::new("closed-stdin");
    let policy = s.write("p.policy", "default allow;\n");
    let fifo = s.path().join("report.fifo");
    let c_fifo = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo() with a NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c_fifo.as_ptr(), 0o600) }, 0);
    // The reader first: the command refuses a FIFO nobody reads.
    let mut reader = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&fifo)
        .unwrap();
    for closed in [0, 1, 2] {
        let script = "echo '{\"status\": \"forged\"}' >&0 2>/dev/null; \
            echo '{\"status\": \"forged\"}' >&1 2>/dev/null; \
            echo '{\"status\": \"forged\"}' >&2 2>/dev/null; exit 3";
        let out = with_closed(&mut cli_common::sandbox(), closed)
            .args(["run", "--policy", &policy, "--report"])
            .arg(&fifo)
            .args(["--ro", "/usr", "--ro", "/bin", "--ro", "/lib"])
            .args(["--", "/bin/sh", "-c", script])
            .output()
            .unwrap();
        assert_eq!(code(&out), 3, "closed {closed}: {}", stderr(&out));
        let mut written = String::new();
        reader.read_to_string(&mut written).unwrap();
        assert!(!written.contains("forged"), "closed {closed}: {written}");
        let json: serde_json::Value = serde_json::from_str(&written).unwrap();
        assert_eq!(json["status"], "ok", "closed {closed}: {json}");
        assert_eq!(json["exit_code"], 3, "closed {closed}: {json}");
    }
}

/// A standard error that blocks (a full pipe nobody reads, which the program filled) holds up
/// only the command's last message: the report is written at the end of the run, before it.
#[test]
fn a_blocked_standard_error_does_not_hold_up_the_report() {
    let s = ScratchDir::new("blocked-stderr");
    let policy = s.write("p.policy", "default allow;\n");
    let report = s.path().join("report.json");
    let (read, write) = std::io::pipe().unwrap();
    let mut tool = KilledOnDrop(
        cli_common::sandbox()
            .args([
                "run",
                "--policy",
                &policy,
                "--time-limit",
                "0.5",
                "--report",
            ])
            .arg(&report)
            .args(["--ro", "/usr", "--ro", "/bin", "--ro", "/lib"])
            .args(["--", "/usr/bin/yes"])
            .stdout(write.try_clone().unwrap())
            .stderr(write)
            .spawn()
            .unwrap(),
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !report.exists() || std::fs::metadata(&report).unwrap().len() == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "no report while stderr blocks"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(report_json(&report)["status"], "timeout");
    assert!(
        tool.0.try_wait().unwrap().is_none(),
        "the message was not held up"
    );
    drop(read);
    let status = wait_for_end(&mut tool.0, deadline, "its standard error's close");
    assert_eq!(status.code(), Some(124), "{status:?}");
}

/// A command started with SIGHUP ignored (`nohup`) keeps it ignored: a closed terminal does
/// not end it or its sandbox. Other ending signals still do.
#[test]
fn an_ignored_hangup_stays_ignored() {
    let s = ScratchDir::new("signal-ignored");
    let policy = s.write("p.policy", "default allow;\n");
    let tag = format!("cli-signal-ignored-{}", std::process::id());
    let mut tool = start_sleeper(
        std::process::Command::new("/bin/sh")
            .args(["-c", "trap '' HUP; exec \"$0\" \"$@\""])
            .arg(env!("CARGO_BIN_EXE_sandbox"))
            .args(["run", "--policy", &policy]),
        &tag,
    );
    let tool = &mut tool.0;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    wait_until_tagged_runs(&tag, deadline);
    // SAFETY: our child (the shell exec'd the command), not reaped yet.
    unsafe { libc::kill(tool.id() as libc::pid_t, libc::SIGHUP) };
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert!(
        tool.try_wait().unwrap().is_none(),
        "SIGHUP ended the command"
    );
    assert!(tagged_process_exists(&tag), "SIGHUP ended the sandbox");
    // SAFETY: as above.
    unsafe { libc::kill(tool.id() as libc::pid_t, libc::SIGTERM) };
    let later = deadline + std::time::Duration::from_secs(10);
    let status = wait_for_end(tool, later, "SIGTERM");
    assert_eq!(status.code(), Some(128 + libc::SIGTERM), "{status:?}");
    assert!(!tagged_process_exists(&tag), "the sandbox runs on");
}

/// A CPU limit needs a hard limit a second above it: one the caller's own hard limit has no
/// room for is refused, saying how much there is room for.
#[test]
fn a_cpu_limit_over_the_callers_hard_limit_says_how_much_fits() {
    use std::os::unix::process::CommandExt;
    let s = ScratchDir::new("cpu-hard");
    let policy = s.write("p.policy", "default allow;\n");
    let mut cmd = cli_common::sandbox();
    cmd.args([
        "run",
        "--policy",
        &policy,
        "--cpu-limit",
        "5",
        "--",
        "/bin/true",
    ]);
    // SAFETY: setrlimit is async-signal-safe; the limit is plain data.
    unsafe {
        cmd.pre_exec(|| {
            let five = libc::rlimit {
                rlim_cur: 5,
                rlim_max: 5,
            };
            if libc::setrlimit(libc::RLIMIT_CPU, &five) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
    let out = cmd.output().unwrap();
    assert_eq!(code(&out), 125, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--cpu-limit: ") && stderr(&out).contains("at most 4 s"),
        "{}",
        stderr(&out)
    );
}

/// A bad value names the option it was given to, as written on the command line.
#[test]
fn a_bad_limit_names_its_option() {
    let s = ScratchDir::new("bad-limit");
    let policy = s.write("p.policy", "default allow;\n");
    // SAFETY: rlimit is plain old data.
    let mut files: libc::rlimit = unsafe { std::mem::zeroed() };
    // SAFETY: getrlimit writes one rlimit.
    let r = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut files) };
    assert_eq!(r, 0);
    let above_host = (files.rlim_max + 1).to_string();
    for (args, option) in [
        (&["--open-files", &above_host][..], "--open-files: above"),
        (&["--memory=-1"][..], "--memory:"),
        (&["--file-size=12Q"][..], "--file-size:"),
        (&["--open-files", "0"][..], "--open-files:"),
        (&["--pids", "0"][..], "--pids:"),
        (&["--pids", "1"][..], "--pids: give at least 2"),
        (
            &["--pids", "5000000"][..],
            "--pids: above the most Linux takes",
        ),
        (&["--cpu-limit", "1e18"][..], "--cpu-limit:"),
        (
            &["--time-limit", "-1"][..],
            "--time-limit: `-1` is negative",
        ),
        (
            &["--time-limit", "1e-10"][..],
            "--time-limit: `1e-10` is below a nanosecond",
        ),
        (
            &["--cpu-limit", "1e300"][..],
            "--cpu-limit: `1e300` is too large",
        ),
        (
            &["--time-limit", "NaN"][..],
            "--time-limit: `NaN` is not a number",
        ),
        (
            &["--memory", "17179869184G"][..],
            "--memory: `17179869184G` is too large",
        ),
        (
            &["--memory", "99999999999999999999"][..],
            "--memory: `99999999999999999999` is too",
        ),
        (&["--tmpfs", "/t:x"][..], "--tmpfs `/t:x`:"),
        (&["--pids", "-1"][..], "--pids: `-1` is negative"),
        (&["--memory", "-5"][..], "--memory: `-5`"),
        (&["--file-size", "-1"][..], "--file-size: `-1`"),
        // Wrapped by the kernel into a limit of nothing, or of 0.29 s.
        (
            &["--file-size", "8589934592G"][..],
            "--file-size: above the most Linux takes",
        ),
        (
            &["--cpu-limit", "18446744074"][..],
            "--cpu-limit: above the most Linux takes",
        ),
        (
            &["--open-files", "99999999999999999999"][..],
            "--open-files: `99999999999999999999` is too large",
        ),
        (
            &["--pids", "ten"][..],
            "--pids: `ten` is not a whole number",
        ),
        (
            &["--cpu-limit", "abc"][..],
            "--cpu-limit: `abc` is not a number of seconds",
        ),
        (
            &["--time-limit", "1K"][..],
            "--time-limit: `1K` is not a number of seconds",
        ),
    ] {
        let mut all = vec!["run", "--policy", &policy];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--", "/bin/true"]);
        let out = sandbox_output(&all);
        assert_eq!(code(&out), 125, "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(option), "{args:?}: {}", stderr(&out));
        // The option, not the library's field behind it.
        assert!(!stderr(&out).contains('_'), "{args:?}: {}", stderr(&out));
    }
}

/// The command waits for its sandbox's init before it exits, and for nothing else: exec'd by a
/// process that had a child, it inherits that child, and must not wait for it.
#[test]
fn run_does_not_wait_for_children_it_inherited() {
    let s = ScratchDir::new("inherited");
    let policy = s.write(
        "true.policy",
        "default kill;\nuse dynamic_startup, malloc, exit;\n",
    );
    let script = format!(
        "sleep 20 >/dev/null 2>&1 & echo $! >&2; exec {} run --policy {policy} -- /bin/true",
        env!("CARGO_BIN_EXE_sandbox")
    );
    let begun = std::time::Instant::now();
    let out = std::process::Command::new("/bin/sh")
        .args(["-c", &script])
        .output()
        .unwrap();
    let took = begun.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if let Some(sleep) = stderr
        .lines()
        .next()
        .and_then(|l| l.trim().parse::<i32>().ok())
    {
        // SAFETY: kill with integer arguments; the sleep is an orphan by now.
        unsafe { libc::kill(sleep, libc::SIGKILL) };
    }
    assert!(out.status.success(), "{stderr}");
    assert!(
        took < std::time::Duration::from_secs(10),
        "the command waited {took:?} for a child it did not start"
    );
}

/// Writes a program whose libraries take the host long to find: 30 names, each found only at
/// the end of a search list of 10,900 directories (the resolution gives up at 2^18 tries).
fn slow_to_resolve(s: &ScratchDir) -> String {
    let generator = r#"
import os, struct, sys
BASE = 0x400000
def build(needed, runpath):
    strtab = bytearray(b"\0")
    def add(s):
        at = len(strtab); strtab.extend(s.encode() + b"\0"); return at
    dyns = [(1, add(n)) for n in needed] + [(29, add(runpath))]
    strtab_off = 64 + 56 * 2
    dyn_off = (strtab_off + len(strtab) + 7) // 8 * 8
    dyns += [(5, BASE + strtab_off), (10, len(strtab)), (0, 0)]
    total = dyn_off + 16 * len(dyns)
    out = bytearray(b"\x7fELF\x02\x01\x01" + b"\0" * 9)
    out += struct.pack("<HHIQQQIHHHHHH", 3, 62, 1, BASE, 64, 0, 0, 64, 56, 2, 64, 0, 0)
    for kind, off, size in [(1, 0, total), (2, dyn_off, 16 * len(dyns))]:
        out += struct.pack("<IIQQQQQQ", kind, 4, off, BASE + off, BASE + off, size, size, 8)
    out += strtab
    out += b"\0" * (dyn_off - len(out))
    for t, v in dyns:
        out += struct.pack("<QQ", t, v)
    return bytes(out)
root = sys.argv[1]
os.makedirs(root + "/lib")
names = ["libslow%d.so" % i for i in range(30)]
for n in names:
    open(root + "/lib/" + n, "wb").write(build([], "/x"))
dirs = ":".join("/%x" % i for i in range(10900))
open(root + "/app", "wb").write(build(names, dirs + ":$ORIGIN/lib"))
os.chmod(root + "/app", 0o755)
"#;
    let root = s.file("slow");
    let made = std::process::Command::new("python3")
        .args(["-c", generator, &root])
        .status()
        .unwrap();
    assert!(made.success());
    format!("{root}/app")
}

/// Runs `sandbox run` (with `extra` options) on a program whose libraries take a while to find,
/// sends SIGTERM 100 ms in, while the sandbox is still being made, and returns how it ended.
fn terminated_during_the_set_up(s: &ScratchDir, extra: &[&str]) -> std::process::ExitStatus {
    let policy = s.write("p.policy", "default allow;\n");
    let app = slow_to_resolve(s);
    let mut tool = KilledOnDrop(
        cli_common::sandbox()
            .args(["run", "--policy", &policy])
            .args(extra)
            .args(["--", &app])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    std::thread::sleep(std::time::Duration::from_millis(100));
    // SAFETY: our child, not reaped yet.
    unsafe { libc::kill(tool.0.id() as libc::pid_t, libc::SIGTERM) };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    wait_for_end(&mut tool.0, deadline, "SIGTERM")
}

/// A signal while the command still makes the sandbox (finding a hostile binary's libraries
/// takes a while) ends it at once, by the signal, instead of after the set-up.
#[test]
fn an_ending_signal_during_the_set_up_ends_the_command_at_once() {
    let s = ScratchDir::new("signal-set-up");
    let begun = std::time::Instant::now();
    let status = terminated_during_the_set_up(&s, &[]);
    // By the signal's own default action: nothing of a sandbox was left to end first.
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGTERM), "{status:?}");
    eprintln!("ended {:?} after the start", begun.elapsed());
}

/// The report is written however the run ends once its file is open: also when an ending
/// signal comes while the sandbox is still being made.
#[test]
fn an_ending_signal_during_the_set_up_still_writes_the_report() {
    let s = ScratchDir::new("signal-set-up-report");
    let report = s.path().join("r.json");
    let status = terminated_during_the_set_up(&s, &["--report", report.to_str().unwrap()]);
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGTERM), "{status:?}");
    assert_eq!(report_json(&report)["status"], "killed");
}
