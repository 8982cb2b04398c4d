//! Helpers shared by the integration tests: compiled policies and a command with the host's
//! program directories bound read-only.

#![allow(dead_code)]

use sandbox_policy::{compile_text, NoIncludes};
use sandbox_runtime::{Policy, SandboxCommand, SandboxOutput, Status};

/// Asserts that the program exited with 0, showing its standard error if not.
#[track_caller]
pub fn assert_exited_0(out: &SandboxOutput) {
    assert_eq!(
        out.outcome.status,
        Status::Exited(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A pipe, read end first, both ends close-on-exec (what `std::io::pipe` gives from Rust 1.87,
/// above this workspace's `rust-version`).
pub fn pipe() -> (std::fs::File, std::fs::File) {
    use std::os::fd::FromRawFd;
    let mut ends = [0; 2];
    // SAFETY: pipe2 writes two descriptors to a live array of two.
    let r = unsafe { libc::pipe2(ends.as_mut_ptr(), libc::O_CLOEXEC) };
    assert_eq!(r, 0, "pipe2: {}", std::io::Error::last_os_error());
    // SAFETY: both descriptors are fresh and owned by nothing else.
    unsafe {
        (
            std::fs::File::from_raw_fd(ends[0]),
            std::fs::File::from_raw_fd(ends[1]),
        )
    }
}

mod launch;
mod rerun;
#[path = "../scratch/mod.rs"]
mod scratch;
#[allow(unused_imports)] // not every test binary starts sandboxes each way
pub use launch::{output_by, Way};
#[allow(unused_imports)] // not every test binary re-runs itself
pub use rerun::{
    rerun_in_a_user_namespace, rerun_with, try_rerun_in_a_user_namespace,
    user_namespace_of_this_rerun, UserNamespace,
};
#[allow(unused_imports)] // not every test binary makes scratch directories
pub use scratch::ScratchDir;

/// A compiled policy that allows everything except the listed syscalls, each killed by its own
/// rule (`kill NAME`, tag = index + 1). The numbers document the x86-64 call the tests make;
/// the compiler looks the names up itself.
pub fn kill_only(syscalls: &[(&'static str, u32)]) -> Policy {
    let mut text = String::from("default allow;\n");
    for (name, _) in syscalls {
        text.push_str(&format!("kill {name};\n"));
    }
    compiled(&text)
}

/// `text` compiled; a policy that does not compile fails the test with its errors.
pub fn compiled(text: &str) -> Policy {
    let c = compile_text("test.policy", None, text, &mut NoIncludes);
    match c.result {
        Ok(compiled) => compiled.policy,
        Err(_) => panic!("{}", c.render_errors()),
    }
}

/// Allows everything (foreign architectures and x32 numbers are still killed).
pub fn permissive() -> Policy {
    kill_only(&[])
}

/// A command for `program` with /bin, /usr, /lib, /lib64 (and /etc/alternatives when present)
/// bound read-only.
pub fn command(program: &str) -> SandboxCommand {
    let mut c = SandboxCommand::new(program);
    for d in ["/bin", "/usr", "/lib", "/lib64", "/sbin"] {
        if std::path::Path::new(d).exists() {
            c.mount_ro(d, d);
        }
    }
    c
}

/// Every child of this process, over all its threads (pids as text).
pub fn children() -> Vec<String> {
    let mut out = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap() {
        let path = task.unwrap().path().join("children");
        let text = std::fs::read_to_string(path).unwrap_or_default();
        out.extend(text.split_whitespace().map(str::to_string));
    }
    out
}

/// [`children`] once none is left, or as they are after five seconds: a sandbox's init may
/// still be exiting when its outcome comes, and is reaped on a thread of the runtime then.
pub fn children_once_reaped() -> Vec<String> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let left = children();
        if left.is_empty() || std::time::Instant::now() > deadline {
            return left;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// Whether a process `pid` exists (running or a zombie).
pub fn process_exists(pid: impl std::fmt::Display) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// The descriptors process `pid` holds, as their `/proc/PID/fd` links (`socket:[123]`,
/// `pipe:[456]`, paths).
pub fn fd_links(pid: u32) -> Vec<String> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .map(|e| std::fs::read_link(e.unwrap().path()).unwrap_or_default())
        .map(|l| l.to_string_lossy().into_owned())
        .collect()
}

/// Whether `link` (from [`fd_links`]) is a pidfd.
pub fn is_pidfd(link: &str) -> bool {
    link == "anon_inode:[pidfd]"
}

/// Whether `link` (from [`fd_links`]) is a reference to a mount namespace.
pub fn is_mount_namespace(link: &str) -> bool {
    link.starts_with("mnt:[")
}

/// The mount namespace of process `pid`, as a [`fd_links`] link to it reads.
pub fn mount_namespace_of(pid: u32) -> String {
    let link = std::fs::read_link(format!("/proc/{pid}/ns/mnt")).unwrap();
    link.to_string_lossy().into_owned()
}

/// Whether `link` (from [`fd_links`] of process `pid`) is a unix stream socket: the fork
/// server's channels are, while a sandbox's report socket is a seqpacket one and its streams
/// are pipes or files.
pub fn is_unix_stream_socket(pid: u32, link: &str) -> bool {
    let Some(inode) = link
        .strip_prefix("socket:[")
        .and_then(|s| s.strip_suffix(']'))
    else {
        return false;
    };
    // Columns: Num RefCount Protocol Flags Type St Inode [Path]; type 0001 is SOCK_STREAM.
    // The table of the process's own network namespace.
    let table = std::fs::read_to_string(format!("/proc/{pid}/net/unix")).unwrap_or_default();
    table.lines().skip(1).any(|l| {
        let cols: Vec<&str> = l.split_whitespace().collect();
        cols.len() >= 7 && cols[4] == "0001" && cols[6] == inode
    })
}

/// The processes (pids) with `arg` among their arguments, as a whole argument.
pub fn processes_with_argument(arg: &str) -> Vec<libc::pid_t> {
    let dir = std::fs::read_dir("/proc").unwrap().flatten();
    dir.filter(|e| {
        std::fs::read(e.path().join("cmdline"))
            .is_ok_and(|c| c.split(|b| *b == 0).any(|a| a == arg.as_bytes()))
    })
    .filter_map(|e| e.file_name().to_str()?.parse().ok())
    .collect()
}

/// A python snippet calling `execveat(AT_FDCWD, "/bin/true", NULL, NULL, 0, <runtime magic>)`
/// and printing its result: what a program tries to pass the runtime's exec check with.
pub fn magic_exec_snippet() -> String {
    format!(
        "import ctypes; l = ctypes.CDLL(None); l.syscall.restype = ctypes.c_long; \
         print(l.syscall(322, -100, b'/bin/true', None, None, 0, ctypes.c_ulong({:#x})))",
        sandbox_policy::RUNTIME_EXEC_MAGIC
    )
}

/// A shell command that prints, as the sandbox's program sees them, the system's uptime, init's
/// start (in clock ticks since boot, field 22 of its stat) and the clock ticks per second, for
/// [`seconds_since_init_started`].
pub const INIT_START_SNIPPET: &str =
    "echo $(cut -d' ' -f1 /proc/uptime) $(cut -d' ' -f22 /proc/1/stat) $(getconf CLK_TCK)";

/// How long after init's start the program printed `line`, the output of
/// [`INIT_START_SNIPPET`], in seconds.
pub fn seconds_since_init_started(line: &str) -> f64 {
    let t: Vec<f64> = line
        .split_whitespace()
        .map(|v| v.parse().unwrap())
        .collect();
    t[0] - t[1] / t[2]
}

/// How many mounts of `mountinfo` (a `/proc/PID/mountinfo`) are at `point` (its field 5).
pub fn mounts_at(mountinfo: &str, point: &str) -> usize {
    mountinfo
        .lines()
        .filter(|l| l.split(' ').nth(4) == Some(point))
        .count()
}

/// Seconds since boot, as `/proc/uptime` gives them.
pub fn uptime() -> f64 {
    let text = std::fs::read_to_string("/proc/uptime").unwrap();
    text.split_whitespace().next().unwrap().parse().unwrap()
}

/// How long before `spawned_at` (seconds since boot) process `pid` started.
pub fn age_at(pid: u32, spawned_at: f64) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name (which may hold spaces) start at state, field 3.
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let ticks: f64 = after.split_whitespace().nth(19).unwrap().parse().unwrap();
    // SAFETY: sysconf with a constant name.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    spawned_at - ticks / hz
}

/// How many of `fds`, the links of fork server `server`'s descriptors, are network namespaces,
/// if those are what its maker holds (as root, once a sandbox asked for one): its own namespace,
/// to come back to, and at most one made ahead. `None` if there are others.
pub fn server_network_namespaces(server: u32, fds: &[String]) -> Option<usize> {
    let own = std::fs::read_link(format!("/proc/{server}/ns/net")).unwrap();
    let own = own.to_string_lossy();
    let nets = fds.iter().filter(|l| l.starts_with("net:[")).count();
    let owns = fds.iter().filter(|l| **l == own).count();
    (owns <= 1 && nets <= owns + 1).then_some(nets)
}
