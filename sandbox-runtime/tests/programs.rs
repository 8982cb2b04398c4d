//! Real programs give the same output inside the sandbox as outside.

mod common;

use sandbox_runtime::{SandboxCommand, Status};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::Command;

fn compare(program: &str, args: &[&str]) {
    let host = Command::new(program).args(args).output().unwrap();
    let out = common::command(program)
        .args(args)
        .policy(&common::permissive())
        .output()
        .unwrap();
    assert_eq!(
        out.outcome.status,
        Status::Exited(host.status.code().unwrap()),
        "{program}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&host.stdout),
        "{program} {args:?}"
    );
}

#[test]
fn true_echo_sha256sum_python() {
    compare("/bin/true", &[]);
    compare("/bin/echo", &["hello", "world"]);
    compare("/usr/bin/sha256sum", &["/usr/bin/sha256sum"]);
    compare("/usr/bin/python3", &["-c", "print(1)"]);
    compare("/bin/ls", &["/usr"]);
}

#[test]
fn cat_copies_stdin_to_stdout() {
    let mut child = common::command("/bin/cat")
        .stdin(sandbox_runtime::Stdio::Piped)
        .stdout(sandbox_runtime::Stdio::Piped)
        .policy(&common::permissive())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"some bytes\n").unwrap();
    drop(stdin);
    let out = child.wait_with_output();
    assert_eq!(out.outcome.status, Status::Exited(0));
    assert_eq!(out.stdout, b"some bytes\n");
}

#[test]
fn environment_is_empty_unless_set() {
    let out = common::command("/usr/bin/env")
        .env("A", "b")
        .output()
        .unwrap();
    assert_eq!(out.stdout, b"A=b\n");
}

#[test]
fn passed_fd_arrives_at_its_number() {
    let dir = common::ScratchDir::new("pass");
    let path = dir.path().join("f");
    std::fs::write(&path, "passed\n").unwrap();
    let f = std::fs::File::open(&path).unwrap();
    let out = common::command("/bin/cat")
        .arg("/dev/fd/5")
        .pass_fd(f.into(), 5)
        .output()
        .unwrap();
    common::assert_exited_0(&out);
    assert_eq!(out.stdout, b"passed\n");
}

#[test]
fn rw_bind_and_tmpfs() {
    let scratch = common::ScratchDir::new("rw");
    let dir = scratch.path();
    // The sandbox user must be able to write: make the directory world-writable for the test.
    std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let out = common::command("/bin/sh")
        .args([
            "-c",
            "echo x > /out/f && echo y > /scratch/g && cat /scratch/g && ! touch /usr/nope",
        ])
        .mount_rw(dir, "/out")
        .tmpfs("/scratch", 1 << 20)
        .output()
        .unwrap();
    let written = std::fs::read_to_string(dir.join("f"));
    common::assert_exited_0(&out);
    assert_eq!(out.stdout, b"y\n");
    assert_eq!(written.unwrap(), "x\n");
}

/// A mount over the sandbox's own `/dev` (or `/proc`) is refused: it would cover the device
/// nodes bound there, and the read-only seal meant for `/dev` would land on it instead. (Before,
/// a tmpfs there was stacked over the built-in one, left writable underneath.)
#[test]
fn a_mount_over_the_sandboxs_own_dev_is_refused() {
    let scratch = common::ScratchDir::new("over-dev");
    let file = scratch.path().join("file");
    std::fs::write(&file, "on top\n").unwrap();
    let err = common::command("/bin/sh")
        .args(["-c", "cat /dev/file"])
        .tmpfs("/dev", 1 << 20)
        .mount_ro(&file, "/dev/file")
        .output()
        .unwrap_err();
    assert!(
        matches!(&err, sandbox_runtime::SpawnError::BadMountPoint { path, .. } if path == "/dev"),
        "{err}"
    );
    // A file bound into the sandbox's own /dev is fine.
    let out = common::command("/bin/sh")
        .args(["-c", "cat /dev/file && test -c /dev/null && echo kept"])
        .mount_ro(&file, "/dev/file")
        .output()
        .unwrap();
    common::assert_exited_0(&out);
    assert_eq!(out.stdout, b"on top\nkept\n");
}

/// A bind's source is looked up as on the host (an absolute host link leads to its host
/// target) and a mount point as inside the sandbox (an absolute `symlink` entry leads later
/// entries to its target in the new root, not to a path of the host or of init's staging root).
#[test]
fn links_resolve_in_the_root_they_belong_to() {
    let scratch = common::ScratchDir::new("links");
    let dir = scratch.path();
    std::fs::create_dir(dir.join("real")).unwrap();
    std::fs::write(dir.join("real/file"), "bound\n").unwrap();
    std::os::unix::fs::symlink(dir.join("real"), dir.join("link")).unwrap();
    let out = common::command("/bin/cat")
        .args(["/data/in/file", "/data/sub/file"])
        .tmpfs("/data", 1 << 20)
        .symlink("/data", "/d")
        .mount_ro(dir.join("link"), "/data/in")
        .mount_ro(dir.join("real/file"), "/d/sub/file")
        .output()
        .unwrap();
    common::assert_exited_0(&out);
    assert_eq!(out.stdout, b"bound\nbound\n");
}

/// The merged-usr layout made with `symlink` entries, as on the host: `/bin`, `/lib` and
/// `/lib64` link into a bound `/usr`. The program's own binds (at `/bin/sh` and its loader's
/// `/lib64/...` path) are found already shown through those links, and the sandbox starts.
#[test]
fn a_program_with_libraries_behind_the_plans_own_links_starts() {
    let mut c = sandbox_runtime::SandboxCommand::new("/bin/sh");
    c.args(["-c", "echo started"]).mount_ro("/usr", "/usr");
    for (link, target) in [
        ("/bin", "usr/bin"),
        ("/lib", "usr/lib"),
        ("/lib64", "usr/lib64"),
    ] {
        c.symlink(target, link);
    }
    let out = c
        .add_program_with_libraries("/bin/sh")
        .policy(&common::permissive())
        .output()
        .unwrap();
    common::assert_exited_0(&out);
    assert_eq!(out.stdout, b"started\n");
}

/// Signals the host blocked or ignored (Rust ignores SIGPIPE; services block signals in worker
/// threads) do not reach the program: it starts, as after a plain exec from a fresh process,
/// with nothing blocked and nothing ignored, so `yes | head` ends the way it does outside.
#[test]
fn signal_mask_and_ignored_signals_start_clean() {
    // SAFETY: sigset_t is plain old data, filled by sigemptyset/sigaddset before use; the mask
    // applies to this test's thread only and is restored below.
    let old = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGUSR1);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old);
        old
    };
    let out = common::command("/bin/grep")
        .args(["-E", "^Sig(Blk|Ign)", "/proc/self/status"])
        .policy(&common::permissive())
        .output()
        .unwrap();
    // SAFETY: restores the mask saved above.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut()) };
    assert_eq!(out.outcome.status, Status::Exited(0));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n"
    );
    // With SIGPIPE ignored, `yes` would outlive `head` and complain of a broken pipe.
    let piped = common::command("/bin/sh")
        .args(["-c", "yes | head -c 4"])
        .policy(&common::permissive())
        .output()
        .unwrap();
    assert_eq!(piped.outcome.status, Status::Exited(0));
    assert_eq!(piped.stdout, b"y\ny\n");
    assert_eq!(String::from_utf8_lossy(&piped.stderr), "");
}

/// Runs `/bin/sh -c script` in a sandbox from a forked child of this process that first closes
/// its own descriptors `closed`, with the given standard streams, and asserts that the script
/// exited with 0 and printed only "done" (it prints "open N" for a stream it finds open).
fn assert_only_done_from_a_host_with_closed_streams(
    closed: &[libc::c_int],
    streams: [sandbox_runtime::Stdio; 3],
    script: &str,
) {
    let (mut r, mut w) = common::pipe();
    // SAFETY: the child only closes descriptors, spawns one sandbox (allocating, which glibc's
    // fork makes safe) and leaves with _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        drop(r);
        // The report pipe must not sit on a standard stream's number.
        assert!(w.as_raw_fd() > 2);
        for fd in closed {
            // SAFETY: closing one of this child's own standard streams.
            unsafe { libc::close(*fd) };
        }
        let [stdin, stdout, stderr] = streams;
        let out = common::command("/bin/sh")
            .args(["-c", script])
            .stdin(stdin)
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .map(|c| c.wait_with_output());
        let report = match out {
            Ok(o) => format!(
                "{} | {}",
                o.outcome.status,
                String::from_utf8_lossy(&o.stdout)
            ),
            Err(e) => format!("spawn failed: {e}"),
        };
        let _ = w.write_all(report.as_bytes());
        // SAFETY: ends the forked child without running the harness's exit handlers.
        unsafe { libc::_exit(0) };
    }
    drop(w);
    // The child is a fork of this multi-threaded test process: should it deadlock on a lock
    // another test thread held at the fork, fail after a while instead of hanging.
    let mut pfd = libc::pollfd {
        fd: r.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one live pollfd.
    if unsafe { libc::poll(&mut pfd, 1, 30_000) } == 0 {
        // SAFETY: pid is our child, not yet reaped; status is a live int.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
            libc::waitpid(pid, &mut 0, 0);
        }
        panic!("the forked host did not report within 30 s");
    }
    let mut report = String::new();
    std::io::Read::read_to_string(&mut r, &mut report).unwrap();
    let mut status = 0;
    // SAFETY: pid is our child; status is a live int.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert_eq!(report, "exited with code 0 | done\n");
}

/// A host with its standard streams closed: the sandboxee must get those streams closed too,
/// not whichever of the runtime's own descriptors took their numbers (the report socket, the
/// sync pipe). Run in a forked child, which may close its own streams.
#[test]
fn closed_host_streams_stay_closed_in_the_sandbox() {
    use sandbox_runtime::Stdio;
    assert_only_done_from_a_host_with_closed_streams(
        &[0, 2],
        [Stdio::Inherit, Stdio::Piped, Stdio::Inherit],
        "for f in 0 2; do [ -e /proc/self/fd/$f ] && echo open $f; done; echo done",
    );
}

/// Nor may another stream's pipe stand in for a closed one: with 1 and 2 closed, the pipe made
/// for a piped stdin takes those numbers in the host, and an "inherited" stderr copied after it
/// would be that pipe.
#[test]
fn a_closed_host_stream_is_not_replaced_by_another_streams_pipe() {
    use sandbox_runtime::Stdio;
    assert_only_done_from_a_host_with_closed_streams(
        &[1, 2],
        [Stdio::Piped, Stdio::Piped, Stdio::Inherit],
        "[ -e /proc/self/fd/2 ] && echo open 2; echo done",
    );
}

/// A passed descriptor number the sandboxee could never have open is refused up front.
#[test]
fn passed_fd_number_beyond_the_open_files_limit_is_refused() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: limit is a live rlimit the kernel fills.
    assert_eq!(
        unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) },
        0
    );
    // The last number under the limit leaves no room above it for the runtime's own
    // descriptors, which are moved above every target.
    let last = i32::try_from(limit.rlim_cur - 1).unwrap_or(i32::MAX);
    for target in [i32::MAX, 1 << 30, last] {
        let f = std::fs::File::open("/dev/null").unwrap();
        let err = common::command("/bin/true")
            .pass_fd(f.into(), target)
            .spawn()
            .map(|_| ())
            .unwrap_err();
        assert!(
            matches!(err, sandbox_runtime::SpawnError::BadFdNumber(n) if n == target),
            "{err}"
        );
    }
}

/// Both captured streams far beyond a pipe's buffer, the larger one written first: reading one
/// to its end before the other would block the program for ever.
#[test]
fn output_reads_both_streams_at_once() {
    let out = common::command("/bin/sh")
        .args([
            "-c",
            "head -c 300000 /dev/zero >&2; head -c 200000 /dev/zero",
        ])
        .policy(&common::permissive())
        .output()
        .unwrap();
    assert_eq!(out.outcome.status, Status::Exited(0), "{}", out.outcome);
    assert_eq!(out.stderr.len(), 300_000);
    assert_eq!(out.stdout.len(), 200_000);
}

/// Programs added one after another share their loader and libraries, also when the plan
/// reaches them through a link of its own: each file is bound once (the plan refuses two
/// entries in one place), and each program runs.
#[test]
fn programs_sharing_libraries_through_a_plan_link_are_bound_once() {
    let status = SandboxCommand::new("/bin/true")
        .symlink("usr/lib64", "/lib64")
        .add_program_with_libraries("/bin/true")
        .add_program_with_libraries("/bin/echo")
        .add_program_with_libraries("/bin/true")
        .policy(&common::permissive())
        .status()
        .unwrap();
    assert_eq!(status.status, Status::Exited(0), "{status}");
}

/// `/usr/bin/true`, the first file it loads (its interpreter), and `/usr/bin/ls` (another
/// program to put in their place), as the host resolves them.
fn true_its_first_library_and_ls() -> (PathBuf, PathBuf, PathBuf) {
    let program = std::fs::canonicalize("/usr/bin/true").unwrap();
    let library = sandbox_runtime::elf::resolve(&program)
        .unwrap()
        .paths()
        .next()
        .expect("/usr/bin/true loads a library")
        .to_path_buf();
    let other = std::fs::canonicalize("/usr/bin/ls").unwrap();
    (program, library, other)
}

/// A mount of the caller's that puts another file, or a tmpfs, where the program or one of its
/// libraries must be bound is refused, naming both, rather than running or loading what it
/// shows in the file's stead; the same file bound there under another host path is taken.
#[test]
fn a_mount_over_the_program_or_a_library_is_refused() {
    let (program, library, other) = true_its_first_library_and_ls();
    for covered in [&program, &library] {
        let mut over_it = with_its_libraries(program.to_str().unwrap());
        over_it.mount_ro(&other, covered);
        let e = over_it.status().unwrap_err();
        let text = e.to_string();
        assert!(
            matches!(e, sandbox_runtime::SpawnError::ProgramFileReplaced { .. }),
            "{text}"
        );
        for named in [covered, &other] {
            assert!(text.contains(named.to_str().unwrap()), "{text}");
        }
        let mut tmpfs = with_its_libraries(program.to_str().unwrap());
        tmpfs.tmpfs(covered, 1 << 20);
        let e = tmpfs.status().unwrap_err().to_string();
        assert!(e.contains("a tmpfs there"), "{e}");
    }
    // The same file, named through `/bin` (a link to `usr/bin` on a merged /usr), or as is.
    for same in [Path::new("/bin/true"), &program] {
        let mut cmd = with_its_libraries(program.to_str().unwrap());
        cmd.mount_ro(same, &program);
        let status = cmd.status().unwrap();
        assert_eq!(status.status, Status::Exited(0), "{status}");
    }
}

/// What shows the program or a library is the deepest mount at or above its place: an identity
/// bind of `/usr` does not vouch for `/usr/bin/true` when a later bind puts another directory at
/// `/usr/bin` (holding another `true`, or none); a bind there of a directory that holds the same
/// file is taken, and under a tmpfs there the program is bound.
#[test]
fn a_mount_over_a_directory_holding_the_program_or_a_library_is_refused() {
    let (program, library, other) = true_its_first_library_and_ls();
    let s = common::ScratchDir::new("over-its-directory");
    std::fs::set_permissions(
        s.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    for covered in [&program, &library] {
        let name = covered.file_name().unwrap().to_str().unwrap();
        let holding_another = s.path().join(format!("another-{name}"));
        std::fs::create_dir(&holding_another).unwrap();
        std::fs::copy(&other, holding_another.join(name)).unwrap();
        let empty = s.path().join(format!("without-{name}"));
        std::fs::create_dir(&empty).unwrap();
        for shown in [&holding_another, &empty] {
            let mut cmd = with_its_libraries(program.to_str().unwrap());
            cmd.mount_ro("/usr", "/usr")
                .mount_ro(shown, covered.parent().unwrap());
            let e = cmd.status().unwrap_err();
            let text = e.to_string();
            assert!(
                matches!(e, sandbox_runtime::SpawnError::ProgramFileReplaced { .. }),
                "{text}"
            );
            for named in [covered, shown] {
                assert!(text.contains(named.to_str().unwrap()), "{text}");
            }
        }
    }
    // The program's directory as it is on the host, under another name: the same file is
    // shown, and run.
    let dir = program.parent().unwrap();
    let via_link = s.path().join("link-to-its-directory");
    std::os::unix::fs::symlink(dir, &via_link).unwrap();
    let mut same = with_its_libraries(program.to_str().unwrap());
    same.mount_ro("/usr", "/usr").mount_ro(&via_link, dir);
    let status = same.status().unwrap();
    assert_eq!(status.status, Status::Exited(0), "{status}");
    // A tmpfs over its directory hides the host's: the program is bound into it.
    let mut tmpfs = with_its_libraries(program.to_str().unwrap());
    tmpfs.mount_ro("/usr", "/usr").tmpfs(dir, 1 << 20);
    let status = tmpfs.status().unwrap();
    assert_eq!(status.status, Status::Exited(0), "{status}");
}

/// What a bind shows is found as the sandbox will find it: a symbolic link in the bind's source
/// leads where its target is in the sandbox, not on the host. Here `app/true` is shown by a
/// bind of `view`, whose `true` links to `other/true`: on the host that leads to the program,
/// in the sandbox to what a bind of `evil` puts at `other`. Refused, naming where it leads.
#[test]
fn a_link_in_a_bind_leads_where_the_sandbox_shows_it() {
    let s = common::ScratchDir::new("link-in-a-bind");
    for d in ["app", "view", "other", "evil"] {
        std::fs::create_dir(s.path().join(d)).unwrap();
    }
    let program = s.file("app/true");
    std::fs::copy("/usr/bin/true", &program).unwrap();
    std::fs::remove_dir(s.path().join("other")).unwrap();
    std::os::unix::fs::symlink(s.path().join("app"), s.path().join("other")).unwrap();
    std::os::unix::fs::symlink(s.path().join("other/true"), s.path().join("view/true")).unwrap();
    let evil = s.file("evil/true");
    std::fs::copy("/usr/bin/ls", &evil).unwrap();
    readable_to_all(s.path());
    let mut cmd = with_its_libraries(&program);
    cmd.mount_ro(s.file("view"), s.file("app"))
        .mount_ro(s.file("evil"), s.file("other"));
    let e = cmd.status().unwrap_err();
    let text = e.to_string();
    assert!(
        matches!(e, sandbox_runtime::SpawnError::ProgramFileReplaced { .. }),
        "{text}"
    );
    assert!(text.contains(&evil), "{text}");
}

/// A mount that puts another library where the loader looks before the one the resolver
/// found, an earlier directory of the program's `DT_RUNPATH` or a subdirectory the loader
/// looks in first (`tls`, `glibc-hwcaps`), is refused, naming both: the sandbox would load it
/// instead. The same directory bound as it is (identity) shows the host's, and runs.
#[test]
fn a_mount_where_the_loader_looks_first_is_refused() {
    let s = common::ScratchDir::new("shadowed");
    for d in ["bin", "lib", "other"] {
        std::fs::create_dir(s.path().join(d)).unwrap();
    }
    let app = program_with_library(&s, "lib", Some("$ORIGIN/../first:$ORIGIN/../lib"));
    let other = other_library(&s);
    let mut places = vec![s.file("first"), s.file("lib/tls")];
    if cfg!(target_arch = "x86_64") {
        places.push(s.file("lib/glibc-hwcaps/x86-64-v2"));
    }
    for place in places {
        let mut cmd = with_its_libraries(&app);
        cmd.mount_ro(s.file("other"), &place);
        let e = cmd.output().unwrap_err();
        let text = e.to_string();
        assert!(
            matches!(e, sandbox_runtime::SpawnError::LibraryShadowed { .. }),
            "{place}: {text}"
        );
        for named in [format!("{place}/libsbxone.so"), other.clone()] {
            assert!(text.contains(&named), "{text}");
        }
    }
    let mut identity = with_its_libraries(&app);
    identity.mount_ro(s.path(), s.path());
    let out = identity.output().unwrap();
    assert_eq!(out.outcome.status, Status::Exited(0), "{}", out.outcome);
    assert_eq!(out.stdout, b"1\n");
}

/// `$LIB` and `$PLATFORM` in a search list lead the loader to places before the library's own:
/// a mount there that shows another library is refused like one at any earlier place. The
/// host's own loader is shown to load the other library from one of `$LIB`'s usual places, so
/// the refusal is of a real shadowing.
#[test]
fn a_mount_where_lib_or_platform_leads_the_loader_is_refused() {
    let s = common::ScratchDir::new("tokens");
    for d in ["bin", "lib", "other"] {
        std::fs::create_dir(s.path().join(d)).unwrap();
    }
    let runpath = "$ORIGIN/../opt/$LIB:$ORIGIN/../${PLATFORM}:$ORIGIN/../lib";
    let app = program_with_library(&s, "lib", Some(runpath));
    let other = other_library(&s);
    let platform = if cfg!(target_arch = "x86_64") {
        "x86_64"
    } else {
        "aarch64"
    };
    let triplet = format!("{platform}-linux-gnu");
    let lib_places = [
        s.file(&format!("opt/lib/{triplet}")),
        s.file("opt/lib64"),
        s.file("opt/lib"),
    ];
    // The premise: the host's loader looks in one of them before the library's own place.
    let shadowed_on_the_host = lib_places.iter().any(|place| {
        std::fs::create_dir_all(place).unwrap();
        std::fs::copy(&other, format!("{place}/libsbxone.so")).unwrap();
        let out = Command::new(&app).output().unwrap();
        std::fs::remove_dir_all(s.file("opt")).unwrap();
        out.stdout == b"2\n"
    });
    assert!(
        shadowed_on_the_host,
        "the host's loader looked in none of $LIB's places"
    );
    for place in lib_places.iter().chain([&s.file(platform)]) {
        let mut cmd = with_its_libraries(&app);
        cmd.mount_ro(s.file("other"), place);
        let e = cmd.output().unwrap_err();
        let text = e.to_string();
        assert!(
            matches!(e, sandbox_runtime::SpawnError::LibraryShadowed { .. }),
            "{place}: {text}"
        );
        assert!(text.contains(&format!("{place}/libsbxone.so")), "{text}");
    }
    let out = with_its_libraries(&app).output().unwrap();
    assert_eq!(out.outcome.status, Status::Exited(0), "{}", out.outcome);
    assert_eq!(out.stdout, b"1\n");
}

/// Builds `other/libsbxone.so` in the scratch directory `s`: another library of the name
/// [`program_with_library`]'s program needs, from which it would print 2. Returns its path.
fn other_library(s: &common::ScratchDir) -> String {
    let other_c = s.write("other.c", "int sbx_one(void) { return 2; }\n");
    let other = s.file("other/libsbxone.so");
    let cc = Command::new("cc")
        .args(["-shared", "-fPIC", "-o", &other, &other_c])
        .status()
        .unwrap();
    assert!(cc.success());
    readable_to_all(Path::new(&other));
    other
}

/// Makes everything under `dir` readable to another user (the sandbox may run as one).
fn readable_to_all(dir: &Path) {
    let status = Command::new("chmod")
        .args(["-R", "a+rX"])
        .arg(dir)
        .status()
        .unwrap();
    assert!(status.success());
}

/// A command for `app` with only it and its libraries bound, under the permissive policy.
fn with_its_libraries(app: &str) -> SandboxCommand {
    let mut cmd = SandboxCommand::new(app);
    cmd.add_program_with_libraries(app)
        .policy(&common::permissive());
    cmd
}

/// Builds, in the scratch directory `s`, a C program `bin/app` that prints what
/// `int sbx_one(void)` returns, from a shared library `libsbxone.so` made in `lib_dir`
/// (relative), linked with `rpath` if any, and returns the program's path. Everything is made
/// readable to another user (the sandbox may run as one).
fn program_with_library(s: &common::ScratchDir, lib_dir: &str, rpath: Option<&str>) -> String {
    let lib_c = s.write("lib.c", "int sbx_one(void) { return 1; }\n");
    let app_c = s.write(
        "app.c",
        concat!(
            "#include <stdio.h>\n",
            "int sbx_one(void);\n",
            "int main(void) { printf(\"%d\\n\", sbx_one()); return 0; }\n"
        ),
    );
    let lib = s.file(&format!("{lib_dir}/libsbxone.so"));
    let app = s.file("bin/app");
    let cc = |args: &[&str]| {
        let out = Command::new("cc")
            .args(args)
            .output()
            .expect("cc, the C compiler");
        assert!(
            out.status.success(),
            "cc {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    cc(&["-shared", "-fPIC", "-o", &lib, &lib_c]);
    let lib_dir_path = s.file(lib_dir);
    let mut args = vec!["-o", &app, &app_c, "-L", &lib_dir_path, "-lsbxone"];
    let link = rpath.map(|r| format!("-Wl,-rpath,{r}"));
    args.extend(link.as_deref());
    cc(&args);
    readable_to_all(s.path());
    app
}

/// A program that finds its library through `$ORIGIN/../lib` (as java and rustc do) runs with
/// only itself and its libraries bound: the library goes where the loader inside looks, the
/// `..` taken away.
#[test]
fn a_program_finding_its_library_through_origin_dot_dot_runs() {
    let s = common::ScratchDir::new("origin-dot-dot");
    for d in ["bin", "lib"] {
        std::fs::create_dir(s.path().join(d)).unwrap();
    }
    let app = program_with_library(&s, "lib", Some("$ORIGIN/../lib"));
    let out = with_its_libraries(&app).output().unwrap();
    assert_eq!(out.outcome.status, Status::Exited(0), "{}", out.outcome);
    assert_eq!(out.stdout, b"1\n");
}

/// A binary whose search path goes up through a symbolic link (`$ORIGIN/s/../lib`, `s` a link
/// two directories down) names a library the lexical path does not: refused, by name, rather
/// than bound where the binary chose.
#[test]
fn a_library_path_going_up_through_a_symbolic_link_is_refused() {
    let s = common::ScratchDir::new("dot-dot-link");
    for d in ["bin", "bin/d1", "bin/d1/d2", "bin/d1/lib"] {
        std::fs::create_dir(s.path().join(d)).unwrap();
    }
    std::os::unix::fs::symlink("d1/d2", s.path().join("bin/s")).unwrap();
    let app = program_with_library(&s, "bin/d1/lib", Some("$ORIGIN/s/../lib"));
    // The host's loader finds it: s/.. is d1.
    assert!(Command::new(&app).status().unwrap().success());
    let e = with_its_libraries(&app).output().unwrap_err();
    assert!(
        e.to_string().contains("goes up through a symbolic link"),
        "{e}"
    );
}

/// A program that finds its library only through the `LD_LIBRARY_PATH` it is given runs: the
/// search follows the program's own environment (never the host's).
#[test]
fn a_library_found_through_the_programs_ld_library_path_is_bound() {
    let s = common::ScratchDir::new("ld-library-path");
    for d in ["bin", "lib"] {
        std::fs::create_dir(s.path().join(d)).unwrap();
    }
    let app = program_with_library(&s, "lib", None);
    let lib_dir = s.file("lib");
    let without = with_its_libraries(&app).output().unwrap_err();
    assert!(without.to_string().contains("libsbxone.so"), "{without}");
    let out = with_its_libraries(&app)
        .env("LD_LIBRARY_PATH", format!("relative/dir:{lib_dir}"))
        .output()
        .unwrap();
    assert_eq!(out.outcome.status, Status::Exited(0), "{}", out.outcome);
    assert_eq!(out.stdout, b"1\n");
}

/// Libraries found ahead of the spawn (`find_libraries`) are bound at every later spawn; a
/// search that fails names the library and leaves the command as it was.
#[test]
fn libraries_found_ahead_are_bound_at_each_spawn() {
    let s = common::ScratchDir::new("find-libraries");
    for d in ["bin", "lib"] {
        std::fs::create_dir(s.path().join(d)).unwrap();
    }
    let app = program_with_library(&s, "lib", None);
    let mut cmd = with_its_libraries(&app);
    let missing = cmd.find_libraries().unwrap_err();
    assert!(missing.to_string().contains("libsbxone.so"), "{missing}");
    cmd.env("LD_LIBRARY_PATH", s.file("lib"));
    cmd.find_libraries().unwrap();
    for _ in 0..2 {
        let out = cmd.output().unwrap();
        assert_eq!(out.outcome.status, Status::Exited(0), "{}", out.outcome);
        assert_eq!(out.stdout, b"1\n");
    }
}

/// A program named through a symbolic link in another directory (as `/usr/bin/java` links to
/// a JDK's `bin/java`) finds its `$ORIGIN` libraries as on the host: the loader inside takes
/// `$ORIGIN` from the file the link leads to, which is where they are bound.
#[test]
fn a_program_named_through_a_link_finds_its_origin_libraries() {
    let s = common::ScratchDir::new("origin-through-link");
    for d in ["bin", "lib", "elsewhere"] {
        std::fs::create_dir(s.path().join(d)).unwrap();
    }
    let app = program_with_library(&s, "lib", Some("$ORIGIN/../lib"));
    let link = s.file("elsewhere/app");
    std::os::unix::fs::symlink(&app, &link).unwrap();
    // The host's loader finds it through the link.
    assert!(Command::new(&link).status().unwrap().success());
    let out = with_its_libraries(&link).output().unwrap();
    assert_eq!(out.outcome.status, Status::Exited(0), "{}", out.outcome);
    assert_eq!(out.stdout, b"1\n");
}

/// A mount destination that is no sandbox path (relative, or with `..`) is reported as such,
/// even where it would also seem to cover the program's place: where a file lands is read
/// through the destinations, so a bad one must be the error rather than a guess at its place.
#[test]
fn a_bad_destination_is_reported_before_the_programs_place_is_looked_at() {
    let program = std::fs::canonicalize("/usr/bin/true").unwrap();
    for dst in ["..", "usr", "/usr/../..", "/a/../usr"] {
        let mut cmd = with_its_libraries(program.to_str().unwrap());
        cmd.mount_ro("/etc", dst);
        let e = cmd.status().unwrap_err();
        assert!(
            matches!(e, sandbox_runtime::SpawnError::BadSandboxPath { .. }),
            "{dst}: {e}"
        );
        assert!(e.to_string().contains(dst), "{e}");
    }
}

/// A mount point that cannot be made or used says why, not only the kernel's errno: a file on
/// a directory found in another bind or in `/proc`, a directory on a file, a new entry in a
/// read-only bind or in `/proc` (the kernel's, which makes none). Nothing runs.
#[test]
fn a_mount_point_that_cannot_be_made_says_why() {
    let scratch = common::ScratchDir::new("mount-points");
    let file = scratch.path().join("file");
    std::fs::write(&file, "x\n").unwrap();
    let dir = scratch.path();
    let cases: [(&Path, &str, &str); 7] = [
        (
            &file,
            "/dev/fd/x",
            "it leads through /proc/self, the kernel's link",
        ),
        (
            &file,
            "/usr/lib",
            "the source is a file and a directory is there",
        ),
        (
            &file,
            "/proc/sys",
            "the source is a file and a directory is there",
        ),
        (dir, "/proc/meminfo", "a file is there or on its path"),
        (&file, "/usr/bin/true/x", "a file is there or on its path"),
        (dir, "/usr/new-entry", "what holds it is mounted read-only"),
        (
            &file,
            "/proc/new-entry",
            "the sandbox's /proc is the kernel's",
        ),
    ];
    for (source, at, why) in cases {
        let out = common::command("/bin/true")
            .mount_ro(source, at)
            .status()
            .unwrap();
        let Status::SetupError(e) = &out.status else {
            panic!("{at}: {out}");
        };
        let step = format!("create mount point {at} (");
        assert!(
            e.step.starts_with(&step) && e.step.contains(why),
            "{at}: {e}"
        );
    }
}
