//! What the program can see of the host: nothing but what was bound.

mod common;

use sandbox_runtime::{Status, Stdio};
use std::time::Duration;

fn run(script: &str) -> String {
    let out = common::command("/bin/sh")
        .args(["-c", script])
        .policy(&common::permissive())
        .output()
        .unwrap();
    assert_eq!(
        out.outcome.status,
        Status::Exited(0),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn only_sandbox_pids_are_visible() {
    let pids: Vec<u32> = run("ls /proc")
        .split_whitespace()
        .filter_map(|s| s.parse().ok())
        .collect();
    // init (1), sh (2) and ls (3) at most.
    assert!(!pids.is_empty() && pids.iter().all(|p| *p <= 3), "{pids:?}");
}

#[test]
fn hostname_is_fixed() {
    let out = common::command("/bin/hostname")
        .hostname("box")
        .output()
        .unwrap();
    assert_eq!(out.stdout, b"box\n");
}

#[test]
fn only_lo_in_the_network_namespace() {
    let dev = run("cat /proc/net/dev");
    let ifaces: Vec<&str> = dev
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next())
        .map(str::trim)
        .collect();
    assert_eq!(ifaces, ["lo"]);
}

#[test]
fn uid_inside_is_1000_and_outside_not_root() {
    assert_eq!(run("id -u; id -g"), "1000\n1000\n");
    let mut child = common::command("/bin/sleep")
        .arg("5")
        .stdout(Stdio::Null)
        .policy(&common::permissive())
        .spawn()
        .unwrap();
    // The program is init's only child.
    let init = child.id();
    let mut sandboxee = None;
    for _ in 0..500 {
        let children =
            std::fs::read_to_string(format!("/proc/{init}/task/{init}/children")).unwrap();
        // Look only once it has exec'd `sleep`: before exec it is still the
        // runtime's own code, which holds its namespace's capabilities.
        if let Some(p) = children.split_whitespace().next() {
            let comm = std::fs::read_to_string(format!("/proc/{p}/comm")).unwrap_or_default();
            if comm == "sleep\n" {
                sandboxee = Some(p.to_string());
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let sandboxee = sandboxee.expect("the sandboxee appears and execs sleep");
    for pid in [init.to_string(), sandboxee] {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let uid_line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
        let uids: Vec<u32> = uid_line
            .split_whitespace()
            .skip(1)
            .map(|s| s.parse().unwrap())
            .collect();
        assert!(uids.iter().all(|u| *u != 0), "pid {pid}: {uid_line}");
        let caps = status.lines().find(|l| l.starts_with("CapEff:")).unwrap();
        if pid != init.to_string() {
            assert!(caps.ends_with("0000000000000000"), "{caps}");
        }
    }
    child.kill().unwrap();
    assert_eq!(child.wait().status, Status::Killed);
}

#[test]
fn root_is_read_only_and_host_files_absent() {
    let s = run("test ! -e /etc/passwd && ! touch /newfile 2>/dev/null && echo ok");
    assert_eq!(s, "ok\n");
}

#[test]
fn dropping_the_child_kills_everything() {
    let child = common::command("/bin/sh")
        .args(["-c", "sleep 30 & sleep 30"])
        .stdout(Stdio::Null)
        .spawn()
        .unwrap();
    let init = child.id();
    std::thread::sleep(Duration::from_millis(200));
    drop(child);
    assert!(!common::process_exists(init));
}

/// The program's end is the sandbox's end: what it left running (in the background, in a
/// session of its own, stopped) is gone by the time `wait` returns its outcome.
#[test]
fn nothing_the_program_started_outlives_its_outcome() {
    use std::io::{BufRead, Write};
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let digits = format!("{:09}{}", nanos, std::process::id());
    let tag = format!("999.{digits}");
    // The pattern is not the tag itself, or grep would count its own argument.
    let script = format!(
        "sleep {tag} & setsid sh -c 'sleep {tag} & kill -STOP $$' & \
         until [ \"$(cat /proc/[0-9]*/cmdline | tr '\\0' '\\n' | grep -cx '999[.]{digits}')\" = 2 ]; \
         do sleep 0.01; done; echo ready; read go; exit 0"
    );
    let mut child = common::command("/bin/sh")
        .args(["-c", &script])
        .stdin(Stdio::Piped)
        .stdout(Stdio::Piped)
        .policy(&common::permissive())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "ready\n");
    let left = common::processes_with_argument(&tag);
    assert_eq!(left.len(), 2, "the two sleeps run: {left:?}");
    writeln!(child.stdin.take().unwrap(), "go").unwrap();
    assert_eq!(child.wait().status, Status::Exited(0));
    let alive: Vec<libc::pid_t> = left
        .into_iter()
        .filter(|p| common::process_exists(p))
        .collect();
    assert!(alive.is_empty(), "still there after the outcome: {alive:?}");
}

/// The device nodes are read and written as devices, but the host's nodes themselves cannot be
/// changed from inside (their times, their mode); `/dev` is `nodev` itself.
#[test]
fn device_nodes_work_but_cannot_be_changed_and_dev_is_nodev() {
    let s = run("echo x > /dev/null && head -c 4 /dev/zero | wc -c && \
         if touch /dev/null 2>/dev/null; then echo touched; fi && \
         if chmod 600 /dev/null 2>/dev/null; then echo chmodded; fi && \
         grep ' /dev ' /proc/self/mountinfo");
    let mut lines = s.lines();
    assert_eq!(lines.next(), Some("4"), "{s}");
    let dev = lines.next().unwrap_or_default();
    assert!(!s.contains("touched") && !s.contains("chmodded"), "{s}");
    let options = dev.split_whitespace().nth(5).unwrap_or_default();
    for flag in ["ro", "nosuid", "nodev", "noexec"] {
        assert!(
            options.split(',').any(|o| o == flag),
            "{flag} missing: {dev}"
        );
    }
}
