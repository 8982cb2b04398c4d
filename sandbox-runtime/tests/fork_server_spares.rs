//! The fork server's spares: after a launch, the server makes the next sandbox's init ahead of time
//! for the same configuration. These tests check that a spare is really what serves the next
//! request (its init is older than the request), that it shares nothing with the sandbox before it,
//! that a bind source replaced on the host in between is never served from it, and that spares the
//! server lets go (or whose set-up failed) do not pile up as zombies, and that a spare is made
//! after the sandbox before it ends, not beside it (unless that one runs long, or the host asks for
//! the same sandbox back to back). The tests of this binary run one at a time: each needs the
//! server's spare to be its own.

mod common;

use sandbox_runtime::{
    start_fork_server, Enforcement, Limits, SandboxChild, SandboxCommand, SandboxOutput, Status,
    Stdio,
};
use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Longer than the server's idle wait plus a spare's set-up, with a wide margin.
const LET_THE_SPARE_BE_MADE: Duration = Duration::from_millis(400);

fn serial() -> std::sync::MutexGuard<'static, ()> {
    server();
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

/// The fork server's pid (started by the first call).
fn server() -> u32 {
    start_fork_server().expect("the fork server starts")
}

/// Runs `cmd` to its end; returns its output and whether its init was made ahead (started
/// well before the spawn: a freshly cloned init starts within it).
fn run(mut cmd: SandboxCommand) -> (SandboxOutput, bool) {
    cmd.stdout(Stdio::Piped).stderr(Stdio::Piped);
    let at = common::uptime();
    let child = cmd.spawn().expect("spawn");
    let age = common::age_at(child.id(), at);
    let out = child.wait_with_output();
    assert_eq!(
        out.outcome.status,
        Status::Exited(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (out, age > 0.1)
}

fn stdout(out: &SandboxOutput) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The shell command every sandbox of the first test runs: its mount and network namespaces,
/// whether an earlier sandbox's file is in its tmpfs, then a file of its own there.
const LOOK_AROUND: &str = "readlink /proc/self/ns/mnt /proc/self/ns/net; \
     test -e /scratch/left-behind && echo found; echo x > /scratch/left-behind";

fn look_around() -> SandboxCommand {
    shell_with_scratch(LOOK_AROUND)
}

/// `sh -c script` with a tmpfs at `/scratch`.
fn shell_with_scratch(script: &str) -> SandboxCommand {
    let mut c = common::command("/bin/sh");
    c.args(["-c", script]).tmpfs("/scratch", 1 << 20);
    c
}

#[test]
fn a_spare_serves_the_next_sandbox_and_shares_nothing_with_the_one_before() {
    let _one = serial();
    // The first sandbox stays alive until the second has run: the kernel reuses the number of
    // a namespace that is gone, so only namespaces alive together can be told apart by it. It
    // runs past a second, so the spare is made beside it.
    let mut first = shell_with_scratch(&format!("{LOOK_AROUND}; cat"));
    first.stdin(Stdio::Piped).stdout(Stdio::Piped);
    let mut first = first.spawn().expect("spawn");
    std::thread::sleep(Duration::from_secs(1) + LET_THE_SPARE_BE_MADE);
    let (second, made_ahead) = run(look_around());
    assert!(
        made_ahead,
        "the second sandbox's init was cloned at its request"
    );
    drop(first.stdin.take());
    let first = first.wait_with_output();
    assert_eq!(first.outcome.status, Status::Exited(0));
    let (a, b) = (stdout(&first), stdout(&second));
    assert!(!a.contains("found") && !b.contains("found"), "{a}\n{b}");
    let (a, b): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    assert!(
        a[0].starts_with("mnt:[") && a[1].starts_with("net:["),
        "{a:?}"
    );
    assert_ne!(a[0], b[0], "two sandboxes shared a mount namespace");
    assert_ne!(a[1], b[1], "two sandboxes shared a network namespace");
}

#[test]
fn a_bind_source_replaced_on_the_host_is_not_served_from_a_spare() {
    let _one = serial();
    let scratch = common::ScratchDir::new("spare-source");
    let dir = scratch.path();
    std::fs::create_dir_all(dir.join("data")).unwrap();
    // Readable by the sandbox's user whoever runs the test.
    std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let input = dir.join("input");
    std::fs::write(&input, "old\n").unwrap();
    std::fs::write(dir.join("data/version"), "old\n").unwrap();
    let cat = || {
        let mut c = common::command("/bin/cat");
        c.args(["/input", "/data/version"])
            .mount_ro(&input, "/input")
            .mount_ro(dir.join("data"), "/data");
        c
    };
    assert_eq!(stdout(&run(cat()).0), "old\nold\n");
    std::thread::sleep(LET_THE_SPARE_BE_MADE);
    // The spare now shows the old file and directory; the host replaces both (new inodes
    // under the same names, as an atomic save does).
    std::fs::write(dir.join("input.new"), "new\n").unwrap();
    std::fs::rename(dir.join("input.new"), &input).unwrap();
    std::fs::create_dir_all(dir.join("data.new")).unwrap();
    std::fs::write(dir.join("data.new/version"), "new\n").unwrap();
    std::fs::rename(dir.join("data"), dir.join("data.old")).unwrap();
    std::fs::rename(dir.join("data.new"), dir.join("data")).unwrap();
    let (out, made_ahead) = run(cat());
    assert_eq!(stdout(&out), "new\nnew\n");
    assert!(!made_ahead, "a spare showing replaced sources was used");
    // Unchanged sources: the spare made for them serves the next request.
    std::thread::sleep(LET_THE_SPARE_BE_MADE);
    let (out, made_ahead) = run(cat());
    assert_eq!(stdout(&out), "new\nnew\n");
    assert!(made_ahead, "the spare was not used for unchanged sources");
}

/// Prints the five capability sets of the shell and the securebits (`setpriv -d`).
const LIMITS_SCRIPT: &str =
    "grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb):' /proc/self/status; setpriv -d | grep -i securebits";

/// The sandbox-wide capability limits, which a spare's init sets ahead of its request (a fresh
/// init leaves them to the sandboxee): a program a spare serves has empty capability sets,
/// bounding and ambient included, and securebits locked as every sandbox has them.
#[test]
fn a_program_a_spare_serves_has_no_capability_and_locked_securebits() {
    let _one = serial();
    let limits = || {
        let mut c = common::command("/bin/sh");
        c.args(["-c", LIMITS_SCRIPT]);
        c
    };
    let (fresh, _) = run(limits());
    std::thread::sleep(LET_THE_SPARE_BE_MADE);
    let (served, made_ahead) = run(limits());
    assert!(made_ahead, "the sandbox was not served by a spare");
    for out in [&fresh, &served] {
        let text = stdout(out);
        let sets: Vec<&str> = text.lines().filter(|l| l.starts_with("Cap")).collect();
        assert_eq!(sets.len(), 5, "{text}");
        for line in sets {
            assert!(line.ends_with("\t0000000000000000"), "{text}");
        }
        let bits = text
            .lines()
            .find(|l| l.starts_with("Securebits:"))
            .unwrap_or("");
        for bit in [
            "noroot",
            "noroot_locked",
            "no_setuid_fixup",
            "no_setuid_fixup_locked",
            "keep_caps_locked",
        ] {
            assert!(
                bits.split([' ', ',']).any(|b| b == bit),
                "{bit} missing: {text}"
            );
        }
    }
}

#[test]
fn a_sandbox_from_a_spare_leaves_no_copy_of_its_pipes_behind() {
    let _one = serial();
    // `head -c1` runs until it has read a byte, so the second sandbox is still running (and
    // the server still watching its end) when the server's descriptors are looked at. Before,
    // the sandbox prints its mount namespace (which the host's user, unprivileged, may not read
    // off init, a non-dumpable process).
    let spawn = || {
        let mut c = common::command("/bin/sh");
        c.args(["-c", "readlink /proc/self/ns/mnt; exec head -c1 >/dev/null"])
            .stdin(Stdio::Piped)
            .stdout(Stdio::Piped);
        let at = common::uptime();
        let mut child = c.spawn().expect("spawn");
        let made_ahead = common::age_at(child.id(), at) > 0.1;
        let mut mounts = String::new();
        let out = child.stdout.take().unwrap();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(out), &mut mounts).unwrap();
        (child, made_ahead, mounts.trim().to_string())
    };
    let (mut first, _, _) = spawn();
    drop(first.stdin.take());
    assert_eq!(first.wait().status, Status::Exited(0));
    std::thread::sleep(LET_THE_SPARE_BE_MADE);
    let (mut child, made_ahead, its_mounts) = spawn();
    // The server closes the request's descriptors before it replies: right after the spawn it
    // holds its channel to the host and, of this sandbox, the pidfd it watches its end with,
    // its mount namespace (see the next assertion) and the channel it handed the request to
    // the spare on (whose other end the spare closed once it had read the request), besides
    // the network namespaces of its maker: no pipe, file or report socket of this sandbox.
    let held = common::fd_links(server());
    let nets = common::server_network_namespaces(server(), &held);
    let channels = held
        .iter()
        .filter(|l| common::is_unix_stream_socket(server(), l))
        .count();
    let pidfds = held.iter().filter(|l| common::is_pidfd(l)).count();
    let mounts: Vec<&String> = held
        .iter()
        .filter(|l| common::is_mount_namespace(l))
        .collect();
    assert!(
        nets.is_some_and(|nets| held.len() == 4 + nets)
            && channels == 2
            && pidfds == 1
            && mounts.len() == 1,
        "the server holds {held:?}"
    );
    // The server keeps the sandbox's mounts alive from before the sandbox starts until it has
    // ended, so that init's exit does not tear them down (see `spawn::watch`).
    assert_eq!(*mounts[0], its_mounts);
    assert!(made_ahead, "the sandbox was not served by a spare");
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(b"y")
        .expect("the running sandbox reads its stdin");
    assert_eq!(child.wait().status, Status::Exited(0));
    // The sandbox has ended: nobody may hold its end of stdin any more (not the server, which
    // passed it on, nor the next spare it makes), so a write fails at once.
    let err = stdin
        .write_all(b"x")
        .expect_err("a write to an ended sandbox's stdin succeeded");
    assert_eq!(err.kind(), std::io::ErrorKind::BrokenPipe);
    // Once it has ended, the server lets its mount namespace go. What it holds then is the
    // next spare's (made once the server has been idle for a moment), which it took when it
    // cloned that spare: the spare's pidfd and mount namespace, and nothing else of the kind.
    std::thread::sleep(LET_THE_SPARE_BE_MADE);
    let held = common::fd_links(server());
    let spares: Vec<String> = spares_besides(&[])
        .iter()
        .map(|pid| common::mount_namespace_of(pid.parse().unwrap()))
        .collect();
    let pidfds = held.iter().filter(|l| common::is_pidfd(l)).count();
    let mounts: Vec<String> = held
        .iter()
        .filter(|l| common::is_mount_namespace(l))
        .cloned()
        .collect();
    assert!(
        spares.len() == 1 && mounts == spares && pidfds == 1,
        "the server holds {held:?}; the spares' mount namespaces are {spares:?}"
    );
}

/// `mount(2)` with C strings; panics with the errno on failure.
fn mount(src: Option<&str>, dst: &std::path::Path, fstype: Option<&str>, flags: libc::c_ulong) {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let c = |s: &str| CString::new(s).unwrap();
    let (src, fstype) = (src.map(c), fstype.map(c));
    let dst = CString::new(dst.as_os_str().as_bytes()).unwrap();
    let ptr = |o: &Option<CString>| o.as_ref().map_or(std::ptr::null(), |c| c.as_ptr());
    // SAFETY: every pointer is null or a live NUL-terminated string.
    let r = unsafe {
        libc::mount(
            ptr(&src),
            dst.as_ptr(),
            ptr(&fstype),
            flags,
            std::ptr::null(),
        )
    };
    assert_eq!(r, 0, "mount: {}", std::io::Error::last_os_error());
}

#[test]
fn a_bind_source_remounted_read_only_is_not_served_writable_from_a_spare() {
    let _one = serial();
    let scratch = common::ScratchDir::new("spare-ro");
    let dir = scratch.path();
    std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    // SAFETY: no arguments.
    let root = unsafe { libc::geteuid() } == 0;
    // A mount of its own, so that it can be remounted read-only below; dropped before
    // `scratch`, so a failing assertion leaves no mount behind either.
    let _mounted = root.then(|| Tmpfs::mount(dir));
    if root {
        std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    } else {
        eprintln!(
            "not root: no mount of its own to remount read-only; checking only that a \
             writable bind is served by a spare while its source is unchanged"
        );
    }
    let write = || {
        let mut c = common::command("/bin/sh");
        c.args(["-c", "echo x > /data/x"]).mount_rw(dir, "/data");
        c.stdout(Stdio::Piped).stderr(Stdio::Piped);
        let at = common::uptime();
        let child = c.spawn().expect("spawn");
        let made_ahead = common::age_at(child.id(), at) > 0.1;
        (child.wait_with_output(), made_ahead)
    };
    assert_eq!(write().0.outcome.status, Status::Exited(0));
    std::thread::sleep(LET_THE_SPARE_BE_MADE);
    if root {
        let flags = libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY;
        mount(None, dir, None, flags);
        let (out, made_ahead) = write();
        assert!(
            !made_ahead,
            "a spare made before the remount served the request"
        );
        assert_ne!(
            out.outcome.status,
            Status::Exited(0),
            "wrote to a read-only source"
        );
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("Read-only"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    } else {
        let (out, made_ahead) = write();
        assert_eq!(out.outcome.status, Status::Exited(0));
        assert!(made_ahead, "the spare was not used for an unchanged source");
    }
}

/// A tmpfs mounted over a directory for one test, detached again on drop (also when the test
/// fails), so that the host's mount table is left as it was.
struct Tmpfs(std::ffi::CString);

impl Tmpfs {
    fn mount(dir: &std::path::Path) -> Tmpfs {
        mount(Some("tmpfs"), dir, Some("tmpfs"), 0);
        let path = std::os::unix::ffi::OsStrExt::as_bytes(dir.as_os_str());
        Tmpfs(std::ffi::CString::new(path).unwrap())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let flags = libc::MNT_DETACH | libc::UMOUNT_NOFOLLOW;
        // SAFETY: a live NUL-terminated path.
        if unsafe { libc::umount2(self.0.as_ptr(), flags) } != 0 {
            eprintln!(
                "could not detach the test tmpfs at {:?}: {}",
                self.0,
                std::io::Error::last_os_error()
            );
        }
    }
}

/// This process's children that are neither the fork server nor one of `known`: the spares.
fn spares_besides(known: &[u32]) -> Vec<String> {
    let mut known: Vec<String> = known.iter().map(u32::to_string).collect();
    known.push(server().to_string());
    common::children()
        .into_iter()
        .filter(|pid| !known.contains(pid))
        .collect()
}

#[test]
fn the_spare_is_made_once_the_sandbox_before_ends_or_after_it_ran_a_second() {
    let _one = serial();
    // Long after the last test's sandboxes: this request does not come back to back.
    std::thread::sleep(LET_THE_SPARE_BE_MADE);
    let mut running = common::command("/bin/cat");
    running.stdin(Stdio::Piped).stdout(Stdio::Null);
    let mut child = running.spawn().expect("spawn");
    // Well past the server's idle wait and a spare's set-up: a spare made beside a short run
    // would be there by now.
    std::thread::sleep(LET_THE_SPARE_BE_MADE);
    let spares = spares_besides(&[child.id()]);
    assert!(
        spares.is_empty(),
        "a spare was made beside a sandbox running for {LET_THE_SPARE_BE_MADE:?}: {spares:?}"
    );
    // A run past a second gets its spare beside it.
    std::thread::sleep(Duration::from_secs(1));
    let spares = spares_besides(&[child.id()]);
    assert_eq!(spares.len(), 1, "no spare beside a long run: {spares:?}");
    drop(child.stdin.take());
    assert_eq!(child.wait().status, Status::Exited(0));
    // That spare serves the next sandbox like it (`cat` reading an empty standard input).
    let (_, made_ahead) = run(common::command("/bin/cat"));
    assert!(
        made_ahead,
        "the spare made beside the long run was not used"
    );
}

#[test]
fn asked_for_the_same_sandbox_back_to_back_the_server_makes_the_next_beside_the_run() {
    let _one = serial();
    std::thread::sleep(LET_THE_SPARE_BE_MADE);
    let cat = |stdin| {
        let mut c = common::command("/bin/cat");
        c.stdin(stdin).stdout(Stdio::Null);
        c
    };
    // A request that comes while the sandbox before still runs comes back to back, however
    // slow the machine.
    let first = cat(Stdio::Piped).spawn().expect("spawn");
    let spares = spares_beside_a_run(cat(Stdio::Piped), first);
    assert_eq!(
        spares.len(),
        1,
        "no spare beside a back-to-back run: {spares:?}"
    );
    let (_, made_ahead) = run(cat(Stdio::Null));
    assert!(made_ahead, "the spare made beside the run was not used");
    // Another configuration back to back gets no spare made beside its run: it could not
    // serve a request for the one before.
    let first = cat(Stdio::Piped).spawn().expect("spawn");
    let mut other = cat(Stdio::Piped);
    other.hostname("other");
    let spares = spares_beside_a_run(other, first);
    assert!(
        spares.is_empty(),
        "a spare was made beside a run of another configuration: {spares:?}"
    );
}

/// Spawns `cmd` while `before` runs (both programs that run until their piped stdin closes),
/// lets time for a spare pass, and returns the spares there are then; ends both.
fn spares_beside_a_run(mut cmd: SandboxCommand, before: SandboxChild) -> Vec<String> {
    let mut runs = [before, cmd.spawn().expect("spawn")];
    std::thread::sleep(LET_THE_SPARE_BE_MADE);
    let spares = spares_besides(&runs.each_ref().map(SandboxChild::id));
    for run in &mut runs {
        drop(run.stdin.take());
        assert_eq!(run.wait().status, Status::Exited(0));
    }
    spares
}

/// This process's children (over all its threads) that are zombies.
fn zombie_children() -> Vec<String> {
    common::children()
        .into_iter()
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|s| {
                    let after = s[s.rfind(')')? + 2..].to_string();
                    after.split_whitespace().next().map(|st| st == "Z")
                })
                .unwrap_or(false)
        })
        .collect()
}

#[test]
fn spares_the_server_lets_go_are_reaped() {
    let _one = serial();
    // Each request has another configuration than the spare made for the one before, so
    // every spare is let go.
    for i in 0..6 {
        let mut c = common::command("/bin/true");
        c.hostname(if i % 2 == 0 { "even" } else { "odd" });
        let (_, made_ahead) = run(c);
        assert!(
            !made_ahead,
            "request {i} was served by a spare of another configuration"
        );
        std::thread::sleep(LET_THE_SPARE_BE_MADE);
    }
    // Each spare let go was ended and reaped when its request's reply came.
    let zombies = zombie_children();
    assert!(zombies.is_empty(), "zombie children: {zombies:?}");
}

/// A configuration whose set-up fails (here a bind source that does not exist) fails in its
/// spare too: that spare waits, as a ready one does, until the next request lets it go, rather
/// than ending at once and staying a zombie child of the host until then.
#[test]
fn a_spare_whose_set_up_failed_is_no_zombie_while_it_waits() {
    let _one = serial();
    for _ in 0..3 {
        let out = common::command("/bin/true")
            .mount_ro("/nonexistent-spare-source", "/data")
            .output()
            .unwrap();
        assert!(
            matches!(out.outcome.status, Status::SetupError(_)),
            "{}",
            out.outcome
        );
        std::thread::sleep(LET_THE_SPARE_BE_MADE);
        let zombies = zombie_children();
        assert!(zombies.is_empty(), "zombie children: {zombies:?}");
        // The failed spare is there, waiting: the check above was not of a spare never made.
        let server = server().to_string();
        let waiting: Vec<String> = common::children()
            .into_iter()
            .filter(|p| *p != server)
            .collect();
        assert!(!waiting.is_empty(), "no spare was made");
    }
}

/// A spare starts the program as soon as it has the request, unless the host must first move
/// it into a cgroup (a memory or pids limit): then it waits for the host, so that the program
/// is never outside its cgroup.
#[test]
fn a_spare_starts_the_program_only_once_it_is_in_its_cgroup() {
    let _one = serial();
    // The program's cgroups, one line per hierarchy (v1 controllers, the unified one).
    let cgroup_of_program = || {
        let mut c = common::command("/bin/cat");
        c.arg("/proc/self/cgroup");
        c
    };
    // No limit: the program is in the cgroups its namespace was made in.
    let (out, _) = run(cgroup_of_program());
    let unlimited = stdout(&out);
    std::thread::sleep(LET_THE_SPARE_BE_MADE);
    let mut limited = cgroup_of_program();
    limited.limits(Limits {
        memory: Some(256 << 20),
        ..Limits::default()
    });
    let (out, made_ahead) = run(limited);
    assert!(made_ahead, "the sandbox was not served by a spare");
    let memory = out
        .outcome
        .enforced_limits
        .iter()
        .find(|e| e.limit == "memory")
        .expect("memory limit recorded");
    match memory.by {
        // The memory controller's line (v1) or the unified one (v2) names the sandbox's.
        Enforcement::Cgroup => assert_ne!(stdout(&out), unlimited, "{}", out.outcome),
        // Without a cgroup of its own (no delegation here), the rlimit stands in.
        _ => assert_eq!(stdout(&out), unlimited),
    }
}
