//! `sandbox learn` on real programs of the machine: the learnt policy passes `sandbox check`,
//! compiles as `policy!` would compile it, and runs the same workload under `sandbox run` with
//! the output of an unsandboxed run. Also `--append` and `run --log-violations`.
//!
//! The programs come from Debian's coreutils, gzip and python3 packages (`.ci/run` installs
//! them); a missing program fails its test.

mod cli_common;

use cli_common::{
    python_stdlib, require, sandbox, unsandboxed, without_owners, KilledOnDrop, ScratchDir,
};
use std::path::{Path, PathBuf};
use std::process::Output;

/// A scratch directory with small text files to work on in `data/` and the policies in `out/`
/// (so `ls` of the data directory does not see them).
struct Workspace(ScratchDir);

impl Workspace {
    fn new(tag: &str) -> Workspace {
        let dir = ScratchDir::new(tag);
        std::fs::create_dir(dir.path().join("data")).unwrap();
        std::fs::create_dir(dir.path().join("out")).unwrap();
        dir.write("data/a.txt", "pear\napple\nfig\nbanana\n".repeat(50));
        dir.write("data/b.txt", "second file\n");
        Workspace(dir)
    }
    fn data(&self) -> String {
        self.0.file("data")
    }
    fn file(&self, name: &str) -> String {
        self.0.file(&format!("data/{name}"))
    }
    fn policy(&self) -> PathBuf {
        self.0.path().join("out/learnt.policy")
    }
}

fn show(what: &str, out: &Output) {
    eprintln!(
        "{what}: {}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `sandbox learn -o POLICY [--append] --ro DIR... -- COMMAND`.
fn learn(policy: &Path, append: bool, ro: &[&str], command: &[&str]) -> Output {
    learn_with(policy, append, &[], ro, command)
}

/// [`learn`] with `extra` options before the binds.
fn learn_with(
    policy: &Path,
    append: bool,
    extra: &[&str],
    ro: &[&str],
    command: &[&str],
) -> Output {
    let mut cmd = sandbox();
    cmd.arg("learn").arg("-o").arg(policy).args(extra);
    if append {
        cmd.arg("--append");
    }
    for dir in ro {
        cmd.arg("--ro").arg(dir);
    }
    let out = cmd.arg("--").args(command).output().unwrap();
    show("learn", &out);
    assert!(out.status.success(), "learning failed");
    out
}

fn run(policy: &Path, extra: &[&str], ro: &[&str], command: &[&str]) -> Output {
    let mut cmd = sandbox();
    cmd.arg("run").arg("--policy").arg(policy).args(extra);
    for dir in ro {
        cmd.arg("--ro").arg(dir);
    }
    let out = cmd.arg("--").args(command).output().unwrap();
    show("run", &out);
    out
}

/// Checks the learnt file with `sandbox check` and with the compiler `policy!` uses; returns
/// the number of rules and of syscalls the policy allows on this machine.
fn check(policy: &Path) -> (usize, usize) {
    let out = sandbox().arg("check").arg(policy).output().unwrap();
    show("check", &out);
    assert!(
        out.status.success(),
        "sandbox check rejects the learnt policy"
    );
    let text = std::fs::read_to_string(policy).unwrap();
    eprintln!("{text}");
    assert!(text.starts_with("// Learnt with `sandbox learn`"));
    assert!(text.contains("\ndefault kill;\n"));
    let c = sandbox_policy::compile_text(
        "learnt.policy",
        None,
        &text,
        &mut sandbox_policy::NoIncludes,
    );
    let compiled = c.result.expect("compile_text accepts the learnt policy");
    let arch = sandbox_policy::Arch::native().unwrap();
    let allowed = compiled
        .checked
        .arch(arch)
        .syscalls
        .values()
        .filter(|branches| {
            branches
                .iter()
                .any(|b| b.action == sandbox_policy::Action::Allow)
        })
        .count();
    (compiled.policy.rules.len(), allowed)
}

/// Learns `command`, checks the result, runs it under the policy, and compares the output with
/// an unsandboxed run (after `normalize`).
fn learn_then_run(tag: &str, ro: &[&str], command: &[&str], normalize: fn(&[u8]) -> String) {
    require(command[0]);
    let s = Workspace::new(tag);
    let command: Vec<String> = command
        .iter()
        .map(|a| a.replace("DATA", &s.data()))
        .collect();
    let command: Vec<&str> = command.iter().map(String::as_str).collect();
    let data = s.data();
    let mut ro = ro.to_vec();
    ro.push(&data);
    let learnt = learn(&s.policy(), false, &ro, &command);
    let (rules, syscalls) = check(&s.policy());
    let summary = String::from_utf8_lossy(&learnt.stderr).to_string();
    let recorded = summary
        .split(" syscalls used, from ")
        .next()
        .and_then(|s| s.rsplit(' ').next())
        .unwrap_or("?");
    eprintln!("LEARNT {tag}: {rules} rules, {syscalls} syscalls allowed, {recorded} syscalls used");
    let inside = run(&s.policy(), &[], &ro, &command);
    assert!(inside.status.success(), "the learnt policy does not run it");
    let outside = unsandboxed(&command);
    assert!(outside.status.success());
    assert_eq!(normalize(&inside.stdout), normalize(&outside.stdout));
    assert_eq!(normalize(&learnt.stdout), normalize(&outside.stdout));
    assert!(!outside.stdout.is_empty());
}

fn exact(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn cat() {
    learn_then_run("cat", &[], &["/bin/cat", "DATA/a.txt", "DATA/b.txt"], exact);
}

#[test]
fn ls_long() {
    let cmd = ["/bin/ls", "-l", "--time-style=+%s", "DATA"];
    learn_then_run("ls", &["/etc"], &cmd, without_owners);
}

#[test]
fn sha256sum() {
    learn_then_run(
        "sha256sum",
        &[],
        &["/usr/bin/sha256sum", "DATA/a.txt"],
        exact,
    );
}

#[test]
fn gzip() {
    learn_then_run("gzip", &[], &["/bin/gzip", "-c", "DATA/a.txt"], exact);
}

#[test]
fn sort() {
    learn_then_run("sort", &[], &["/usr/bin/sort", "DATA/a.txt"], exact);
}

#[test]
fn python3() {
    let cmd = [
        "/usr/bin/python3",
        "-c",
        "import json; print(json.dumps([1]))",
    ];
    let stdlib = python_stdlib();
    learn_then_run("python3", &[&stdlib], &cmd, exact);
}

#[test]
fn append_merges_runs_so_both_programs_run() {
    require("/bin/cat");
    require("/usr/bin/sort");
    let s = Workspace::new("append");
    let data = s.data();
    let (a, b) = (s.file("a.txt"), s.file("b.txt"));
    learn(&s.policy(), false, &[&data], &["/bin/cat", &b]);
    let first = std::fs::read_to_string(s.policy()).unwrap();
    learn(&s.policy(), true, &[&data], &["/usr/bin/sort", "-r", &a]);
    let merged = std::fs::read_to_string(s.policy()).unwrap();
    check(&s.policy());
    assert!(merged.contains("/bin/cat") && merged.contains("/usr/bin/sort -r"));
    assert!(merged.len() >= first.len());
    let sidecar = s.0.path().join("out/learnt.policy.learn.json");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(sidecar).unwrap()).unwrap();
    assert_eq!(json["runs"].as_array().unwrap().len(), 2);
    for command in [
        vec!["/bin/cat", b.as_str()],
        vec!["/usr/bin/sort", "-r", &a],
    ] {
        let out = run(&s.policy(), &[], &[&data], &command);
        assert!(
            out.status.success(),
            "{command:?} does not run under the merged policy"
        );
    }
}

/// The sidecar is a file anyone may edit: a run's date with a line break in it must stay inside
/// the header's comment, not become a rule of the written policy.
#[test]
fn an_edited_sidecar_cannot_add_rules_through_the_header() {
    require("/bin/cat");
    let s = Workspace::new("inject");
    let data = s.data();
    let b = s.file("b.txt");
    learn(&s.policy(), false, &[&data], &["/bin/cat", &b]);
    let sidecar = s.0.path().join("out/learnt.policy.learn.json");
    let mut json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&sidecar).unwrap()).unwrap();
    json["runs"][0]["date"] = "2026-01-01\nallow ptrace;\n//".into();
    std::fs::write(&sidecar, json.to_string()).unwrap();
    let out = learn(&s.policy(), true, &[&data], &["/bin/cat", &b]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let policy = std::fs::read_to_string(s.policy()).unwrap();
    assert!(
        !policy
            .lines()
            .any(|l| l.trim_start().starts_with("allow ptrace")),
        "{policy}"
    );
    assert!(policy.contains("2026-01-01\\nallow ptrace;"), "{policy}");
}

#[test]
fn log_violations_reports_each_forbidden_call_once_and_lets_the_program_finish() {
    require("/usr/bin/python3");
    let s = Workspace::new("logv");
    let stdlib = python_stdlib();
    let py = [stdlib.as_str()];
    learn(
        &s.policy(),
        false,
        &py,
        &["/usr/bin/python3", "-c", "print('hi')"],
    );
    // umask and getpriority are not in the learnt policy: each is made twice.
    let script = "import os\n\
        for _ in range(2):\n    os.umask(0o22)\n    os.getpriority(os.PRIO_PROCESS, 0)\n\
        print('done')";
    let command = ["/usr/bin/python3", "-c", script];
    let enforced = run(&s.policy(), &[], &py, &command);
    assert_eq!(
        enforced.status.code(),
        Some(159),
        "the policy must forbid them"
    );
    let logged = run(&s.policy(), &["--log-violations"], &py, &command);
    assert!(logged.status.success());
    assert_eq!(logged.stdout, b"done\n");
    let stderr = String::from_utf8_lossy(&logged.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| l.contains("violation")).collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    assert_eq!(lines.iter().filter(|l| l.contains(" umask(")).count(), 1);
    assert_eq!(
        lines.iter().filter(|l| l.contains(" getpriority(")).count(),
        1
    );
    assert!(lines.iter().all(|l| l.contains("default is kill")));
}

/// A program calling endless distinct syscall numbers (each a violation of its own) gets the
/// first 1,024 printed, then one line saying the rest are not: what the command keeps to print
/// each once does not grow with them.
#[test]
fn log_violations_prints_at_most_1024_distinct_calls() {
    require("/usr/bin/python3");
    let s = ScratchDir::new("logv-many");
    let policy = s.write("p.policy", "default kill;\n");
    let script = "import ctypes\n\
        syscall = ctypes.CDLL(None).syscall\n\
        for nr in range(100000, 102000):\n    syscall(nr)\n\
        print('done')";
    let out = run(
        Path::new(&policy),
        &["--log-violations"],
        &["/usr", "/lib", "/lib64", "/bin"],
        &["/usr/bin/python3", "-c", script],
    );
    assert!(out.status.success());
    assert_eq!(out.stdout, b"done\n");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let shown = stderr
        .lines()
        .filter(|l| l.contains("policy violation"))
        .count();
    assert_eq!(shown, 1024, "{stderr}");
    let last = stderr
        .lines()
        .filter(|l| !l.contains("policy violation"))
        .collect::<Vec<_>>();
    assert_eq!(
        last,
        ["sandbox: 1024 distinct violations shown; later ones are not"],
        "{stderr}"
    );
}

/// `--log-violations` with a standard error nobody reads: the sandboxee fills the pipe it
/// shares with the command, so that printing its first violation blocks, then makes
/// violations without end. The command keeps taking them in without keeping them: its memory
/// does not grow.
#[test]
fn log_violations_with_a_blocked_stderr_keeps_the_commands_memory_flat() {
    let s = ScratchDir::new("logv-blocked");
    let policy = s.write("p.policy", "default allow;\nkill umask;\n");
    let (mut stderr_read, stderr_write) = std::io::pipe().unwrap();
    let tool = sandbox()
        .args(["run", "--policy", &policy, "--log-violations"])
        .args(["--ro", "/usr", "--ro", "/bin", "--ro", "/lib"])
        .args(["--", "/bin/sh", "-c"])
        .arg("head -c 1000000 /dev/zero >&2 & sleep 1; while :; do umask 022; done")
        .stdout(std::process::Stdio::null())
        .stderr(stderr_write)
        .spawn()
        .unwrap();
    let pid = tool.id();
    let mut tool = KilledOnDrop(tool);
    let rss_kib = || {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
        line.split_whitespace()
            .nth(1)
            .unwrap()
            .parse::<u64>()
            .unwrap()
    };
    // The pipe is full and the loop has begun a second after the start.
    std::thread::sleep(std::time::Duration::from_secs(2));
    let before = rss_kib();
    std::thread::sleep(std::time::Duration::from_secs(3));
    let after = rss_kib();
    assert!(
        tool.0.try_wait().unwrap().is_none(),
        "the command ended early"
    );
    // SAFETY: our child, not reaped yet.
    unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
    // Read the pipe to its end (every writer gone), so that the command can finish printing.
    let mut printed = Vec::new();
    std::io::Read::read_to_end(&mut stderr_read, &mut printed).unwrap();
    let status = tool.0.wait().unwrap();
    assert_eq!(status.code(), Some(128 + libc::SIGTERM), "{status:?}");
    let printed = String::from_utf8_lossy(&printed);
    assert!(printed.contains("policy violation (let run): umask("));
    assert!(
        after < before + 4096,
        "the command's memory grew from {before} KiB to {after} KiB in 3 s"
    );
}

#[test]
fn the_library_api_streams_every_call_and_the_program_runs_to_its_end() {
    use sandbox_runtime::{SandboxCommand, Status, Stdio};
    require("/bin/true");
    let mut cmd = SandboxCommand::new("/bin/true");
    cmd.add_program_with_libraries("/bin/true")
        .stdout(Stdio::null())
        .learn();
    let mut child = cmd.spawn().unwrap();
    let observations: Vec<_> = child.observations().unwrap().into_iter().collect();
    assert_eq!(child.wait().status, Status::Exited(0));
    let names: Vec<&str> = observations.iter().filter_map(|o| o.syscall()).collect();
    assert!(names.contains(&"brk"), "{names:?}");
    assert_eq!(names.last(), Some(&"exit_group"), "{names:?}");
    // The runtime's own exec is not the program's: it is never observed.
    assert!(!names.contains(&"execveat"), "{names:?}");
    assert!(observations.iter().all(|o| o.decided_by.is_none()));
}

#[test]
fn waiting_in_any_way_drops_the_observations_nobody_took() {
    use sandbox_runtime::{SandboxCommand, Status, Stdio};
    require("/bin/true");
    let spawn = || {
        let mut cmd = SandboxCommand::new("/bin/true");
        cmd.add_program_with_libraries("/bin/true")
            .stdout(Stdio::null())
            .learn();
        cmd.spawn().unwrap()
    };
    // Once waiting began, the calls of a sandbox nobody reads are not kept for later.
    let mut waited = spawn();
    assert_eq!(waited.wait().status, Status::Exited(0));
    assert!(waited.observations().is_none());
    let mut polled = spawn();
    let outcome = polled.wait_timeout(std::time::Duration::from_secs(30));
    assert_eq!(outcome.map(|o| o.status), Some(Status::Exited(0)));
    assert!(polled.observations().is_none());
}

/// `sandbox learn` whose end fails: the exit status, the message, and what is kept.
fn learn_failing(policy: &Path, append: bool) -> Output {
    require("/bin/true");
    let mut cmd = sandbox();
    cmd.arg("learn").arg("-o").arg(policy);
    if append {
        cmd.arg("--append");
    }
    let out = cmd.args(["--", "/bin/true"]).output().unwrap();
    show("learn", &out);
    out
}

#[test]
fn unreadable_earlier_observations_stop_learning_before_anything_is_written() {
    let scratch = Workspace::new("bad-sidecar");
    let policy = scratch.policy();
    let sidecar = PathBuf::from(format!("{}.learn.json", policy.display()));
    std::fs::write(&sidecar, "{ not json").unwrap();
    let out = learn_failing(&policy, true);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cannot read"),
        "the message does not say what failed"
    );
    assert!(!policy.exists(), "a policy was written");
    assert_eq!(std::fs::read_to_string(&sidecar).unwrap(), "{ not json");
}

/// A stream or a device has no directory for the observations to go beside: refused before the
/// run.
#[test]
fn a_stream_as_the_policy_is_refused_before_the_run() {
    for stream in ["/dev/stdout", "/dev/zero"] {
        let out = learn_failing(Path::new(stream), false);
        assert_eq!(out.status.code(), Some(125));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("must name a file, not a stream"),
            "{stream}: {err}"
        );
    }
}

/// A directory at the policy's name, or at the sidecar's, is refused before the program runs:
/// no file can replace it, better said at once than after a long run.
#[test]
fn a_directory_at_either_output_is_refused_before_the_run() {
    for taken in ["learnt.policy", "learnt.policy.learn.json"] {
        let scratch = Workspace::new("dir-at-output");
        std::fs::create_dir(scratch.0.path().join("out").join(taken)).unwrap();
        let marker = scratch.0.path().join("out/ran");
        let rw = out_writable_by_the_sandbox(&scratch);
        let out = sandbox()
            .arg("learn")
            .arg("-o")
            .arg(scratch.policy())
            .args(["--rw", &rw, "--", "/bin/sh", "-c", ": > /out/ran"])
            .output()
            .unwrap();
        show(taken, &out);
        assert_eq!(out.status.code(), Some(125), "{taken}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("it is a directory; name a file"),
            "{taken}: {err}"
        );
        assert!(err.contains(taken), "{taken}: {err}");
        assert!(!marker.exists(), "{taken}: the program ran");
    }
}

/// Makes the `out` directory writable by the sandbox's host id (65534 as root, the caller's
/// own otherwise) and returns its `--rw` bind at `/out`.
fn out_writable_by_the_sandbox(scratch: &Workspace) -> String {
    let open_to_all = std::os::unix::fs::PermissionsExt::from_mode(0o777);
    std::fs::set_permissions(scratch.0.path().join("out"), open_to_all).unwrap();
    format!("{}:/out", scratch.0.file("out"))
}

/// A program that can write where the outputs go plants directories at both names while it
/// runs: each is set aside, whole, under a temporary name, and the policy and the sidecar are
/// written in their place.
#[test]
fn directories_planted_at_the_outputs_during_the_run_are_set_aside() {
    let scratch = Workspace::new("planted-dirs");
    let rw = out_writable_by_the_sandbox(&scratch);
    let plant = "for d in /out/learnt.policy /out/learnt.policy.learn.json; do \
                 mkdir $d && echo planted > $d/inside; done";
    let out = sandbox()
        .arg("learn")
        .arg("-o")
        .arg(scratch.policy())
        .args(["--rw", &rw, "--ro", "/usr", "--ro", "/bin", "--ro", "/lib"])
        .args(["--", "/bin/sh", "-c", plant])
        .output()
        .unwrap();
    show("learn", &out);
    assert_eq!(out.status.code(), Some(0));
    let policy = std::fs::read_to_string(scratch.policy()).expect("the policy is a file");
    assert!(policy.contains("default kill;"), "{policy}");
    let sidecar = PathBuf::from(format!("{}.learn.json", scratch.policy().display()));
    let kept = std::fs::read_to_string(&sidecar).expect("the sidecar is a file");
    assert!(kept.contains("mkdir"), "{kept}");
    let aside: Vec<PathBuf> = std::fs::read_dir(scratch.0.path().join("out"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(aside.len(), 2, "{aside:?}");
    for dir in aside {
        let inside = std::fs::read_to_string(dir.join("inside")).unwrap();
        assert_eq!(inside, "planted\n", "{}", dir.display());
        // And the command says where each went.
        let err = String::from_utf8_lossy(&out.stderr);
        let said = format!("it is kept, untouched, as `{}`", dir.display());
        assert!(err.contains(&said), "{err}");
    }
}

/// The policy's name is a mount point (the caller's doing, as a full disk or a read-only file
/// system would be: nothing a sandbox can do, since a directory it plants is set aside), so the
/// policy cannot be renamed over it; the observations of the run are kept, and the message
/// says where.
#[test]
fn a_policy_that_cannot_be_written_keeps_the_observations() {
    require("/usr/bin/unshare");
    require("/bin/true");
    let scratch = Workspace::new("unwritable");
    let policy = scratch.policy();
    std::fs::write(&policy, "").unwrap();
    // A mount namespace of the command's own (made by a user namespace where the test is not
    // root), in which a file of the workspace is bound over the policy's name.
    let mut cmd = std::process::Command::new("/usr/bin/unshare");
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        cmd.args(["--user", "--map-root-user"]);
    }
    let bind_then_learn = "mount --bind \"$0\" \"$1\" && shift && exec \"$@\"";
    let out = cmd
        .args(["--mount", "--propagation", "private", "--", "/bin/sh", "-c"])
        .arg(bind_then_learn)
        .arg(scratch.file("b.txt"))
        .arg(&policy)
        .arg(env!("CARGO_BIN_EXE_sandbox"))
        .arg("learn")
        .arg("-o")
        .arg(&policy)
        .args(["--", "/bin/true"])
        .output()
        .unwrap();
    show("learn", &out);
    assert_eq!(out.status.code(), Some(125));
    let sidecar = PathBuf::from(format!("{}.learn.json", policy.display()));
    let err = String::from_utf8_lossy(&out.stderr);
    let said = format!("(the calls are kept in `{}`)", sidecar.display());
    assert!(err.contains("cannot write") && err.contains(&said), "{err}");
    let kept = std::fs::read_to_string(&sidecar).expect("the observations were not kept");
    assert!(kept.contains("exit_group"), "{kept}");
    // Neither the policy's place nor the bound file changed, and no temporary file is left.
    assert_eq!(std::fs::read_to_string(&policy).unwrap(), "");
    assert_eq!(
        std::fs::read_to_string(scratch.file("b.txt")).unwrap(),
        "second file\n"
    );
    let left: Vec<_> = std::fs::read_dir(policy.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// What a sandbox refuses under any policy is refused in the modes that enforce none too: a
/// virtio socket, `TIOCSTI` on standard input, `O_ASYNC` set on standard output, `request_key`
/// (whose upcall runs a host program
/// as root) and `io_uring_setup` (whose ring opens sockets no filter sees) all fail with EPERM
/// under `learn`, and under `run --log-violations` with a policy that kills them (which that
/// mode would otherwise let run), where the refusal is said; the learnt policy refuses them
/// the same way, so the program runs under it as it ran while learning. With a writable bind,
/// `openat2` fails with the set-id guard's ENOSYS in every mode, and the log names that errno.
#[test]
fn learn_and_log_violations_refuse_what_every_policy_refuses() {
    require("/usr/bin/python3");
    let s = Workspace::new("outside");
    let script = "import socket, fcntl, termios, ctypes, os\n\
        def attempt(name, f):\n    try:\n        f()\n        print(name, 'ran')\n    \
        except OSError as e:\n        print(name, 'EPERM' if e.errno == 1 else e.errno)\n\
        attempt('vsock', lambda: socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM))\n\
        attempt('tiocsti', lambda: fcntl.ioctl(0, termios.TIOCSTI, b'x'))\n\
        attempt('o_async', lambda: fcntl.fcntl(1, fcntl.F_SETFL, os.O_ASYNC))\n\
        libc = ctypes.CDLL(None, use_errno=True)\n\
        def raw(name, nr, *args):\n    r = libc.syscall(nr, *args)\n    \
        print(name, 'ran' if r >= 0 else\n          \
        ('EPERM' if ctypes.get_errno() == 1 else ctypes.get_errno()))\n\
        arm = os.uname().machine == 'aarch64'\n\
        raw('request_key', 218 if arm else 249, b'user', b'probe', b'callout', -3)\n\
        raw('io_uring_setup', 425, 8, ctypes.create_string_buffer(120))\n\
        raw('openat2', 437, -100, b'/', ctypes.create_string_buffer(24), 24)\n";
    let probe = s.0.write("probe.py", script);
    let command = ["/usr/bin/python3", probe.as_str()];
    // ctypes loads libffi from the system's library directory.
    let ro = ["/usr/lib", probe.as_str()];
    let refused =
        "vsock EPERM\ntiocsti EPERM\no_async EPERM\nrequest_key EPERM\nio_uring_setup EPERM\n";
    // A writable bind gives the sandbox the set-id guard too, which refuses io_uring_setup
    // itself: learnt and logged, it must still be seen. The guard alone refuses openat2, with
    // its own errno (ENOSYS, 38), which the log must name.
    let rw_dir = s.0.file("out");
    let rw = ["--rw", rw_dir.as_str()];
    let unguarded = Openat2 {
        prints: "ran",
        logged: "(let run)",
    };
    let guarded = Openat2 {
        prints: "38",
        logged: "(refused: ENOSYS)",
    };
    for (extra, openat2) in [(&[][..], unguarded), (&rw[..], guarded)] {
        refused_calls_are_learnt_and_logged(&s, extra, &ro, &command, refused, openat2);
    }
}

/// What the probe's `openat2` prints, and how `--log-violations` shows the call.
struct Openat2 {
    prints: &'static str,
    logged: &'static str,
}

fn refused_calls_are_learnt_and_logged(
    s: &Workspace,
    extra: &[&str],
    ro: &[&str],
    command: &[&str],
    refused: &str,
    openat2: Openat2,
) {
    let refused = format!("{refused}openat2 {}\n", openat2.prints);
    let learnt = learn_with(&s.policy(), false, extra, ro, command);
    assert_eq!(String::from_utf8_lossy(&learnt.stdout), refused);
    let policy = std::fs::read_to_string(s.policy()).unwrap();
    for rule in [
        "errno(EPERM) socket if domain == AF_VSOCK;",
        "errno(EPERM) ioctl if request == TIOCSTI;",
        "errno(EPERM) fcntl if cmd == F_SETFL && arg & O_ASYNC != 0;",
        "errno(EPERM) request_key;",
        "errno(EPERM) io_uring_setup;",
    ] {
        assert!(policy.contains(rule), "{rule}\n{policy}");
    }
    let enforced = run(&s.policy(), extra, ro, command);
    assert!(enforced.status.success(), "{extra:?}");
    assert_eq!(String::from_utf8_lossy(&enforced.stdout), refused);
    // A policy that kills them all, under --log-violations.
    let killing = s.0.write("killing.policy", "default kill;\nuse dynamic_startup, malloc, exit, stdio, files_read, dirs, signals, getids, getpids, time, futex, threads, random, tcgets, pipes, poll, unix_sockets, eventfd, epoll, sleep;\n");
    let logged = run(
        Path::new(&killing),
        &[&["--log-violations"][..], extra].concat(),
        ro,
        command,
    );
    assert!(logged.status.success());
    assert_eq!(String::from_utf8_lossy(&logged.stdout), refused);
    let stderr = String::from_utf8_lossy(&logged.stderr);
    for call in [
        "socket(AF_VSOCK",
        "ioctl(0, TIOCSTI",
        "request_key(",
        "io_uring_setup(",
    ] {
        assert!(
            stderr
                .lines()
                .any(|l| l.contains("(refused: EPERM)") && l.contains(call)),
            "{call}: {stderr}"
        );
    }
    assert!(
        stderr
            .lines()
            .any(|l| l.contains(openat2.logged) && l.contains("openat2(")),
        "{stderr}"
    );
}

/// A program that adds a seccomp filter of its own is refused it while learning (`EPERM`, as
/// the learnt policy then refuses it too): a filter it added would rank its own answers above
/// the notifications learning records, and a learnt rule allowing it would let the program hide
/// every kill of the policy learnt. The learnt policy refuses both ways of adding one, allows
/// neither, and the program runs under it as it ran while learning.
#[test]
fn a_program_adding_a_seccomp_filter_learns_a_policy_that_refuses_it() {
    let s = Workspace::new("learn-filter");
    let source = s.0.write(
        "adds_filter.c",
        concat!(
            "#include <errno.h>\n",
            "#include <linux/seccomp.h>\n",
            "#include <stdio.h>\n",
            "#include <sys/prctl.h>\n",
            "#include <sys/syscall.h>\n",
            "#include <unistd.h>\n",
            "int main(void) {\n",
            "    long a = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, NULL);\n",
            "    int ea = errno;\n",
            "    long b = prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, NULL);\n",
            "    int eb = errno;\n",
            "    printf(\"seccomp %ld errno %d, prctl %ld errno %d\\n\", a, ea, b, eb);\n",
            "    return 0;\n",
            "}\n"
        ),
    );
    let program = s.0.file("adds_filter");
    let cc = std::process::Command::new("cc")
        .args(["-O2", "-o", &program, &source])
        .output()
        .expect("cc, the C compiler");
    assert!(
        cc.status.success(),
        "{}",
        String::from_utf8_lossy(&cc.stderr)
    );
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
    let refused = format!("seccomp -1 errno {0}, prctl -1 errno {0}\n", libc::EPERM);
    let learnt = learn(&s.policy(), false, &[], &[&program]);
    assert_eq!(String::from_utf8_lossy(&learnt.stdout), refused);
    check(&s.policy());
    let text = std::fs::read_to_string(s.policy()).unwrap();
    for rule in [
        "errno(EPERM) seccomp if operation == SECCOMP_SET_MODE_FILTER;",
        "errno(EPERM) prctl if option == PR_SET_SECCOMP;",
    ] {
        assert!(text.contains(rule), "{rule}\n{text}");
    }
    let allows = |name: &str| {
        text.lines()
            .filter(|l| !l.starts_with("//"))
            .any(|l| l.starts_with("allow ") && l.contains(name))
    };
    assert!(!allows("seccomp") && !allows("prctl"), "{text}");
    let inside = run(&s.policy(), &[], &[], &[&program]);
    assert!(inside.status.success());
    assert_eq!(String::from_utf8_lossy(&inside.stdout), refused);
}
