//! Fork safety, checked on the running code: between the clone of a sandbox's init and the
//! exec of its program, no process copied from the host calls the allocator. Another thread of
//! the host may hold the allocator's locks at the clone, and the copy would then wait on them for
//! ever (or find its heap half changed).
//!
//! `tests/fork_safety/alloc_probe.c`, built here with `cc` and loaded with `LD_PRELOAD`, records
//! every allocator call of a process that is a copy of the one that loaded it and has not
//! exec'd since; a child of glibc's `fork()` is exempt, since glibc's fork takes the
//! allocator's locks around it (the fork server is such a child). The sandboxed programs get
//! an empty environment, so the probe is not loaded into them. `canary.c` shows first that
//! the probe records a raw clone's allocations and exempts a glibc fork's. The probe wraps
//! glibc's allocator (`__libc_malloc` and the rest), as the runtime's own argument for the fork
//! server rests on glibc's `fork`.
//!
//! A spare, the init the fork server makes ahead, allocates on purpose until it takes a
//! request (it is a copy of the server, whose one other thread holds no lock then: see the
//! runtime's `spawn::spare`). It is named `sandbox-spare` until then, and the probe only counts
//! the calls of a process so named; once it serves a request it is `sandbox-init` and held to
//! the rule like any other init.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

#[path = "../sandbox-runtime/tests/scratch/mod.rs"]
mod scratch;

use scratch::ScratchDir;

/// `target/<profile>/`, where this test's binary lives under `deps/`.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    exe.parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps")
        .to_path_buf()
}

/// Brings `target` (`["--example", "startups"]`, say) up to date with `cargo build` and
/// returns its path under `relative` in the profile's directory.
fn built(target: &[&str], relative: &str) -> PathBuf {
    let profile = profile_dir();
    let mut build = Command::new(env!("CARGO"));
    build
        .args(["build", "--quiet"])
        .args(target)
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    if profile.ends_with("release") {
        build.arg("--release");
    }
    let status = build.status().expect("run cargo");
    assert!(status.success(), "cargo build {target:?} failed");
    let path = profile.join(relative);
    assert!(path.exists(), "{} was not built", path.display());
    path
}

/// Compiles `tests/fork_safety/NAME.c` into the scratch directory with `cc` (the C compiler is
/// one of the test's needs: without it the test fails).
fn compiled(s: &ScratchDir, name: &str, shared_object: bool) -> String {
    let source = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fork_safety")
        .join(format!("{name}.c"));
    let out = s.file(name);
    let mut cc = Command::new("cc");
    cc.args(["-O2", "-Wall", "-o", &out]).arg(&source);
    if shared_object {
        cc.args(["-shared", "-fPIC", "-ldl"]);
    }
    let result = cc.output().expect("cc, the C compiler");
    assert!(
        result.status.success(),
        "cc {}: {}",
        source.display(),
        String::from_utf8_lossy(&result.stderr)
    );
    out
}

/// What the probe saw of one run.
struct Seen {
    /// Allocator calls of the process the probe was loaded into first.
    own: u64,
    /// Allocator calls of spares of the fork server, before each took a request.
    in_spares: u64,
    /// One line per allocator call in a copy of it (`pid 1 malloc from FILE+0xOFFSET`).
    in_children: Vec<String>,
}

/// Runs `program` with `args` under the probe and reads what it recorded. `expected` is the
/// exit code the run must end with (the probe must not change what it does).
fn probed(s: &ScratchDir, probe: &str, program: &Path, args: &[&str], expected: i32) -> Seen {
    let log = s.file("probe.log");
    let _ = std::fs::remove_file(&log);
    let out: Output = Command::new(program)
        .args(args)
        .env("LD_PRELOAD", probe)
        .env("ALLOC_PROBE_LOG", &log)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run the probed program");
    let shown = format!(
        "{} {args:?}: {}\nstdout: {}\nstderr: {}",
        program.display(),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(expected), "{shown}");
    let text = std::fs::read_to_string(&log).unwrap_or_else(|e| panic!("{log}: {e}\n{shown}"));
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    // `owner PID allocations N, in children M, in spares S`
    let count_after = |label: &str| -> u64 {
        header
            .split(label)
            .nth(1)
            .and_then(|rest| rest.split(',').next())
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("the probe's header: {header:?}\n{shown}"))
    };
    Seen {
        own: count_after(" allocations "),
        in_spares: count_after(" in spares "),
        in_children: lines.map(str::to_string).collect(),
    }
}

/// The probe records a raw clone's allocation and free, and nothing of a glibc fork's child:
/// the checks below can fail.
#[test]
fn the_probe_sees_a_raw_clone_allocate_and_exempts_a_glibc_fork() {
    let s = ScratchDir::new("fork-safety-canary");
    let probe = compiled(&s, "alloc_probe", true);
    let canary = compiled(&s, "canary", false);
    let seen = probed(&s, &probe, Path::new(&canary), &[], 0);
    assert_eq!(seen.in_children.len(), 2, "{:?}", seen.in_children);
    assert!(
        seen.in_children[0].contains(" malloc from "),
        "{:?}",
        seen.in_children
    );
    assert!(
        seen.in_children[1].contains(" free from "),
        "{:?}",
        seen.in_children
    );
}

/// The `sandbox` tool clones each init from itself: no init, and no program's child of init
/// before its exec, allocates, whatever the run comes to (a clean exit, a set-up error after
/// the clone, a policy's kill, a time-out, the learn and log-violations modes).
#[test]
fn no_copy_of_the_sandbox_tool_allocates() {
    let s = ScratchDir::new("fork-safety-tool");
    let probe = compiled(&s, "alloc_probe", true);
    let sandbox = built(&["-p", "sandbox-runtime", "--bin", "sandbox"], "sandbox");
    let allow_all = s.write("allow.policy", "default allow;\n");
    let input = s.write("input.txt", "some input\n");
    std::fs::create_dir(s.path().join("out")).unwrap();
    let out_dir = s.file("out");
    let learned = s.file("learned.policy");
    let cat = "examples/policies/cat.policy";
    // Each run's words (no path here holds a space) and the exit code it must end with.
    let runs = [
        (format!("run --policy {allow_all} -- /bin/true"), 0),
        (
            format!(
                "run --policy {allow_all} --ro {input} --rw {out_dir} --tmpfs /scratch \
                 --time-limit 10 --memory 256M --pids 16 --cpu-limit 10 --file-size 1M \
                 --open-files 64 --hostname probed --env A=1 -- /bin/cat {input}"
            ),
            0,
        ),
        // Init fails after the clone: the bind's source is missing.
        (
            format!("run --policy {allow_all} --ro /nonexistent-source -- /bin/true"),
            125,
        ),
        // The policy kills `ls` (it allows reading files, not listing directories).
        (format!("run --policy {cat} -- /bin/ls /"), 159),
        (
            format!("run --policy {allow_all} --time-limit 0.2 -- /bin/sleep 5"),
            124,
        ),
        (
            format!("run --policy {cat} --log-violations -- /bin/ls /"),
            0,
        ),
        (format!("learn --output {learned} -- /bin/ls /"), 0),
    ];
    for (words, code) in runs {
        let args: Vec<&str> = words.split_whitespace().collect();
        let seen = probed(&s, &probe, &sandbox, &args, code);
        assert!(seen.own > 0, "the probe saw no allocation at all: {args:?}");
        assert!(
            seen.in_children.is_empty(),
            "a copy of the host allocated: {args:?}\n{}",
            seen.in_children.join("\n")
        );
    }
}

/// A library host: sandboxes cloned directly (also into network namespaces a thread of the host
/// made ahead), a function of the host's run in a sandbox, inits the fork server clones fresh
/// for each request, and spares it made ahead serving the requests back to back.
#[test]
fn no_copy_of_a_library_host_allocates() {
    let s = ScratchDir::new("fork-safety-library");
    let probe = compiled(&s, "alloc_probe", true);
    let startups = built(&["--example", "startups"], "examples/startups");
    let crc4 = built(&["--example", "crc4"], "examples/crc4");
    let runs: &[(&Path, &[&str])] = &[
        (&startups, &["20"]),
        (&startups, &["20", "--new-net"]),
        (&startups, &["20", "--fork-server", "--alternate"]),
        (
            &startups,
            &["20", "--fork-server", "--alternate", "--new-net"],
        ),
        (&startups, &["20", "--fork-server"]),
        (&crc4, &[]),
    ];
    let mut spares_seen = 0;
    for (program, args) in runs {
        let seen = probed(&s, &probe, program, args, 0);
        spares_seen += seen.in_spares;
        assert!(seen.own > 0, "the probe saw no allocation at all: {args:?}");
        assert!(
            seen.in_children.is_empty(),
            "a copy of the host allocated: {} {args:?}\n{}",
            program.display(),
            seen.in_children.join("\n")
        );
    }
    // Back to back through the fork server, each request after the first is served by a
    // spare: the probe saw them, and their calls before each request were let be.
    assert!(spares_seen > 0, "no spare allocated: were any made?");
}
