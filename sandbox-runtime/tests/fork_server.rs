//! Sandboxes cloned by the fork server: the same outcomes as the direct clone, and none of the
//! host's memory in them. Every test starts the server (only the first call starts it).

mod common;

use sandbox_runtime::{start_fork_server, Limits, Status, Stdio, TimeLimit};
use std::io::Write;

fn server() -> u32 {
    start_fork_server().expect("the fork server starts")
}

/// `VmRSS` of `pid` in KiB.
fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn every_kind_of_outcome_comes_back() {
    server();
    let run = |args: &[&str]| {
        common::command("/bin/sh")
            .args(["-c"])
            .args(args)
            .policy(&common::kill_only(&[("socket", 41)]))
            .output()
            .unwrap()
    };
    assert_eq!(run(&["exit 3"]).outcome.status, Status::Exited(3));
    assert_eq!(
        run(&["kill -TERM $$"]).outcome.status,
        Status::Signaled(libc::SIGTERM)
    );
    let out = common::command("/usr/bin/python3")
        .args(["-S", "-c", "import socket; socket.socket()"])
        .policy(&common::kill_only(&[("socket", 41)]))
        .output()
        .unwrap();
    match &out.outcome.status {
        Status::Violation(v) => assert_eq!(v.syscall, "socket"),
        other => panic!("expected a violation, got {other:?}"),
    }
    let missing = common::command("/bin/no-such-program").output().unwrap();
    match &missing.outcome.status {
        Status::SetupError(e) => assert!(e.to_string().contains("/bin/no-such-program"), "{e}"),
        other => panic!("expected a setup error, got {other:?}"),
    }
    let timed = common::command("/bin/sleep")
        .arg("10")
        .limits(Limits {
            wall_time: Some(std::time::Duration::from_millis(200)),
            ..Limits::default()
        })
        .output()
        .unwrap();
    assert_eq!(timed.outcome.status, Status::Timeout(TimeLimit::Wall));
}

/// More descriptors than the kernel passes in one message (`SCM_MAX_FD`, 253) all arrive in
/// place through the server, and the server serves on.
#[test]
fn more_passed_descriptors_than_one_message_carries_arrive() {
    let pid = server();
    const COUNT: i32 = 260;
    let mut cmd = common::command("/bin/sh");
    cmd.args(["-c", "ls /proc/self/fd | wc -l"])
        .stdout(Stdio::Piped);
    for target in 10..10 + COUNT {
        let (r, _w) = common::pipe();
        cmd.pass_fd(r.into(), target);
    }
    let out = cmd.output().unwrap();
    assert_eq!(out.outcome.status, Status::Exited(0));
    // ls's 0, 1, 2 and its directory at 3, and every passed descriptor.
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        (4 + COUNT).to_string()
    );
    assert_eq!(
        start_fork_server().ok(),
        Some(pid),
        "the server was given up"
    );
}

#[test]
fn streams_and_passed_descriptors_arrive() {
    server();
    let (r, mut w) = common::pipe();
    w.write_all(b"through fd 5\n").unwrap();
    drop(w);
    let mut child = common::command("/bin/sh")
        .args(["-c", "cat; cat <&5; ls /proc/self/fd"])
        .stdin(Stdio::Piped)
        .stdout(Stdio::Piped)
        .pass_fd(r.into(), 5)
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"stdin\n").unwrap();
    let out = child.wait_with_output();
    assert_eq!(out.outcome.status, Status::Exited(0));
    // ls has its directory open at 3; nothing of the host or of the server is there.
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "stdin\nthrough fd 5\n0\n1\n2\n3\n5\n"
    );
}

#[test]
fn an_inherited_stream_is_the_hosts_own() {
    server();
    // SAFETY: stat is plain old data; fstat fills it.
    let host = unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        assert_eq!(libc::fstat(2, &mut st), 0);
        st
    };
    let out = common::command("/usr/bin/stat")
        .args(["-L", "-c", "%d:%i", "/proc/self/fd/2"])
        .stdout(Stdio::Piped)
        .stderr(Stdio::Inherit)
        .spawn()
        .unwrap()
        .wait_with_output();
    assert_eq!(out.outcome.status, Status::Exited(0));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("{}:{}", host.st_dev, host.st_ino)
    );
}

#[test]
fn init_is_the_hosts_child_and_the_server_holds_nothing() {
    let server_pid = server();
    let mut child = common::command("/bin/sleep")
        .arg("5")
        .stdout(Stdio::Null)
        .spawn()
        .unwrap();
    let init = child.id();
    let status = std::fs::read_to_string(format!("/proc/{init}/status")).unwrap();
    let ppid = status.lines().find(|l| l.starts_with("PPid:")).unwrap();
    assert_eq!(
        ppid.split_whitespace().nth(1),
        Some(&*std::process::id().to_string())
    );
    // Between requests (other tests spawn through it at the same time) the server keeps only
    // its channel to the host, when it has made the next sandbox ahead its channel to that
    // spare, and for each sandbox it launched that still runs, that sandbox's pidfd, mount
    // namespace and (if a spare served it) the channel to that spare; and, once a sandbox asked
    // for a network namespace of its own, its own network namespace and at most one made ahead
    // (as root): no stream, pipe or file of any sandbox.
    let open_fds = || common::fd_links(server_pid);
    let only_channels = |fds: &[String]| {
        let pidfds = fds.iter().filter(|l| common::is_pidfd(l)).count();
        let mounts = fds.iter().filter(|l| common::is_mount_namespace(l)).count();
        let channels = fds
            .iter()
            .filter(|l| common::is_unix_stream_socket(server_pid, l))
            .count();
        let nets = common::server_network_namespaces(server_pid, fds);
        (1..=2).contains(&channels)
            && mounts <= pidfds
            && nets.is_some_and(|nets| channels + pidfds + mounts + nets == fds.len())
    };
    // Up to 10 s: the other tests of this binary keep the server busy meanwhile.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut fds = open_fds();
    while !only_channels(&fds) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(2));
        fds = open_fds();
    }
    assert!(only_channels(&fds), "{fds:?}");
    child.kill().unwrap();
    assert_eq!(child.wait().status, Status::Killed);
}

/// The mappings of `pid` in order: (start, end, permissions, resident KiB).
fn mappings(pid: u32) -> Vec<(u64, u64, String, u64)> {
    let smaps = std::fs::read_to_string(format!("/proc/{pid}/smaps")).unwrap();
    let mut out: Vec<(u64, u64, String, u64)> = Vec::new();
    for line in smaps.lines() {
        let mut words = line.split_whitespace();
        let first = words.next().unwrap_or("");
        if let Some((start, end)) = first.split_once('-') {
            if let (Ok(start), Ok(end)) =
                (u64::from_str_radix(start, 16), u64::from_str_radix(end, 16))
            {
                out.push((start, end, words.next().unwrap_or("").to_string(), 0));
                continue;
            }
        }
        if first == "Rss:" {
            if let Some(last) = out.last_mut() {
                last.3 = words.next().unwrap().parse().unwrap();
            }
        }
    }
    out
}

#[test]
fn the_server_never_touches_the_stack_its_sandboxees_run_on() {
    let server_pid = server();
    for _ in 0..3 {
        let outcome = common::command("/bin/true").status().unwrap();
        assert_eq!(outcome.status, Status::Exited(0), "{outcome}");
    }
    // The server's one sandboxee stack: 256 KiB read-write right above its 64 KiB guard. Each
    // init runs its sandboxee on its own copy, which starts as the server's: untouched.
    let maps = mappings(server_pid);
    let stacks: Vec<_> = maps
        .windows(2)
        .filter(|w| {
            let (guard, stack) = (&w[0], &w[1]);
            guard.2.starts_with("---p")
                && guard.1 - guard.0 == 64 << 10
                && stack.0 == guard.1
                && stack.2.starts_with("rw-p")
                && stack.1 - stack.0 == 256 << 10
        })
        .map(|w| w[1].clone())
        .collect();
    assert_eq!(
        stacks.len(),
        1,
        "one sandboxee stack in the server: {maps:?}"
    );
    assert_eq!(stacks[0].3, 0, "the server wrote to its sandboxee stack");
}

#[test]
fn the_host_memory_is_in_neither_the_sandbox_nor_its_peak() {
    let server_pid = server();
    // The host grows after the server started: 256 MiB, every page touched.
    let ballast = vec![1u8; 256 << 20];
    let ballast = std::hint::black_box(ballast);
    assert!(rss_kb(std::process::id()) > 256 << 10);
    assert!(
        rss_kb(server_pid) < 64 << 10,
        "server {} KiB",
        rss_kb(server_pid)
    );
    let mut child = common::command("/bin/cat")
        .stdin(Stdio::Piped)
        .stdout(Stdio::Null)
        .spawn()
        .unwrap();
    let init = child.id();
    assert!(rss_kb(init) < 64 << 10, "init {} KiB", rss_kb(init));
    drop(child.stdin.take());
    let outcome = child.wait();
    assert_eq!(outcome.status, Status::Exited(0));
    assert!(outcome.max_rss_kb < 64 << 10, "{outcome}");
    // Cloned directly, init is a copy of this process, and the program's exec happens in a
    // copy of that: the kernel's peak for the sandbox includes the host.
    let direct = common::command("/bin/true")
        .use_fork_server(false)
        .output()
        .unwrap()
        .outcome;
    assert_eq!(direct.status, Status::Exited(0));
    assert!(direct.max_rss_kb > 256 << 10, "{direct}");
    drop(ballast);
}

#[test]
fn sixteen_threads_spawn_at_once() {
    server();
    let threads: Vec<_> = (0..16)
        .map(|i| {
            std::thread::spawn(move || {
                common::command("/bin/echo")
                    .arg(i.to_string())
                    .output()
                    .unwrap()
            })
        })
        .collect();
    for (i, t) in threads.into_iter().enumerate() {
        let out = t.join().unwrap();
        assert_eq!(out.outcome.status, Status::Exited(0));
        assert_eq!(out.stdout, format!("{i}\n").as_bytes());
    }
}

/// A process the host forks after starting the server shares the server's channel; it must
/// clone its sandboxes itself and leave the channel to the host.
#[test]
fn a_forked_child_of_the_host_clones_directly() {
    let server_pid = server();
    let (mut r, mut w) = common::pipe();
    // SAFETY: the child only spawns one sandbox (allocating, which glibc's fork makes safe)
    // and leaves with _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        drop(r);
        // The server is the parent's: the child is told so rather than given its pid.
        let told = start_fork_server().is_err_and(|e| e.to_string().contains("forked from"));
        let ok = common::command("/bin/echo")
            .arg("child")
            .stdout(Stdio::Piped)
            .spawn()
            .map(|child| {
                let init = child.id();
                let out = child.wait_with_output();
                let _ = writeln!(w, "{init}");
                told && out.outcome.status == Status::Exited(0) && out.stdout == b"child\n"
            });
        // SAFETY: ends the forked child without running the test harness's exit handlers.
        unsafe { libc::_exit(if ok.unwrap_or(false) { 0 } else { 1 }) };
    }
    drop(w);
    let mut status = 0;
    // SAFETY: pid is our child; status is a live int.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "{status:#x}"
    );
    let mut init = String::new();
    std::io::Read::read_to_string(&mut r, &mut init).unwrap();
    // The child's sandbox was the child's own, not left to this process: an init the server
    // cloned would be this process's child (the server clones with CLONE_PARENT), which the
    // forked child could not reap. (The child's own init may still be exiting when the
    // outcome comes, and the child left at once: an orphan then, reaped by whoever reaps
    // orphans here, never this process.)
    assert!(
        !common::children().contains(&init.trim().to_string()),
        "init {} of the forked child's sandbox is left to this process",
        init.trim()
    );
    // The server still answers the host.
    let out = common::command("/bin/echo").arg("host").output().unwrap();
    assert_eq!(out.stdout, b"host\n");
    assert_eq!(start_fork_server().unwrap(), server_pid);
}

/// The namespace a `/proc/.../ns/net` link names (`net:[4026531840]`).
fn host_ns(path: &str) -> String {
    std::fs::read_link(path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .to_string_lossy()
        .into_owned()
}

#[test]
fn each_sandbox_gets_a_network_namespace_of_its_own() {
    use std::io::{BufRead, BufReader};
    let server_pid = server();
    let host = host_ns("/proc/self/ns/net");
    // Each sandbox names its own namespace from inside (the host may not read an
    // unprivileged sandbox's /proc entries), then stays up while the others start.
    let start = |share: bool| {
        let mut child = common::command("/bin/sh")
            .args(["-c", "readlink /proc/self/ns/net; exec sleep 5"])
            .share_network(share)
            .stdout(Stdio::Piped)
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        (child, line.trim().to_string())
    };
    let mut own: Vec<_> = (0..3).map(|_| start(false)).collect();
    let (mut shared, shared_ns) = start(true);
    for (i, (_, ns)) in own.iter().enumerate() {
        assert!(ns.starts_with("net:["), "{ns:?}");
        assert_ne!(*ns, host, "sandbox {i} is in the host's network namespace");
        assert!(
            !own[..i].iter().any(|(_, earlier)| earlier == ns),
            "sandboxes share a network namespace"
        );
    }
    assert_eq!(shared_ns, host);
    // The server stays in the host's (the next sandbox sharing the network must get it). It
    // enters a namespace made ahead for the one clone of a spare, which may be under way now:
    // it must be back within a second.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
    let server_ns = || host_ns(&format!("/proc/{server_pid}/ns/net"));
    while server_ns() != host && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    assert_eq!(server_ns(), host);
    for (c, _) in own.iter_mut() {
        c.kill().unwrap();
        assert_eq!(c.wait().status, Status::Killed);
    }
    shared.kill().unwrap();
    assert_eq!(shared.wait().status, Status::Killed);
}
