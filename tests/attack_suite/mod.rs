//! The attack suite: hostile sandboxee programs (`src/bin/attacker.rs`), each run in a sandbox
//! with the exact outcome asserted. One test per attack; every run also checks afterwards that
//! no process of the sandbox survives on the host.
//!
//! Two test binaries run it: `attacks` (sandboxes cloned directly from the test process) and
//! `attacks_fork_server` (cloned by the fork server). Each defines `crate::prepare`, which
//! every test calls first.
//!
//! The tests run as root and as an unprivileged user. Where an attack needs root on the host to
//! be set up in full (a setuid-root file), the test asserts what it can and says why on stderr.

use sandbox_policy::bpf::{SockFilter, BPF_ABS, BPF_LD, BPF_MAXINSNS, BPF_W};
use sandbox_policy::eval::{self, SeccompData};
use sandbox_policy::host_guard::ForeignCalls;
use sandbox_policy::set_id;
use sandbox_policy::{compile_text, Action, Arch, NoIncludes, Tag, Verdict};
use sandbox_runtime::comms::{Comms, CommsError, COMMS_FD};
use sandbox_runtime::{
    Enforcement, Limits, Policy, SandboxCommand, SandboxOutput, SpawnError, Status, Stdio,
    SyscallMode, TimeLimit, Violation,
};
use std::collections::BTreeSet;
use std::ffi::CString;
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

#[path = "../../sandbox-runtime/tests/scratch/mod.rs"]
mod scratch;
#[path = "../../sandbox-runtime/tests/terminal/mod.rs"]
mod terminal;

/// The hostile program: `$SANDBOX_ATTACKER` when set (the unprivileged CI run copies the
/// binary somewhere its user can read), else the one cargo built.
fn attacker() -> &'static str {
    static PATH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PATH.get_or_init(|| {
        std::env::var("SANDBOX_ATTACKER").unwrap_or_else(|_| env!("CARGO_BIN_EXE_attacker").into())
    })
}

/// Before anything else in this process, the host handlers (so that a fork server, started by
/// `prepare`, is a copy of a host that has them too), then the binary's own preparation.
fn ready() {
    static HANDLERS: std::sync::Once = std::sync::Once::new();
    HANDLERS.call_once(|| {
        for sig in HOST_HANDLED {
            // SAFETY: installs a handler that only calls _exit; nothing sends these signals to
            // the test process.
            unsafe { libc::signal(sig, host_handler as *const () as libc::sighandler_t) };
        }
    });
    // Before the fork server starts (the next line, in the fork server's suite): it is cloned
    // from this thread, with this thread's session keyring.
    host_keyring();
    crate::prepare();
}

/// Tests that count host resources (descriptors, mounts, zombies) or time CPU take this lock
/// exclusively; every other test shares it.
static LOCK: RwLock<()> = RwLock::new(());

fn shared() -> RwLockReadGuard<'static, ()> {
    ready();
    LOCK.read().unwrap_or_else(|e| e.into_inner())
}

fn exclusive() -> RwLockWriteGuard<'static, ()> {
    ready();
    LOCK.write().unwrap_or_else(|e| e.into_inner())
}

fn unique(prefix: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

// ---------------------------------------------------------------------------------------------
// Policies

fn compile(text: &str) -> Policy {
    let c = compile_text("attack.policy", None, text, &mut NoIncludes);
    match c.result {
        Ok(compiled) => compiled.policy,
        Err(_) => panic!("policy does not compile:\n{}", c.render_errors()),
    }
}

/// Everything allowed (the namespaces alone must hold), foreign ABIs and x32 killed, clone3
/// answered ENOSYS: the prelude every compiled policy has.
fn allow_all() -> Policy {
    compile("default allow;")
}

/// Every built-in group, default kill.
const ALL_GROUPS: &str = "default kill;
use malloc, mmap_noexec, static_startup, dynamic_startup, dirs, epoll, eventfd, exit,
    files_read, files_write, futex, getids, getpids, pipes, poll, random, signals, sleep,
    stdio, tcgets, threads, time, unix_sockets;";

static SOCKET_POLICY: Policy = sandbox_runtime::policy! {
    default allow;
    kill socket;
};

/// The verdict of the native program of `policy` for one call.
fn verdict(policy: &Policy, arch: u32, nr: u32, args: [u64; 6]) -> u32 {
    let prog = policy.program(Arch::X86_64).expect("an x86-64 program");
    eval::run(&prog.filter, &SeccompData::new(arch, nr, args))
        .expect("the program runs")
        .ret
}

const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
const AUDIT_ARCH_I386: u32 = 0x4000_0003;
const RET_KILL_PROCESS: u32 = 0x8000_0000;
const RET_ERRNO: u32 = 0x0005_0000;
const RET_ALLOW: u32 = 0x7fff_0000;
const ACTION_MASK: u32 = 0xffff_0000;

// ---------------------------------------------------------------------------------------------
// Running the attacker

/// One run of the attacker: a sandbox command with the attacker, its libraries, a 16 MiB
/// tmpfs at /tmp and a 30 s wall-time safety net; tagged so survivors can be found.
struct Attack {
    cmd: SandboxCommand,
    tag: String,
}

impl Attack {
    fn new(attack: &str) -> Attack {
        Self::with_limits(attack, Limits::default())
    }

    fn with_limits(attack: &str, limits: Limits) -> Attack {
        ready();
        let tag = unique("tag:attack");
        let mut cmd = SandboxCommand::new(attacker());
        cmd.arg(attack).arg(&tag);
        bind_libraries(&mut cmd);
        cmd.mount_ro(attacker(), attacker());
        cmd.tmpfs("/tmp", 16 << 20);
        cmd.limits(Limits {
            wall_time: limits.wall_time.or(Some(Duration::from_secs(30))),
            ..limits
        });
        Attack { cmd, tag }
    }

    fn args<I, S>(mut self, args: I) -> Attack
    where
        I: IntoIterator<Item = S>,
        S: Into<std::ffi::OsString>,
    {
        self.cmd.args(args);
        self
    }

    fn policy(mut self, p: &Policy) -> Attack {
        self.cmd.policy(p);
        self
    }

    /// Under `p` if there is one, else without a policy.
    fn policy_if(self, p: Option<&Policy>) -> Attack {
        match p {
            Some(p) => self.policy(p),
            None => self,
        }
    }

    /// Binds the host's `src` writable at `dst`.
    fn mount_rw(mut self, src: impl AsRef<Path>, dst: &str) -> Attack {
        self.cmd.mount_rw(src, dst);
        self
    }

    fn with(mut self, f: impl FnOnce(&mut SandboxCommand)) -> Attack {
        f(&mut self.cmd);
        self
    }

    fn run(mut self) -> Report {
        let out = self.cmd.output().expect("the sandbox starts");
        assert_no_survivors(&self.tag);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        Report { out, stdout }
    }
}

/// The attacker is dynamically linked: bind what its loader needs, read-only.
fn bind_libraries(cmd: &mut SandboxCommand) {
    for d in ["/lib", "/lib64", "/usr/lib"] {
        if Path::new(d).exists() {
            cmd.mount_ro(d, d);
        }
    }
}

/// What one run printed and how it ended.
struct Report {
    out: SandboxOutput,
    stdout: String,
}

impl Report {
    fn status(&self) -> &Status {
        &self.out.outcome.status
    }

    /// The value of the first `key=value` line with this key.
    fn get(&self, key: &str) -> Option<&str> {
        self.stdout
            .lines()
            .filter_map(|l| l.split_once('='))
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v)
    }

    fn value(&self, key: &str) -> &str {
        self.get(key)
            .unwrap_or_else(|| panic!("no `{key}=` in the attacker's output\n{self}"))
    }

    fn expect_exit0(&self) {
        assert_eq!(self.status(), &Status::Exited(0), "{self}");
    }

    fn violation(&self) -> &Violation {
        match self.status() {
            Status::Violation(v) => v,
            _ => panic!("expected a violation\n{self}"),
        }
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "outcome: {}\nstdout:\n{}\nstderr:\n{}",
            self.out.outcome,
            self.stdout,
            String::from_utf8_lossy(&self.out.stderr)
        )
    }
}

/// Host processes with `tag` as one whole argument (not a prefix: `tag:attack-1-1` must not
/// match a concurrent test's `tag:attack-1-12`).
fn processes_with(tag: &str) -> Vec<(u32, String)> {
    let mut found = Vec::new();
    let dir = std::fs::read_dir("/proc").expect("read /proc");
    for e in dir.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) {
            if cmdline.split(|b| *b == 0).any(|arg| arg == tag.as_bytes()) {
                let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
                found.push((pid, text));
            }
        }
    }
    found
}

fn assert_no_survivors(tag: &str) {
    let left = processes_with(tag);
    assert!(left.is_empty(), "sandbox processes survived: {left:?}");
}

/// A host directory for one test, world-accessible (as root the sandbox runs as `nobody`),
/// removed at drop (the shared scratch directory, opened up).
struct TempDir(scratch::ScratchDir);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = scratch::ScratchDir::new(&format!("attack-{name}"));
        set_mode(dir.path(), 0o777);
        TempDir(dir)
    }

    fn path(&self) -> &Path {
        self.0.path()
    }

    fn file(&self, name: &str, contents: &str) -> PathBuf {
        let p = PathBuf::from(self.0.write(name, contents));
        set_mode(&p, 0o666);
        p
    }
}

fn set_mode(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

// ---------------------------------------------------------------------------------------------
// Syscall filter

#[test]
fn forbidden_socket_is_a_violation_with_name_and_args() {
    let _g = shared();
    let r = Attack::new("socket").policy(&SOCKET_POLICY).run();
    let v = r.violation();
    assert_eq!(v.syscall, "socket", "{r}");
    assert_eq!(v.nr, 41);
    assert_eq!(v.arch, "x86_64");
    assert_eq!(v.args[0], libc::AF_INET as u64);
    assert_eq!(v.args[1], libc::SOCK_STREAM as u64);
    assert_eq!(v.args[2], 0);
    assert!(v.decided_by.contains("socket"), "{}", v.decided_by);
    assert_eq!(r.get("socket"), None, "the call returned: {r}");
}

#[test]
fn i386_socket_through_int80_is_an_arch_violation() {
    let _g = shared();
    // The evaluator: any i386 call is killed before its number is looked at.
    let arch_kill = Verdict::new(Action::Kill, Tag::ARCH).ret_value();
    for nr in [359, 20, 102] {
        let ret = verdict(&allow_all(), AUDIT_ARCH_I386, nr, [2, 1, 0, 0, 0, 0]);
        assert_eq!(ret & ACTION_MASK, RET_KILL_PROCESS);
        assert_eq!(ret, arch_kill);
    }
    let r = Attack::new("i386-socket").policy(&allow_all()).run();
    let v = r.violation();
    assert_eq!(v.arch, "i386", "{r}");
    assert_eq!(v.nr, 359, "{r}");
    // Named from the i386 table, not the native one (where 359 is no socket call).
    assert_eq!(v.syscall, "socket", "{r}");
    assert_eq!(v.args[0], 2);
    assert_eq!(v.args[1], 1);
    // Killed even though the policy allows everything native.
    let r = Attack::new("i386-getpid").policy(&allow_all()).run();
    let v = r.violation();
    assert_eq!((v.arch.as_str(), v.nr), ("i386", 20), "{r}");
    assert_eq!(v.syscall, "getpid", "{r}");
}

#[test]
fn x32_syscall_is_killed_by_the_filter_and_in_the_kernel() {
    let _g = shared();
    let x32_getpid = 39 | 0x4000_0000;
    // The evaluator: x32 numbers are killed with the X32 tag under an allow-all policy and under
    // a deny-list that names getpid.
    let x32_kill = Verdict::new(Action::Kill, Tag::X32).ret_value();
    for text in ["default allow;", "default allow; kill getpid;"] {
        let p = compile(text);
        assert_eq!(
            verdict(&p, AUDIT_ARCH_X86_64, x32_getpid, [0; 6]),
            x32_kill,
            "{text}"
        );
        assert_eq!(
            verdict(&p, AUDIT_ARCH_X86_64, 0x4000_0000 | 500, [0; 6]),
            x32_kill
        );
    }
    // The kernel: whether or not it has the x32 ABI, the call never runs.
    let has_x32 = kernel_config("CONFIG_X86_X32_ABI");
    eprintln!("kernel x32 ABI: {has_x32:?}");
    let r = Attack::new("x32-getpid").policy(&allow_all()).run();
    let v = r.violation();
    assert_eq!(v.nr, x32_getpid, "{r}");
    assert_eq!(v.arch, "x32", "{r}");
    assert_eq!(v.syscall, "getpid", "{r}");
    assert_eq!(r.get("x32_getpid"), None, "{r}");
}

/// `Some(true)` when /proc/config.gz sets `name`, `Some(false)` when not, `None` if unknown.
fn kernel_config(name: &str) -> Option<bool> {
    let out = std::process::Command::new("sh")
        .args(["-c", "zcat /proc/config.gz 2>/dev/null"])
        .output()
        .ok()?;
    if out.stdout.is_empty() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    Some(text.lines().any(|l| l == format!("{name}=y")))
}

#[test]
fn int_argument_deny_rule_is_not_bypassed_by_high_bits() {
    let _g = shared();
    // EACCES, not the EPERM of the prelude's own TIOCSTI guard: the rule under test answers.
    let p = compile("default allow; errno(EACCES) ioctl if request == TIOCSTI;");
    let tiocsti = libc::TIOCSTI;
    let eacces = RET_ERRNO | libc::EACCES as u32;
    assert_eq!(
        verdict(&p, AUDIT_ARCH_X86_64, 16, [0, tiocsti, 0, 0, 0, 0]),
        eacces
    );
    assert_eq!(
        verdict(
            &p,
            AUDIT_ARCH_X86_64,
            16,
            [0, tiocsti | 1 << 32, 0, 0, 0, 0]
        ),
        eacces
    );
    assert_eq!(
        verdict(
            &p,
            AUDIT_ARCH_X86_64,
            16,
            [0, tiocsti | 0xffff_ffff << 32, 0, 0, 0, 0]
        ),
        eacces
    );
    let r = Attack::new("ioctl-tiocsti").policy(&p).run();
    r.expect_exit0();
    assert_eq!(r.value("tiocsti"), "EACCES", "{r}");
    assert_eq!(r.value("tiocsti_high_bits"), "EACCES", "{r}");
    // Other requests reach the tty layer (stdin is /dev/null: not a terminal).
    assert_eq!(r.value("tiocgwinsz"), "ENOTTY", "{r}");
}

/// Arguments the kernel's prototypes declare `unsigned long` or `long` but that it reads only
/// the low 32 bits of (`lower_32_bits(clone_flags)`, `fget(unsigned int)`, an `int` or
/// `unsigned int` parameter further in): a deny rule on them is not bypassed by setting high
/// bits either. Each (syscall, argument) here was seen to act as its low word alone on Linux
/// 6.18; the last part makes the kernel show it for `writev`.
#[test]
fn deny_rules_on_args_the_kernel_truncates_are_not_bypassed_by_high_bits() {
    let _g = shared();
    // (syscall, the argument, its position), judged on the x86_64 program by x86_64 numbers.
    let truncated: [(&str, &str, usize); 22] = [
        ("clone", "flags", 0),
        ("mmap", "fd", 4),
        ("readv", "fd", 0),
        ("readv", "iovcnt", 2),
        ("writev", "fd", 0),
        ("writev", "iovcnt", 2),
        ("preadv", "fd", 0),
        ("preadv", "vlen", 2),
        ("pwritev", "fd", 0),
        ("pwritev", "vlen", 2),
        ("preadv2", "fd", 0),
        ("preadv2", "vlen", 2),
        ("pwritev2", "fd", 0),
        ("pwritev2", "vlen", 2),
        ("vmsplice", "nr_segs", 2),
        ("process_vm_readv", "liovcnt", 2),
        ("process_vm_writev", "liovcnt", 2),
        ("process_madvise", "vlen", 2),
        ("kcmp", "idx1", 3),
        ("kcmp", "idx2", 4),
        ("mbind", "mode", 2),
        ("ptrace", "pid", 1),
    ];
    let eperm = RET_ERRNO | libc::EPERM as u32;
    for (syscall, arg, position) in truncated {
        let nr = sandbox_policy::tables::syscall_by_name(Arch::X86_64, syscall)
            .expect("an x86_64 syscall")
            .nr;
        let p = compile(&format!(
            "default allow; errno(EPERM) {syscall} if {arg} == 3;"
        ));
        for high in [0, 1 << 32, 0xffff_ffff << 32] {
            let mut args = [0; 6];
            args[position] = 3 | high;
            assert_eq!(
                verdict(&p, AUDIT_ARCH_X86_64, nr, args),
                eperm,
                "{syscall} {arg} {:#x}",
                3 | high
            );
        }
    }
    let p = compile("default allow; kill writev if fd == 1;");
    let r = Attack::new("writev-high-bits").policy(&p).run();
    // Killed at its first call, the one with the high bits set.
    assert_eq!(r.violation().syscall, "writev", "{r}");
    assert!(r.get("writev_high_bits").is_none(), "{r}");
    let p = compile("default allow; errno(EPERM) writev if fd == 1;");
    let r = Attack::new("writev-high-bits").policy(&p).run();
    r.expect_exit0();
    assert_eq!(r.value("writev_plain"), "EPERM", "{r}");
    assert_eq!(r.value("writev_high_bits"), "EPERM", "{r}");
}

#[test]
fn at_fdcwd_allow_rule_accepts_both_encodings() {
    let _g = shared();
    let p = compile("default allow; allow openat if dirfd == AT_FDCWD; errno(EPERM) openat;");
    for dirfd in [0xffff_ff9c_u64, 0xffff_ffff_ffff_ff9c] {
        assert_eq!(
            verdict(&p, AUDIT_ARCH_X86_64, 257, [dirfd, 0, 0, 0, 0, 0]),
            RET_ALLOW
        );
    }
    assert_eq!(
        verdict(&p, AUDIT_ARCH_X86_64, 257, [3, 0, 0, 0, 0, 0]),
        RET_ERRNO | libc::EPERM as u32
    );
    let r = Attack::new("openat-fdcwd").policy(&p).run();
    r.expect_exit0();
    assert_eq!(r.value("zero_extended"), "OK", "{r}");
    assert_eq!(r.value("sign_extended"), "OK", "{r}");
    assert_eq!(r.value("other_fd"), "EPERM", "{r}");
}

#[test]
fn clone3_is_enosys_and_fork_falls_back_to_clone() {
    let _g = shared();
    let p = allow_all();
    assert_eq!(
        verdict(&p, AUDIT_ARCH_X86_64, 435, [0; 6]),
        RET_ERRNO | libc::ENOSYS as u32
    );
    let r = Attack::new("clone3").policy(&p).run();
    r.expect_exit0();
    assert_eq!(r.value("clone3"), "ENOSYS", "{r}");
    assert_eq!(r.value("fork"), "OK", "{r}");
    assert_eq!(r.value("child_exit"), "42", "{r}");
}

/// Under every built-in group (default kill), `syscall` is a violation that names it.
fn denied_by_all_groups(syscall: &str) {
    let _g = shared();
    let p = compile(ALL_GROUPS);
    let r = Attack::new("raw").arg_one(syscall).policy(&p).run();
    let v = r.violation();
    assert_eq!(v.syscall, syscall, "{r}");
    assert_eq!(v.arch, "x86_64");
    assert_eq!(r.get(syscall), None, "the call returned: {r}");
}

impl Attack {
    fn arg_one(self, a: &str) -> Attack {
        self.args([a])
    }
}

macro_rules! denied_by_groups {
    ($($test:ident: $syscall:literal,)*) => {$(
        #[test]
        fn $test() {
            denied_by_all_groups($syscall);
        }
    )*};
}

denied_by_groups! {
    groups_deny_io_uring_setup: "io_uring_setup",
    groups_deny_bpf: "bpf",
    groups_deny_ptrace: "ptrace",
    groups_deny_perf_event_open: "perf_event_open",
    groups_deny_userfaultfd: "userfaultfd",
    groups_deny_keyctl: "keyctl",
    groups_deny_add_key: "add_key",
    groups_deny_unshare_newuser: "unshare",
    groups_deny_clone_newns: "clone",
    groups_deny_mount: "mount",
    groups_deny_pivot_root: "pivot_root",
    groups_deny_setns: "setns",
    groups_deny_process_vm_writev: "process_vm_writev",
}

#[test]
fn all_groups_policy_runs_the_attacker() {
    // The control for the tests above: under the same policy a harmless run exits normally,
    // so their violations come from the attack, not from start-up.
    let _g = shared();
    let r = Attack::new("true").policy(&compile(ALL_GROUPS)).run();
    r.expect_exit0();
}

#[test]
fn killed_call_never_returns() {
    // A call the policy kills must not return to the program, not even with an error for the
    // moment before the kill lands: the program could go on with allowed calls (writing to the
    // host, talking through passed descriptors) after its violation. Repeated, as it is a race.
    let _g = shared();
    let dir = TempDir::new("afterkill");
    let mut escaped = Vec::new();
    for i in 0..20 {
        let witness = format!("witness-{i}");
        let r = Attack::new("after-violation")
            .args([format!("/rw/{witness}")])
            .mount_rw(dir.path(), "/rw")
            .policy(&SOCKET_POLICY)
            .run();
        assert_eq!(r.violation().syscall, "socket", "{r}");
        let written = std::fs::read_to_string(dir.path().join(&witness)).unwrap_or_default();
        if !written.is_empty() {
            let lines = written.lines().count();
            escaped.push(format!(
                "run {i}: {lines} lines written after the violation, first: {:?}",
                written.lines().next().unwrap_or("")
            ));
        }
    }
    assert!(
        escaped.is_empty(),
        "killed calls returned:\n{}",
        escaped.join("\n")
    );
}

/// The same while another thread sends the caller signals whose handler does not restart
/// calls. Once the monitor has read the notification, only a fatal signal ends the caller's
/// wait (`SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV`): a violation is never followed by the
/// program's writes. Before the monitor has read it, the kernel withdraws the notification and
/// the call comes back with EINTR, unreported (see the README's security model): the call
/// still never ran. Without the flag, about 1 run in 20 returned after the violation was seen,
/// so 100 runs catch it.
#[test]
fn killed_call_interrupted_by_signals_never_returns_once_seen() {
    let _g = shared();
    let dir = TempDir::new("signalled");
    let mut escaped = Vec::new();
    let mut withdrawn = 0;
    for i in 0..100 {
        let witness = format!("witness-{i}");
        let r = Attack::new("signalled-violation")
            .args([format!("/rw/{witness}")])
            .mount_rw(dir.path(), "/rw")
            .policy(&SOCKET_POLICY)
            .run();
        let written = std::fs::read_to_string(dir.path().join(&witness)).unwrap_or_default();
        let first = written.lines().next().unwrap_or("");
        match r.status() {
            Status::Violation(v) if v.syscall == "socket" && written.is_empty() => {}
            Status::Exited(0) if first == "socket returned -1 errno EINTR" => withdrawn += 1,
            status => escaped.push(format!(
                "run {i}: {status:?}; {} lines written after the call, first: {first:?}",
                written.lines().count(),
            )),
        }
    }
    eprintln!("{withdrawn} of 100 calls were withdrawn by a signal before the monitor read them");
    // The property is only tried on calls the monitor read: enough of them must have been.
    assert!(
        withdrawn <= 80,
        "only {} of 100 calls reached the monitor",
        100 - withdrawn
    );
    assert!(
        escaped.is_empty(),
        "killed calls returned after the monitor saw them, or ran:\n{}",
        escaped.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// File system

#[test]
fn unmounted_host_file_is_unreadable() {
    let _g = shared();
    let dir = TempDir::new("marker");
    let marker = dir.file("marker", "host secret\n");
    assert!(std::fs::read(&marker).is_ok());
    let r = Attack::new("read")
        .args([
            s(&marker),
            s(dir.path()),
            "/etc/passwd".into(),
            "/etc/shadow".into(),
        ])
        .policy(&allow_all())
        .run();
    r.expect_exit0();
    assert_eq!(r.value(&format!("read {}", s(&marker))), "ENOENT", "{r}");
    assert_eq!(r.value("read /etc/passwd"), "ENOENT", "{r}");
    assert_eq!(r.value("read /etc/shadow"), "ENOENT", "{r}");
}

#[test]
fn write_through_read_only_bind_is_erofs() {
    let _g = shared();
    let dir = TempDir::new("ro");
    let file = dir.file("file", "original\n");
    let r = Attack::new("write")
        .args(["/ro/file"])
        .with(|c| {
            c.mount_ro(dir.path(), "/ro");
        })
        .policy(&allow_all())
        .run();
    r.expect_exit0();
    assert_eq!(r.value("write"), "EROFS", "{r}");
    let r = Attack::new("write")
        .args(["/ro/new"])
        .with(|c| {
            c.mount_ro(dir.path(), "/ro");
        })
        .policy(&allow_all())
        .run();
    assert_eq!(r.value("write"), "EROFS", "{r}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "original\n");
    assert!(!dir.path().join("new").exists());
}

#[test]
fn remounting_a_read_only_bind_read_write_is_denied() {
    let _g = shared();
    let dir = TempDir::new("remount");
    let r = Attack::new("remount")
        .args(["/ro"])
        .with(|c| {
            c.mount_ro(dir.path(), "/ro");
        })
        .policy(&allow_all())
        .run();
    r.expect_exit0();
    assert_eq!(r.value("remount_bind_rw"), "EPERM", "{r}");
    assert_eq!(r.value("remount_rw"), "EPERM", "{r}");
    assert_eq!(r.value("bind_again"), "EPERM", "{r}");
    assert_eq!(r.value("write"), "EROFS", "{r}");
    assert!(!dir.path().join("after-remount").exists());
}

#[test]
fn exec_from_a_writable_mount_is_eacces() {
    let _g = shared();
    let dir = TempDir::new("noexec");
    let copy = dir.path().join("evil");
    std::fs::copy(attacker(), &copy).unwrap();
    set_mode(&copy, 0o755);
    let r = Attack::new("exec")
        .args(["/rw/evil", "true"])
        .mount_rw(dir.path(), "/rw")
        .policy(&allow_all())
        .run();
    r.expect_exit0();
    assert_eq!(r.value("exec"), "EACCES", "{r}");
    // The same file on a read-only bind runs: the refusal above is the noexec flag.
    let r = Attack::new("exec")
        .args(["/ro/evil", "true"])
        .with(|c| {
            c.mount_ro(dir.path(), "/ro");
        })
        .policy(&allow_all())
        .run();
    r.expect_exit0();
    assert_eq!(r.get("exec"), None, "{r}");
}

#[test]
fn chroot_escape_fails_and_the_marker_stays_unreadable() {
    let _g = shared();
    let dir = TempDir::new("chroot");
    let marker = dir.file("marker", "host secret\n");
    let r = Attack::new("chroot-escape")
        .args([s(&marker)])
        .policy(&allow_all())
        .run();
    r.expect_exit0();
    assert_eq!(r.value("chroot"), "EPERM", "{r}");
    assert_eq!(r.value("chroot_dot"), "EPERM", "{r}");
    assert_eq!(r.value("marker"), "ENOENT", "{r}");
    assert_eq!(r.value("cwd"), "/", "{r}");
    let entries: BTreeSet<&str> = r.value("root_entries").split(',').collect();
    // The listing worked: the sandbox's own /tmp is in it.
    assert!(entries.contains("tmp"), "{r}");
    for host_only in ["etc", "home", "root", "var", "oldroot"] {
        assert!(!entries.contains(host_only), "{host_only} visible: {r}");
    }
}

/// One file-system entry a later sandbox asks for, at a sandbox path under `/out`.
enum Entry {
    BindFile(PathBuf, String),
    BindDir(PathBuf, String),
    Tmpfs(String),
    Symlink(String),
}

impl Entry {
    fn add_to(&self, c: &mut SandboxCommand) {
        match self {
            Entry::BindFile(src, dst) | Entry::BindDir(src, dst) => c.mount_ro(src, dst),
            Entry::Tmpfs(dst) => c.tmpfs(dst, 1 << 20),
            Entry::Symlink(link) => c.symlink("/nowhere", link),
        };
    }
}

/// A hostile sandboxee with a writable bind plants symbolic links in it: aimed at the host as
/// init sees it while it builds the file system (`/oldroot`, `/newroot`, its own `/proc` and
/// pid 1's, `..` past the root), and at places inside the next sandbox's own root (`/`,
/// `/dev`, `/proc`, another writable bind). A later sandbox sharing the bind mounts entries
/// through every link, as a parent directory, as the mount point itself and deeper down, and
/// binds a source that is such a link. Each of those must fail to start, naming the link's
/// loop error, with nothing created on the host or in the other writable bind, and nothing of
/// the host bound.
#[test]
fn links_planted_in_a_shared_bind_do_not_steer_a_later_sandbox() {
    let _g = shared();
    let out = TempDir::new("planted");
    let other = TempDir::new("other");
    let victim = TempDir::new("victim");
    let secret = TempDir::new("secret");
    secret.file("marker", "host secret\n");
    let source = TempDir::new("source");
    let source_file = source.file("file", "bound\n");
    let v = s(victim.path());
    let aims = [
        format!("/oldroot{v}"),
        format!("/newroot/proc/self/root/oldroot{v}"),
        format!("/proc/self/root/oldroot{v}"),
        format!("/proc/1/root/oldroot{v}"),
        format!("/proc/self/cwd/oldroot{v}"),
        format!("../../../../../../../../oldroot{v}"),
        "/".into(),
        ".".into(),
        "/dev".into(),
        "/proc".into(),
        "/other".into(),
    ];
    let mut links = Vec::new();
    let mut entries = Vec::new();
    for (i, aim) in aims.iter().enumerate() {
        let dir = format!("/out/dir{i}");
        let last = format!("/out/last{i}");
        let deep = format!("/out/deep{i}/a/link");
        links.extend([aim.clone(), dir.clone()]);
        links.extend([format!("{aim}/last{i}"), last.clone()]);
        links.extend([aim.clone(), deep.clone()]);
        entries.extend([
            Entry::BindFile(source_file.clone(), format!("{dir}/file")),
            Entry::BindDir(source.path().into(), format!("{dir}/dir")),
            Entry::Tmpfs(format!("{dir}/tmp")),
            Entry::Symlink(format!("{dir}/link")),
            Entry::BindFile(source_file.clone(), last.clone()),
            Entry::BindDir(source.path().into(), last.clone()),
            Entry::Tmpfs(last),
            Entry::BindFile(source_file.clone(), format!("{deep}/b/c/file")),
        ]);
    }
    links.extend([
        format!("/oldroot{}", s(secret.path())),
        "/out/source".into(),
    ]);
    let r = Attack::new("plant-links")
        .args(&links)
        .mount_rw(out.path(), "/out")
        .policy(&allow_all())
        .run();
    r.expect_exit0();
    for pair in links.chunks(2) {
        assert_eq!(r.value(&format!("link {}", pair[1])), "OK", "{r}");
    }
    let untouched = |dir: &TempDir| std::fs::read_dir(dir.path()).unwrap().count() == 0;
    for entry in &entries {
        let r = Attack::new("true")
            .with(|c| {
                c.mount_rw(out.path(), "/out");
                c.mount_rw(other.path(), "/other");
                entry.add_to(c);
            })
            .policy(&allow_all())
            .run();
        match r.status() {
            Status::SetupError(e) => assert_eq!(e.errno, libc::ELOOP, "{r}"),
            _ => panic!("a planted link was followed\n{r}"),
        }
        assert!(
            untouched(&victim),
            "created on the host through a link\n{r}"
        );
        assert!(
            untouched(&other),
            "created in another bind through a link\n{r}"
        );
    }
    // The link as a bind's source: resolved as on the host, where `/oldroot` is nothing.
    let r = Attack::new("read")
        .args(["/in/marker"])
        .with(|c| {
            c.mount_rw(out.path(), "/out");
            c.mount_ro(out.path().join("source"), "/in");
        })
        .policy(&allow_all())
        .run();
    assert!(
        !r.stdout.contains("host secret"),
        "host directory bound\n{r}"
    );
    assert!(matches!(r.status(), Status::SetupError(_)), "{r}");
}

/// The same attack as a race: while a hostile sandboxee turns a directory of the shared bind
/// into a link to the host and back as fast as it can, later sandboxes make a mount point
/// through it. Each must either start, its file mounted inside the shared directory, or fail
/// to start; nothing may appear on the host.
#[test]
fn a_link_swapped_in_while_a_later_sandbox_builds_does_not_steer_it() {
    let _g = shared();
    let out = TempDir::new("swapped");
    let victim = TempDir::new("swap-victim");
    let source = TempDir::new("swap-source");
    let source_file = source.file("file", "bound\n");
    let aim = format!("/oldroot{}", s(victim.path()));
    let swapper = {
        let out = out.path().to_path_buf();
        std::thread::spawn(move || {
            Attack::new("swap-links")
                .args(["/out/x", aim.as_str(), "3000"])
                .mount_rw(&out, "/out")
                .policy(&allow_all())
                .run()
        })
    };
    let (mut started, mut refused) = (0, 0);
    let deadline = Instant::now() + Duration::from_millis(2500);
    while Instant::now() < deadline {
        let r = Attack::new("true")
            .with(|c| {
                c.mount_rw(out.path(), "/out");
                c.mount_ro(&source_file, "/out/x/file");
            })
            .policy(&allow_all())
            .run();
        match r.status() {
            Status::Exited(0) => started += 1,
            Status::SetupError(e) if e.step.contains("/out/x") => refused += 1,
            _ => panic!("unexpected outcome\n{r}"),
        }
        let found: Vec<_> = std::fs::read_dir(victim.path()).unwrap().collect();
        assert!(found.is_empty(), "created on the host: {found:?}\n{r}");
    }
    let r = swapper.join().unwrap();
    r.expect_exit0();
    let swaps: u64 = r.value("swaps").parse().unwrap();
    assert!(swaps > 100, "the race hardly ran\n{r}");
    eprintln!("{started} started, {refused} refused during {swaps} swaps");
}

#[test]
fn proc_root_links_do_not_reach_the_host() {
    let _g = shared();
    let dir = TempDir::new("procroot");
    let marker = dir.file("marker", "host secret\n");
    let r = Attack::new("proc-root")
        .args([s(&marker)])
        .policy(&allow_all())
        .run();
    r.expect_exit0();
    for base in [
        "/proc/1/root",
        "/proc/self/root",
        "/proc/2/root",
        "/proc/1/cwd",
    ] {
        let v = r.value(base);
        assert!(!v.starts_with("OK"), "{base}{}: {r}", s(&marker));
    }
    assert!(!r.value("etc_passwd").starts_with("OK"), "{r}");
    // No trace of the host's root (the pivot's old root) among the mounts, which were read:
    // the sandbox's /tmp is one.
    let mount_points: Vec<&str> = r
        .stdout
        .lines()
        .filter(|l| l.starts_with("mountinfo "))
        .map(|l| l.split_whitespace().nth(5).unwrap_or(""))
        .collect();
    assert!(mount_points.contains(&"/tmp"), "{r}");
    for mount_point in mount_points {
        assert!(!mount_point.starts_with("/oldroot"), "{mount_point}: {r}");
    }
}

#[test]
fn mknod_of_a_device_fails() {
    let _g = shared();
    let r = Attack::new("mknod").policy(&allow_all()).run();
    r.expect_exit0();
    assert_eq!(r.value("mknod /tmp/null"), "EPERM", "{r}");
    assert_eq!(r.value("mknod /tmp/sda"), "EPERM", "{r}");
    assert_ne!(r.value("mknod /dev/evil"), "OK", "{r}");
}

/// A sandbox that reaches host files (a writable bind, a passed file its host id owns) gives
/// none a set-user-ID or set-group-ID mode, by any call that sets a mode: such a file would
/// stay on the host, where it runs as the sandbox's host id for whoever can reach it. Plain
/// modes still work, and the host sees no set-id file afterwards. The learn and
/// log-violations modes let run the calls the policy kills, and the guard still holds there,
/// also where the policy's program is the one with the terminal guard in (the host's network
/// shared), so that the set-id guard is the monitor's to ask apart from it.
#[test]
fn no_set_id_mode_reaches_a_host_file() {
    let _g = shared();
    let modes = [
        (SyscallMode::Enforce, Some(allow_all()), false),
        (SyscallMode::Learn, None, false),
        (
            SyscallMode::LogViolations,
            Some(compile("default kill;")),
            false,
        ),
        (
            SyscallMode::LogViolations,
            Some(compile("default kill;")),
            true,
        ),
    ];
    for (mode, policy, share_network) in modes {
        let dir = TempDir::new("set-id");
        let passed_path = dir.file("passed", "");
        // Owned by the sandbox's host id, as a file the sandbox made earlier would be.
        if unsafe { libc::geteuid() } == 0 {
            let id = sandbox_runtime::HOST_ID_WHEN_ROOT;
            std::os::unix::fs::chown(&passed_path, Some(id), Some(id)).unwrap();
        }
        let passed = OwnedFd::from(std::fs::File::open(&passed_path).unwrap());
        let attack = Attack::new("set-id")
            .args(["/rw", "5"])
            .mount_rw(dir.path(), "/rw")
            .with(|c| {
                c.pass_fd(passed, 5)
                    .syscall_mode(mode)
                    .share_network(share_network);
            })
            .policy_if(policy.as_ref());
        let r = attack.run();
        r.expect_exit0();
        let label = format!("{mode:?} (network shared: {share_network})");
        let mut refused = vec![
            "openat",
            "openat-wide",
            "o_tmpfile",
            "mknodat",
            "chmod",
            "fchmod",
            "fchmodat",
            "fchmodat2",
            "fchmod-passed",
        ];
        if cfg!(target_arch = "x86_64") {
            refused.extend(["open", "creat", "mknod"]);
        }
        for call in refused {
            assert_eq!(r.value(call), "EPERM", "{label}, {call}: {r}");
        }
        assert_eq!(r.value("openat2"), "ENOSYS", "{label}: {r}");
        assert_eq!(r.value("plain"), "OK", "{label}: {r}");
        assert_eq!(r.value("chmod-plain"), "OK", "{label}: {r}");
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            use std::os::unix::fs::PermissionsExt;
            let entry = entry.unwrap();
            let mode_bits = entry.metadata().unwrap().permissions().mode();
            assert_eq!(
                mode_bits & 0o6000,
                0,
                "{label}: {:?} has mode {mode_bits:o}",
                entry.path()
            );
        }
    }
}

/// The guard reads only the native ABI's calls: without a policy to kill the others, it kills
/// them itself, so no i386 `chmod` makes a host file set-user-ID; under a policy, that policy's
/// filter kills them, as every call of another ABI.
#[test]
fn no_other_abi_gets_a_set_id_mode_past_the_guard() {
    let _g = shared();
    let dir = TempDir::new("set-id-i386");
    for (name, policy) in [("alone", None), ("policy", Some(allow_all()))] {
        let attack = Attack::new("i386-chmod")
            .args([format!("/rw/{name}")])
            .mount_rw(dir.path(), "/rw")
            .policy_if(policy.as_ref());
        let r = attack.run();
        assert_eq!(r.value("made"), "OK", "{name}: {r}");
        assert!(
            r.get("i386_chmod").is_none(),
            "{name}: the i386 call returned: {r}"
        );
        match (&policy, r.status()) {
            (None, Status::Signaled(libc::SIGSYS)) => {}
            (Some(_), Status::Violation(v)) if v.syscall.contains("chmod") => {}
            (_, status) => panic!("{name}: {status:?}: {r}"),
        }
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join(name))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o6000, 0, "{name}: mode {mode:o}");
    }
}

/// The set-id guard is installed only where the sandbox reaches host files: a sandbox with
/// neither a writable bind nor a passed file runs under its policy's filter alone, and pays
/// nothing for the guard. Where it is installed it goes into the policy's own program: still one
/// filter.
#[test]
fn only_a_sandbox_reaching_host_files_gets_the_set_id_guard() {
    let _g = shared();
    let guard = |r: &Report, filters: &str, mode: &str| {
        assert_eq!(r.value("filters"), filters, "{r}");
        assert_eq!(r.value("set-id-mode"), mode, "{r}");
    };
    let alone = Attack::new("filters").policy(&allow_all()).run();
    guard(&alone, "1", "OK");
    let dir = TempDir::new("set-id-filters");
    let guarded = Attack::new("filters")
        .mount_rw(dir.path(), "/rw")
        .policy(&allow_all())
        .run();
    guard(&guarded, "1", "EPERM");
    // A Unix socket can bring it a host file later (SCM_RIGHTS); a pipe cannot.
    let (unix, _peer) = std::os::unix::net::UnixStream::pair().unwrap();
    let (pipe_r, _pipe_w) = std::io::pipe().unwrap();
    for (fd, mode) in [
        (OwnedFd::from(unix), "EPERM"),
        (OwnedFd::from(pipe_r), "OK"),
    ] {
        let r = Attack::new("filters")
            .with(|c| {
                c.pass_fd(fd, 5);
            })
            .policy(&allow_all())
            .run();
        guard(&r, "1", mode);
    }
    // Without a policy the guard is the one filter.
    let bare = Attack::new("filters").mount_rw(dir.path(), "/rw").run();
    guard(&bare, "1", "EPERM");
}

/// A sandbox given no terminal, and no way for one to be sent to it, finds none: not among its
/// descriptors, not by any path (its `/dev` has no terminal, and binds are `nodev`), not
/// through `/proc` (it sees its own processes alone), while the host holds a terminal open.
/// Such a sandbox gets no terminal guard (`o-async=OK`): its `ioctl` and `fcntl` stay as its
/// policy says, for the kernel's cache to serve.
#[test]
fn a_sandbox_given_no_terminal_reaches_none_and_gets_no_terminal_guard() {
    let _g = shared();
    let (_master, slave) = terminal::pty();
    // The probe finds a terminal given (reopening it by path is Landlock's to refuse).
    let given = Attack::new("find-terminal")
        .with(|c| {
            c.stdin(Stdio::Fd(slave.try_clone().unwrap()));
        })
        .policy(&allow_all())
        .run();
    assert!(given.stdout.contains("found=descriptor 0"), "{given}");
    for policy in [None, Some(allow_all())] {
        let r = Attack::new("find-terminal")
            .policy_if(policy.as_ref())
            .run();
        r.expect_exit0();
        assert_eq!(r.value("terminals"), "0", "{r}");
        let r = Attack::new("filters").policy_if(policy.as_ref()).run();
        r.expect_exit0();
        assert_eq!(r.value("o-async"), "OK", "{r}");
        let want = if policy.is_some() { "1" } else { "0" };
        assert_eq!(r.value("filters"), want, "{r}");
    }
}

/// Every way a host terminal can reach a sandbox gets it the terminal guard, which refuses
/// signal-driven I/O (`o-async=EPERM`, probed on a pipe) and the other terminal requests that
/// reach the host: a terminal or a pseudo-terminal's master among its descriptors, a Unix
/// socket (one can be sent through it), the host's network (a host client can connect to an
/// abstract name the sandbox took and send one), a bound socket. Descriptors that can bring no
/// terminal (a pipe, a regular file, a writable bind) leave it out; without a policy the guard
/// is a filter of its own.
#[test]
fn only_a_sandbox_reaching_a_host_terminal_gets_the_terminal_guard() {
    let _g = shared();
    let dir = TempDir::new("terminal-guard");
    let socket_path = dir.path().join("host.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&socket_path).unwrap();
    // Both ends of each terminal stay open on the host through the runs.
    let (_stdin_master, stdin_slave) = terminal::pty();
    let (master, _slave) = terminal::pty();
    type Route = Box<dyn FnOnce(&mut SandboxCommand)>;
    let routes: Vec<(&str, Route, &str)> = vec![
        (
            "a terminal as standard input",
            Box::new(move |c| {
                c.stdin(Stdio::Fd(stdin_slave));
            }),
            "EPERM",
        ),
        (
            "a pseudo-terminal's master",
            Box::new(move |c| {
                c.pass_fd(master, 5);
            }),
            "EPERM",
        ),
        (
            "a Unix socket",
            Box::new(|c| {
                c.pass_fd(
                    OwnedFd::from(std::os::unix::net::UnixStream::pair().unwrap().0),
                    5,
                );
            }),
            "EPERM",
        ),
        (
            "the host's network",
            Box::new(|c| {
                c.share_network(true);
            }),
            "EPERM",
        ),
        (
            "a bound socket",
            Box::new(move |c| {
                c.mount_ro(&socket_path, "/run/host.sock");
            }),
            "EPERM",
        ),
        (
            "a pipe",
            Box::new(|c| {
                c.pass_fd(OwnedFd::from(std::io::pipe().unwrap().0), 5);
            }),
            "OK",
        ),
        (
            "a regular file",
            Box::new(|c| {
                c.pass_fd(
                    OwnedFd::from(std::fs::File::open("/proc/self/exe").unwrap()),
                    5,
                );
            }),
            "OK",
        ),
    ];
    for (route, give, want) in routes {
        let r = Attack::new("filters").with(give).policy(&allow_all()).run();
        r.expect_exit0();
        assert_eq!(r.value("o-async"), want, "{route}\n{r}");
        assert_eq!(r.value("filters"), "1", "{route}\n{r}");
    }
    let rw = Attack::new("filters")
        .mount_rw(dir.path(), "/rw")
        .policy(&allow_all())
        .run();
    assert_eq!(rw.value("set-id-mode"), "EPERM", "{rw}");
    assert_eq!(rw.value("o-async"), "OK", "{rw}");
    // Without a policy the guard is the one filter.
    let (_master, slave) = terminal::pty();
    let bare = Attack::new("filters")
        .with(|c| {
            c.stdin(Stdio::Fd(slave));
        })
        .run();
    assert_eq!(bare.value("filters"), "1", "{bare}");
    assert_eq!(bare.value("o-async"), "EPERM", "{bare}");
    assert_eq!(bare.value("set-id-mode"), "OK", "{bare}");
}

/// A call the policy kills stays killed, and reported, with the set-id guard in its program:
/// the guard refuses only what the policy would let run.
#[test]
fn a_set_id_mode_the_policy_kills_is_reported_with_the_guard_in() {
    let _g = shared();
    let dir = TempDir::new("set-id-kill");
    let r = Attack::new("filters")
        .mount_rw(dir.path(), "/rw")
        .policy(&compile("default allow;\nkill fchmod;"))
        .run();
    let v = r.violation();
    assert_eq!(v.syscall, "fchmod", "{r}");
    assert_eq!(v.args[1], 0o4755, "{r}");
}

/// A policy whose program leaves no room for the guard's gets the guard as a second filter,
/// which refuses set-id modes all the same.
#[test]
fn a_policy_too_long_to_take_the_set_id_guard_has_it_stacked() {
    let _g = shared();
    let native = Arch::native().expect("a supported architecture");
    let guard_len = set_id::program(native, ForeignCalls::LeftToPolicy)
        .unwrap()
        .len();
    // Everything allowed, behind loads of `arch` that change nothing (the program's first
    // instruction loads it again): one instruction short of room for one copy of the guard.
    let mut long = allow_all();
    let mut programs = long.programs.to_vec();
    let program = programs.iter_mut().find(|p| p.arch == native).unwrap();
    let room = BPF_MAXINSNS - program.filter.len() - guard_len + 1;
    let load_arch = SockFilter::stmt(BPF_LD | BPF_W | BPF_ABS, 4);
    let mut padded = vec![load_arch; room];
    padded.extend_from_slice(&program.filter);
    assert_eq!(padded.len() + guard_len, BPF_MAXINSNS + 1);
    program.filter = padded.into();
    long.programs = programs.into();
    let dir = TempDir::new("set-id-long");
    let r = Attack::new("filters")
        .mount_rw(dir.path(), "/rw")
        .policy(&long)
        .run();
    assert_eq!(r.value("filters"), "2", "{r}");
    assert_eq!(r.value("set-id-mode"), "EPERM", "{r}");
}

#[test]
fn proc_sys_and_hostname_are_not_writable() {
    let _g = shared();
    let r = Attack::new("proc-sys").policy(&allow_all()).run();
    r.expect_exit0();
    for path in [
        "/proc/sys/kernel/hostname",
        "/proc/sys/kernel/domainname",
        "/proc/sys/kernel/core_pattern",
        "/proc/sys/vm/drop_caches",
        "/proc/sysrq-trigger",
    ] {
        assert_ne!(r.value(path), "OK", "{path}: {r}");
    }
    assert_eq!(r.value("sethostname"), "EPERM", "{r}");
    assert_eq!(r.value("hostname"), "OK:sandbox", "{r}");
}

// ---------------------------------------------------------------------------------------------
// Processes and signals

#[test]
fn only_sandbox_processes_are_visible_or_signalable() {
    let _g = shared();
    let me = std::process::id();
    let r = Attack::new("pids")
        .args([me.to_string()])
        .policy(&allow_all())
        .run();
    r.expect_exit0();
    let list = |k: &str| -> Vec<u32> {
        r.value(k)
            .split(',')
            .filter(|s| !s.is_empty())
            .map(|s| s.parse().unwrap())
            .collect()
    };
    // init (1) and the attacker (2), nothing else.
    assert_eq!(list("proc_pids"), [1, 2], "{r}");
    assert_eq!(list("kill0_pids"), [1, 2], "{r}");
    assert_eq!(r.value("self"), "2");
    assert_eq!(r.value("ppid"), "1");
    if me > 2 {
        assert_eq!(r.value("host_pid_dir"), "ENOENT", "{r}");
    }
    // Pid 1 inside is the sandbox's init (a fork of this test binary), not the host's pid 1.
    let host_init = std::fs::read("/proc/1/cmdline").unwrap_or_default();
    let host_init = String::from_utf8_lossy(&host_init).replace('\0', " ");
    let own = std::fs::read("/proc/self/cmdline").unwrap();
    let own = String::from_utf8_lossy(&own).replace('\0', " ");
    if host_init.trim() != own.trim() {
        assert_ne!(r.value("pid1_cmdline"), host_init.trim(), "{r}");
    }
}

#[test]
fn killing_everything_reaches_only_the_sandbox() {
    let _g = shared();
    let mut canary = Canary(
        std::process::Command::new("sleep")
            .arg("60")
            .spawn()
            .expect("a host canary"),
    );
    let me = std::process::id();
    let r = Attack::new("kill-all")
        .args([canary.0.id().to_string()])
        .policy(&allow_all())
        .run();
    // kill(0, SIGKILL) finally kills the attacker's own process group: itself.
    assert_eq!(r.status(), &Status::Signaled(libc::SIGKILL), "{r}");
    assert_eq!(r.value("ppid"), "1", "{r}");
    if canary.0.id() > 2 {
        assert_eq!(r.value("kill_host_pid"), "ESRCH", "{r}");
    }
    // kill(-1) finds nothing it may kill besides itself and init (which it skips).
    assert!(["OK", "ESRCH"].contains(&r.value("kill_minus_one")), "{r}");
    // Init of a pid namespace ignores SIGKILL from inside; the call itself succeeds.
    assert_eq!(r.value("kill_init"), "OK", "{r}");
    assert_eq!(r.get("kill_group"), None, "{r}");
    assert!(
        canary.0.try_wait().unwrap().is_none(),
        "the host canary died"
    );
    assert_eq!(std::process::id(), me);
    // Dropping the canary kills and reaps it.
}

/// A host process, killed and reaped when dropped: a failed assertion must not leave it.
struct Canary(std::process::Child);

impl Drop for Canary {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A realtime signal: glibc keeps the first two (32 and 33) for itself, so its `SIGRTMIN` is 34;
/// this is `SIGRTMIN + 6`.
const REALTIME_SIGNAL: libc::c_int = 40;

/// Signals the host handles with [`host_handler`] for the whole run ([`ready`]): ones nothing
/// else sends a test process (not SIGHUP or SIGWINCH, which a terminal sends).
const HOST_HANDLED: [libc::c_int; 3] = [libc::SIGUSR1, libc::SIGUSR2, REALTIME_SIGNAL];

/// Ends this process at once: installed in the host for signals nothing else sends it, so that
/// if a sandbox's init still had it, a signal from the sandboxee would end the sandbox.
extern "C" fn host_handler(_: libc::c_int) {
    // SAFETY: _exit is async-signal-safe.
    unsafe { libc::_exit(77) };
}

#[test]
fn host_signal_handlers_do_not_run_in_init() {
    let _g = shared();
    assert!((libc::SIGRTMIN()..=libc::SIGRTMAX()).contains(&REALTIME_SIGNAL));
    // The handlers are the host's since before the first sandbox (and the fork server) began.
    for sig in HOST_HANDLED {
        // SAFETY: reads this process's action for sig into a live sigaction.
        let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
        // SAFETY: as above; no new action is set.
        assert_eq!(
            unsafe { libc::sigaction(sig, std::ptr::null(), &mut old) },
            0
        );
        assert_eq!(
            old.sa_sigaction, host_handler as *const () as usize,
            "signal {sig}"
        );
    }
    let r = Attack::new("signal-init").policy(&allow_all()).run();
    // Init of a pid namespace gets no signal from inside unless it has a handler for it; with
    // every action at its default, each kill "succeeds" and nothing happens.
    r.expect_exit0();
    assert_eq!(r.value("refused"), "", "{r}");
    assert_eq!(r.value("ppid"), "1", "{r}");
    assert_eq!(r.value("alive"), "yes", "{r}");
}

#[test]
fn ptrace_attach_to_the_parent_fails() {
    let _g = shared();
    // A policy that names ptrace (the prelude kills it otherwise, see below): the kernel's own
    // refusal is what is tested here.
    let r = Attack::new("ptrace-parent")
        .policy(&compile("default allow;\nallow ptrace;\n"))
        .run();
    r.expect_exit0();
    assert_eq!(r.value("ppid"), "1", "{r}");
    assert_eq!(r.value("attach 1"), "EPERM", "{r}");
    assert_eq!(r.value("seize 1"), "EPERM", "{r}");
    assert!(!r.value("read_init_mem").starts_with("OK"), "{r}");
    assert!(!r.value("init_environ").starts_with("OK"), "{r}");
}

/// A filter the program adds would rank its `errno` above the notification that reports the
/// policy's kill, so the killed call would fail and the program go on, unreported. The prelude
/// kills both ways to add one where the policy does not name `seccomp`: under a default that
/// lets calls run, and with a policy that allows `prctl` outright.
#[test]
fn a_filter_the_program_adds_cannot_hide_a_killed_call() {
    let _g = shared();
    let deny_list = compile("default allow;\nkill socket;\n");
    let prctl_allowed = compile(&format!("{ALL_GROUPS}\nallow prctl;\n"));
    // Naming seccomp to refuse it does not allow filters through prctl.
    let seccomp_refused = compile("default allow;\nkill seccomp;\nkill socket;\n");
    let cases = [
        (&deny_list, "seccomp", "kill seccomp"),
        (
            &seccomp_refused,
            "prctl",
            "kill prctl if option == PR_SET_SECCOMP",
        ),
        (
            &deny_list,
            "prctl",
            "kill prctl if option == PR_SET_SECCOMP",
        ),
        (
            &prctl_allowed,
            "prctl",
            "kill prctl if option == PR_SET_SECCOMP",
        ),
    ];
    for (policy, how, rule) in cases {
        let r = Attack::new("own-filter").args([how]).policy(policy).run();
        let v = r.violation();
        assert_eq!(v.syscall, how, "{r}");
        assert!(v.decided_by.contains(rule), "{how}: {r}");
        assert_eq!(r.get("own_filter"), None, "the filter went in: {r}");
        assert_eq!(r.get("socket"), None, "{r}");
    }
}

/// A tracer can resume a traced call with a signal pending, which interrupts the call's wait for
/// the monitor before the monitor reads it; an io_uring runs operations with no system call at
/// all. Where a policy's default lets calls run and it does not name them, both are killed.
#[test]
fn ptrace_io_uring_and_request_key_are_killed_unless_the_policy_names_them() {
    let _g = shared();
    let deny_list = compile("default allow;\nkill socket;\n");
    let guarded = [
        ("ptrace-parent", "ptrace"),
        ("io-uring", "io_uring_setup"),
        ("request-key", "request_key"),
    ];
    for (attack, syscall) in guarded {
        let r = Attack::new(attack).policy(&deny_list).run();
        let v = r.violation();
        assert_eq!(v.syscall, syscall, "{r}");
        assert!(v.decided_by.contains(&format!("kill {syscall}")), "{r}");
    }
    let named = compile("default allow;\nkill socket;\nallow io_uring_setup;\n");
    let r = Attack::new("io-uring").policy(&named).run();
    r.expect_exit0();
    assert!(r.get("io_uring_setup").is_some(), "{r}");
    // A ring would create files with any mode, unseen: where the sandbox reaches host files,
    // the set-id guard refuses rings whatever the policy names.
    let dir = TempDir::new("io-uring-guarded");
    let r = Attack::new("io-uring")
        .mount_rw(dir.path(), "/rw")
        .policy(&named)
        .run();
    r.expect_exit0();
    assert_eq!(r.value("io_uring_setup"), "EPERM", "{r}");
}

/// Init is a copy of the host, and `/proc/1/cmdline`, unlike init's other `/proc` entries,
/// is not closed by init being non-dumpable: init overwrites the host's command line in its own
/// copy, so the host's arguments (a token passed on the command line, say) do not show.
#[test]
fn the_hosts_command_line_does_not_show_in_init() {
    let _g = shared();
    let r = Attack::new("read")
        .args(["/proc/1/cmdline", "/proc/1/comm"])
        .policy(&allow_all())
        .run();
    r.expect_exit0();
    let shown = r.value("read /proc/1/cmdline").trim_end_matches('\0');
    assert_eq!(shown, "OK:sandbox-init", "{r}");
    // Nor the name of the host thread that cloned init.
    assert_eq!(r.value("read /proc/1/comm"), "OK:sandbox-init", "{r}");
}

#[test]
fn no_capability_is_left_or_can_be_taken_back() {
    let _g = shared();
    // With a filter (the sandboxee reports to the monitor through its exec pipe) and without.
    for policy in [Some(allow_all()), None] {
        let attack = Attack::new("caps").policy_if(policy.as_ref());
        let r = attack.run();
        r.expect_exit0();
        for set in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
            assert_eq!(r.value(set), "0000000000000000", "{set}: {r}");
        }
        // NOROOT, NO_SETUID_FIXUP, NO_CAP_AMBIENT_RAISE, each with its lock, and
        // KEEP_CAPS_LOCKED. This and the empty bounding set are the sandbox-wide limits (set
        // by the sandboxee of a fresh init, by a spare's init ahead); the empty permitted set
        // alone already refuses the three attempts below, which pin the outcome rather than
        // the means.
        assert_eq!(r.value("securebits"), "0xef", "{r}");
        assert_eq!(r.value("ambient_raise"), "EPERM", "{r}");
        assert_eq!(r.value("unlock_securebits"), "EPERM", "{r}");
        assert_eq!(r.value("capset_all"), "EPERM", "{r}");
    }
}

#[test]
fn setuid_binary_does_not_raise_privileges() {
    let _g = shared();
    let dir = TempDir::new("suid");
    let copy = dir.path().join("suid");
    std::fs::copy(attacker(), &copy).unwrap();
    // As root the copy is owned by root: a real setuid-root binary. Unprivileged, it is owned
    // by the caller, so only nosuid and no_new_privs can be checked.
    set_mode(&copy, 0o4755);
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(&copy).unwrap();
    assert_eq!(meta.mode() & 0o4000, 0o4000, "the setuid bit is set");
    if meta.uid() != 0 {
        eprintln!(
            "setuid_binary_does_not_raise_privileges: not root, so the setuid copy is owned by \
             uid {}; checking nosuid and no_new_privs only",
            meta.uid()
        );
    }
    let r = Attack::new("exec")
        .args(["/suid/suid", "ids"])
        .with(|c| {
            c.mount_ro(dir.path(), "/suid");
        })
        .policy(&allow_all())
        .run();
    r.expect_exit0();
    assert_eq!(r.get("exec"), None, "the exec failed: {r}");
    assert_eq!(r.value("uid"), "1000", "{r}");
    assert_eq!(r.value("euid"), "1000", "{r}");
    assert_eq!(r.value("gid"), "1000", "{r}");
    assert_eq!(r.value("egid"), "1000", "{r}");
    assert_eq!(r.value("NoNewPrivs"), "1", "{r}");
    assert_eq!(r.value("CapEff"), "0000000000000000", "{r}");
    assert_eq!(r.value("CapPrm"), "0000000000000000", "{r}");
    let suid_mount = r
        .stdout
        .lines()
        .filter(|l| l.starts_with("mountinfo "))
        .find(|l| l.split_whitespace().nth(5) == Some("/suid"))
        .unwrap_or_else(|| panic!("/suid in mountinfo: {r}"));
    assert!(suid_mount.contains("nosuid"), "{suid_mount}");
}

#[test]
fn double_forked_daemon_dies_with_the_sandbox() {
    let _g = shared();
    let t = Instant::now();
    let attack = Attack::new("daemon").policy(&allow_all());
    let tag = attack.tag.clone();
    let r = attack.run();
    r.expect_exit0();
    assert!(r.get("daemon").is_some(), "the daemon started: {r}");
    assert_eq!(r.value("parent"), "exiting");
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    assert!(processes_with(&tag).is_empty());
}

/// Runs `attack` with a writable bind at `/rw` and its witness file there, and checks that
/// nothing of the sandbox writes to the witness once the run has returned.
fn nothing_writes_after_the_end(attack: &str, running: &str) {
    nothing_writes_after_the_end_under(attack, running, &allow_all(), |_| {});
}

/// [`nothing_writes_after_the_end`] under `policy`, with `setup` applied to the command.
fn nothing_writes_after_the_end_under(
    attack: &str,
    running: &str,
    policy: &Policy,
    setup: impl FnOnce(&mut SandboxCommand),
) {
    let dir = TempDir::new(attack);
    let r = Attack::new(attack)
        .args(["/rw/witness"])
        .mount_rw(dir.path(), "/rw")
        .with(setup)
        .policy(policy)
        .run();
    r.expect_exit0();
    assert_eq!(r.value(running), "running", "{r}");
    let witness = dir.path().join("witness");
    let len = || std::fs::metadata(&witness).map(|m| m.len()).unwrap_or(0);
    let at_end = len();
    assert!(at_end > 0, "the witness was written: {r}");
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(len(), at_end, "written after the run returned");
}

#[test]
fn a_writer_left_behind_writes_nothing_after_the_end() {
    let _g = shared();
    nothing_writes_after_the_end("left-writer", "writer");
}

/// A process that traces the program receives its exit status first and can keep it from
/// the sandbox's init: the sandbox still ends with the program (init sees the end through a
/// pidfd and ends the rest), not at its wall-time limit.
#[test]
fn a_tracer_holding_the_programs_end_writes_nothing_after_it() {
    let _g = shared();
    let policy = compile("default allow;\nallow ptrace;");
    nothing_writes_after_the_end_under("tracer-writer", "tracer", &policy, |_| {});
}

#[test]
fn a_walk_of_short_lived_processes_writes_nothing_after_the_end() {
    let _g = shared();
    nothing_writes_after_the_end("walker", "walker");
}

/// Where the host lets the program make user namespaces (otherwise it can make none, see
/// [`no_program_makes_a_user_namespace_unless_the_host_allows_it`]).
#[test]
fn a_writer_in_nested_namespaces_writes_nothing_after_the_end() {
    let _g = shared();
    nothing_writes_after_the_end_under("nested-writer", "nested", &allow_all(), |c| {
        c.allow_user_namespaces(true);
    });
}

#[test]
fn fork_bomb_is_stopped_by_the_pids_limit() {
    let _g = shared();
    let limits = Limits {
        pids: Some(16),
        wall_time: Some(Duration::from_secs(20)),
        ..Limits::default()
    };
    let t = Instant::now();
    let r = Attack::with_limits("forkbomb", limits)
        .policy(&allow_all())
        .run();
    r.expect_exit0();
    assert_eq!(r.value("error"), "EAGAIN", "{r}");
    let forked: u32 = r.value("forked").parse().unwrap();
    assert!(forked < 16, "{r}");
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    assert!(r
        .out
        .outcome
        .enforced_limits
        .iter()
        .any(|l| l.limit == "pids" && l.value == 16));
    // The host still forks.
    let st = std::process::Command::new("true").status().unwrap();
    assert!(st.success());
}

// ---------------------------------------------------------------------------------------------
// Resources

/// Socket buffers count against the memory limit: TCP over the sandbox's own loopback, written
/// and never read, cannot queue much past it. Unbounded, it fills the host's `tcp_mem`, which
/// every network namespace shares (1.5 GB queued under a 32 MiB limit before cgroup v1's TCP
/// limit was set). An address-space rlimit, the fallback without a cgroup, cannot count them:
/// the README says so, and the unprivileged run checks only that the limit says how it is held.
#[test]
fn socket_buffers_count_against_the_memory_limit() {
    let _g = shared();
    const LIMIT: u64 = 32 << 20;
    let limits = Limits {
        memory: Some(LIMIT),
        ..Limits::default()
    };
    let r = Attack::with_limits("tcp-flood", limits)
        .args(["400"])
        .policy(&allow_all())
        .run();
    let by = r
        .out
        .outcome
        .enforced_limits
        .iter()
        .find(|l| l.limit == "memory")
        .map(|l| l.by);
    match by {
        Some(Enforcement::Cgroup) => {
            let queued: u64 = r.value("queued_mb").parse().unwrap();
            eprintln!(
                "{queued} MB queued over {} connections under a {} MiB limit",
                r.value("connections"),
                LIMIT >> 20
            );
            assert!(queued < 4 * (LIMIT >> 20), "{queued} MB queued: {r}");
        }
        Some(Enforcement::Rlimit) if unsafe { libc::geteuid() } != 0 => {
            eprintln!("unprivileged: no cgroup, so socket buffers are not counted (documented)");
        }
        other => panic!("memory held by {other:?} as root: {r}"),
    }
}

#[test]
fn memory_bomb_is_bounded() {
    let _g = shared();
    const LIMIT: u64 = 128 << 20;
    let limits = Limits {
        memory: Some(LIMIT),
        ..Limits::default()
    };
    let r = Attack::with_limits("membomb", limits)
        .policy(&allow_all())
        .run();
    let enforced = r
        .out
        .outcome
        .enforced_limits
        .iter()
        .find(|l| l.limit == "memory")
        .unwrap_or_else(|| panic!("memory limit reported: {r}"));
    assert_eq!(enforced.value, LIMIT);
    match enforced.by {
        Enforcement::Rlimit => {
            // The address space runs out: the mapping fails before the limit is crossed.
            r.expect_exit0();
            assert_eq!(r.value("mmap"), "ENOMEM", "{r}");
            let mb: u64 = r.value("mapped_mb").parse().unwrap();
            assert!(mb < LIMIT >> 20, "{r}");
        }
        Enforcement::Cgroup => {
            // The OOM killer ends it, or a mapping fails first.
            assert!(
                r.status() == &Status::Signaled(libc::SIGKILL) || r.get("mmap") == Some("ENOMEM"),
                "{r}"
            );
        }
        Enforcement::Monitor => panic!("memory enforced by the monitor? {r}"),
    }
    assert!(r.out.outcome.max_rss_kb <= (LIMIT >> 10) + 8 * 1024, "{r}");
}

/// Whether `took` is within 10% and 250 ms of `limit` (slack for a loaded 2-CPU machine; a limit
/// enforced at a coarse tick, or not at all, is far outside it).
fn assert_close(what: &str, took: Duration, limit: Duration) {
    let slack = limit / 10 + Duration::from_millis(250);
    assert!(
        took + slack >= limit && took <= limit + slack,
        "{what}: took {took:?} for a limit of {limit:?}"
    );
}

#[test]
fn cpu_spin_times_out_at_the_cpu_limit() {
    // Exclusive: the CPU time must not be shared with other sandboxes.
    let _g = exclusive();
    let limit = Duration::from_secs(1);
    let limits = Limits {
        cpu_time: Some(limit),
        wall_time: Some(Duration::from_secs(10)),
        ..Limits::default()
    };
    let t = Instant::now();
    let r = Attack::with_limits("spin", limits)
        .policy(&allow_all())
        .run();
    let took = t.elapsed();
    eprintln!("cpu spin: host wall {took:?}, {}", r.out.outcome);
    assert_eq!(r.status(), &Status::Timeout(TimeLimit::Cpu), "{r}");
    assert_close("cpu time", r.out.outcome.cpu_time, limit);
    // In wall time it cannot end before its CPU time ran out; how much later depends on what
    // else the host's CPUs are doing, so only the CPU time is held to the tolerance.
    assert!(took + limit / 10 >= limit, "ended after {took:?}");
}

#[test]
fn cpu_spin_times_out_at_the_wall_limit() {
    // Exclusive: host-measured time, which fork and memory bombs beside it would stretch.
    let _g = exclusive();
    let limit = Duration::from_millis(1500);
    let limits = Limits {
        wall_time: Some(limit),
        ..Limits::default()
    };
    let t = Instant::now();
    let r = Attack::with_limits("spin", limits)
        .policy(&allow_all())
        .run();
    let took = t.elapsed();
    assert_eq!(r.status(), &Status::Timeout(TimeLimit::Wall), "{r}");
    assert_close("wall time", took, limit);
    assert_close("reported wall time", r.out.outcome.wall_time, limit);
}

#[test]
fn file_size_bomb_is_stopped() {
    let _g = shared();
    const LIMIT: u64 = 1 << 20;
    let limits = Limits {
        file_size: Some(LIMIT),
        ..Limits::default()
    };
    let r = Attack::with_limits("fsize", limits)
        .args(["/tmp/big"])
        .policy(&allow_all())
        .run();
    match r.status() {
        Status::Signaled(libc::SIGXFSZ) => {}
        Status::Exited(0) => {
            assert_eq!(r.value("write"), "EFBIG", "{r}");
            let n: u64 = r.value("written").parse().unwrap();
            assert!(n <= LIMIT, "{r}");
        }
        _ => panic!("{r}"),
    }
}

#[test]
fn fd_exhaustion_stops_at_the_open_files_limit() {
    let _g = shared();
    let limits = Limits {
        open_files: Some(64),
        ..Limits::default()
    };
    let r = Attack::with_limits("fds", limits)
        .policy(&allow_all())
        .run();
    r.expect_exit0();
    assert_eq!(r.value("open"), "EMFILE", "{r}");
    let n: u32 = r.value("opened").parse().unwrap();
    assert!(n <= 61, "{r}");
}

#[test]
fn small_tmpfs_fills_up() {
    let _g = shared();
    let r = Attack::new("fill")
        .args(["/small/fill"])
        .with(|c| {
            c.tmpfs("/small", 1 << 20);
        })
        .policy(&allow_all())
        .run();
    r.expect_exit0();
    assert_eq!(r.value("write"), "ENOSPC", "{r}");
    let n: u64 = r.value("written").parse().unwrap();
    assert!(n <= 1 << 20, "{r}");
}

/// Empty files take no space a tmpfs's size counts, only inodes: a tmpfs holds one per 4 KiB of
/// its size (at least 256), so a sandbox cannot pin kernel memory far beyond the size it was
/// given by creating files without end.
#[test]
fn a_tmpfs_runs_out_of_inodes_in_proportion_to_its_size() {
    let _g = shared();
    let r = Attack::new("inodes")
        .args(["/small"])
        .with(|c| {
            c.tmpfs("/small", 1 << 20);
        })
        .policy(&allow_all())
        .run();
    r.expect_exit0();
    assert_eq!(r.value("create"), "ENOSPC", "{r}");
    let files: u64 = r.value("files").parse().unwrap();
    // 256 inodes, the directory's own among them.
    assert!((200..256).contains(&files), "{r}");
}

// ---------------------------------------------------------------------------------------------
// Network

#[test]
fn host_tcp_listener_is_unreachable() {
    let _g = shared();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let r = Attack::new("connect-tcp")
        .args([port.to_string()])
        .policy(&allow_all())
        .run();
    r.expect_exit0();
    assert!(
        ["ECONNREFUSED", "ENETUNREACH"].contains(&r.value("connect")),
        "{r}"
    );
    let e = listener.accept().expect_err("nobody connected");
    assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock);
}

/// Runs `attack` (a connect) to `target` under a policy allowing everything and expects the
/// connection refused: nobody listens there in the sandbox's network namespace.
fn expect_refused(attack: &str, target: &str) {
    let r = Attack::new(attack)
        .args([target])
        .policy(&allow_all())
        .run();
    r.expect_exit0();
    assert_eq!(r.value("connect"), "ECONNREFUSED", "{r}");
}

/// A host service listening on a fresh abstract Unix socket (nonblocking, to tell whether anyone
/// connected), and its name.
fn host_abstract_listener(prefix: &str) -> (String, std::os::unix::net::UnixListener) {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::{SocketAddr, UnixListener};
    let name = unique(prefix);
    let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let listener = UnixListener::bind_addr(&addr).unwrap();
    listener.set_nonblocking(true).unwrap();
    (name, listener)
}

#[test]
fn host_abstract_unix_socket_is_unreachable() {
    let _g = shared();
    let (name, listener) = host_abstract_listener("attack-abstract");
    expect_refused("connect-abstract", &name);
    let e = listener.accept().expect_err("nobody connected");
    assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock);
}

/// The kernel's Landlock ABI (0 without Landlock).
fn landlock_abi() -> i64 {
    // SAFETY: landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION) reads nothing.
    let abi = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<u8>(),
            0usize,
            1u32,
        )
    };
    abi.max(0)
}

/// With the host's network shared, its abstract Unix sockets (a session bus, an X server) are in
/// the sandbox's namespace: Landlock (ABI 6+) keeps the sandbox from those made outside it; on
/// an older kernel it reaches them. Either way host clients can connect in to a name the
/// sandbox binds and hand it files, so it gets the set-id guard.
#[test]
fn host_abstract_unix_socket_is_unreachable_with_the_network_shared() {
    let _g = shared();
    let (name, listener) = host_abstract_listener("attack-abstract-net");
    let r = Attack::new("connect-abstract")
        .args([name.as_str()])
        .with(|c| {
            c.share_network(true);
        })
        .policy(&allow_all())
        .run();
    r.expect_exit0();
    let f = Attack::new("filters")
        .with(|c| {
            c.share_network(true);
        })
        .policy(&allow_all())
        .run();
    assert_eq!(f.value("set-id-mode"), "EPERM", "{f}");
    if landlock_abi() >= 6 {
        assert_eq!(r.value("connect"), "EPERM", "{r}");
        let e = listener.accept().expect_err("nobody connected");
        assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock);
    } else {
        eprintln!(
            "Landlock ABI {} (< 6): the host's abstract sockets are reachable",
            landlock_abi()
        );
        assert_eq!(r.value("connect"), "OK", "{r}");
    }
}

#[test]
fn another_sandbox_is_unreachable_over_loopback_and_abstract_sockets() {
    use std::io::{BufRead, BufReader, Read};
    let _g = shared();
    let name = unique("attack-neighbour");
    let mut listener = Attack::new("listen")
        .args([name.clone()])
        .policy(&allow_all());
    listener.cmd.stdout(Stdio::Piped);
    let mut child = listener.cmd.spawn().expect("the listener starts");
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let port = line
        .trim()
        .strip_prefix("listening port=")
        .unwrap_or_else(|| panic!("the listener did not start: {line:?}"))
        .to_string();
    // Several neighbours: each must be in a network namespace of its own, not one shared.
    for _ in 0..3 {
        expect_refused("connect-abstract", &name);
        expect_refused("connect-tcp", &port);
    }
    child.kill().unwrap();
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    assert_eq!(child.wait().status, Status::Killed);
    assert_eq!(rest, "", "a neighbour reached the listener");
    assert_no_survivors(&listener.tag);
}

#[test]
fn only_loopback_interface_exists() {
    let _g = shared();
    let r = Attack::new("netdev").policy(&allow_all()).run();
    r.expect_exit0();
    assert_eq!(r.value("interfaces"), "lo", "{r}");
}

// ---------------------------------------------------------------------------------------------
// Leaks

#[test]
fn no_host_descriptor_leaks_in() {
    let _g = shared();
    let dir = TempDir::new("fdleak");
    let file = dir.file("open", "x");
    // Opened without O_CLOEXEC, as careless host code would.
    let path = std::ffi::CString::new(s(&file)).unwrap();
    // SAFETY: a live C string; the descriptor is owned below.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDONLY) };
    assert!(fd >= 0);
    // SAFETY: fd is ours.
    let _held = unsafe { OwnedFd::from_raw_fd(fd) };
    let r = Attack::new("fd-list").policy(&allow_all()).run();
    r.expect_exit0();
    let fds: Vec<&str> = r
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("fd "))
        .collect();
    let numbers: Vec<&str> = fds.iter().filter_map(|l| l.split('=').next()).collect();
    assert_eq!(numbers, ["0", "1", "2"], "{r}");
    assert!(!r.stdout.contains(&s(&file)), "{r}");
}

/// Opens `path` on the host with `flags` as a descriptor to hand to a sandbox.
fn host_fd(path: &Path, flags: libc::c_int) -> OwnedFd {
    let c = CString::new(s(path)).unwrap();
    // SAFETY: a live C string; the descriptor is owned below.
    let fd = unsafe { libc::open(c.as_ptr(), flags | libc::O_CLOEXEC) };
    assert!(
        fd >= 0,
        "open {}: {}",
        path.display(),
        std::io::Error::last_os_error()
    );
    // SAFETY: fd was just opened and is ours alone.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

#[test]
fn a_file_passed_read_only_cannot_be_reopened_to_write_or_run() {
    let _g = shared();
    let dir = TempDir::new("reopen-ro");
    // Writable by anyone and executable: only the descriptor's mode stands in the way.
    let input = dir.file("input", "original\n");
    let program = dir.path().join("program");
    std::fs::copy(attacker(), &program).unwrap();
    set_mode(&program, 0o777);
    let r = Attack::new("reopen")
        .args(["0", "5"])
        .with(|c| {
            c.stdin(Stdio::Fd(host_fd(&input, libc::O_RDONLY)));
            c.pass_fd(host_fd(&program, libc::O_RDONLY), 5);
        })
        .policy(&allow_all())
        .run();
    r.expect_exit0();
    for fd in ["0", "5"] {
        // Reading it again (`/dev/stdin`) is what the descriptor allows.
        assert_eq!(r.value(&format!("read {fd}")), "OK", "{r}");
        for denied in ["write", "overwrite", "truncate", "exec"] {
            assert_eq!(
                r.value(&format!("{denied} {fd}")),
                "EACCES",
                "{denied} {fd}: {r}"
            );
        }
    }
    assert_eq!(std::fs::read_to_string(&input).unwrap(), "original\n");
    assert_eq!(
        std::fs::read(&program).unwrap(),
        std::fs::read(attacker()).unwrap()
    );
}

#[test]
fn a_file_passed_write_only_cannot_be_reopened_to_read() {
    let _g = shared();
    let dir = TempDir::new("reopen-wo");
    let log = dir.file("log", "earlier secret\n");
    let out = dir.file("out", "earlier output\n");
    let r = Attack::new("reopen")
        .args(["5", "6"])
        .with(|c| {
            c.pass_fd(host_fd(&log, libc::O_WRONLY | libc::O_APPEND), 5);
            c.pass_fd(host_fd(&out, libc::O_WRONLY), 6);
        })
        .policy(&allow_all())
        .run();
    r.expect_exit0();
    for fd in ["5", "6"] {
        assert_eq!(r.value(&format!("read {fd}")), "EACCES", "{r}");
        // What a write-only descriptor allows, reopened: writing, truncating (appending is no
        // limit a descriptor keeps: F_SETFL clears it).
        for allowed in ["write", "overwrite", "truncate"] {
            assert_eq!(
                r.value(&format!("{allowed} {fd}")),
                "OK",
                "{allowed} {fd}: {r}"
            );
        }
    }
    assert!(!r.stdout.contains("earlier"), "{r}");
}

/// Makes a named pipe at `path` that anyone may open, and returns the host's reading end (kept
/// open, so that a writer's open does not wait) and a write-only end to hand to a sandbox.
fn host_fifo(path: &Path) -> (OwnedFd, OwnedFd) {
    let c = CString::new(s(path)).unwrap();
    // SAFETY: a live C string.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o666) }, 0, "mkfifo");
    set_mode(path, 0o666);
    let reader = host_fd(path, libc::O_RDONLY | libc::O_NONBLOCK);
    (reader, host_fd(path, libc::O_WRONLY))
}

#[test]
fn a_named_pipe_passed_write_only_cannot_be_reopened_to_read() {
    let _g = shared();
    let dir = TempDir::new("reopen-fifo");
    let (host_end, writer) = host_fifo(&dir.path().join("fifo"));
    let r = Attack::new("reopen")
        .args(["5"])
        .with(|c| {
            c.pass_fd(writer, 5);
        })
        .policy(&allow_all())
        .run();
    r.expect_exit0();
    // Reading the host's pipe would take what the host's other writers put in it.
    assert_eq!(r.value("read 5"), "EACCES", "{r}");
    assert_eq!(r.value("write 5"), "OK", "{r}");
    assert_eq!(r.value("exec 5"), "EACCES", "{r}");
    drop(host_end);
}

/// A file the host sends later, on a Unix socket it passed (here the comms channel), cannot be
/// reopened by path at all: the socket alone gives the sandbox the Landlock domain.
#[test]
fn a_file_sent_on_the_comms_channel_cannot_be_reopened_for_more() {
    let _g = shared();
    let dir = TempDir::new("reopen-sent");
    let input = dir.file("input", "original\n");
    let (mut comms, theirs) = Comms::pair().unwrap();
    comms
        .send_fd(host_fd(&input, libc::O_RDONLY))
        .expect("the descriptor waits in the socket");
    let r = Attack::new("reopen-received")
        .with(|c| {
            c.pass_fd(theirs, COMMS_FD);
        })
        .policy(&allow_all())
        .run();
    r.expect_exit0();
    let fd = r.value("received").to_string();
    // No rule names a file that came after the domain was made: by path, nothing at all (the
    // descriptor itself still reads).
    for denied in ["read", "write", "overwrite", "truncate", "exec"] {
        assert_eq!(
            r.value(&format!("{denied} {fd}")),
            "EACCES",
            "{denied}: {r}"
        );
    }
    assert_eq!(std::fs::read_to_string(&input).unwrap(), "original\n");
}

/// The Landlock domain is not free (the kernel walks every opened file's path up to the rule at
/// the root, on each right it handles), so a sandbox given nothing reopening could make do more
/// (pipes, sockets of other families, `/dev/null`) gets a lighter one: here, where its program
/// may make user namespaces, the light one, handling writing alone; one given a regular file, a named pipe, a device its `/dev` does not hold, a Unix socket, a
/// bound socket or the host's network gets the whole domain. Seen from inside, both refuse a
/// mount even in namespaces of the program's own; only the whole one refuses reading a file
/// system the program mounts detached there (`fsmount`), which is outside the root. The
/// program may make those namespaces only where the host allows it, as here: otherwise (see
/// [`no_program_makes_a_user_namespace_unless_the_host_allows_it`]) it can mount nothing, and
/// the domain of a sandbox given nothing to reopen has no file-system right at all.
#[test]
fn only_a_sandbox_given_something_to_reopen_gets_the_landlock_domain() {
    let _g = shared();
    let dir = TempDir::new("landlocked");
    let file = dir.file("file", "x\n");
    let (_host_end, fifo) = host_fifo(&dir.path().join("fifo"));
    let udp: OwnedFd = std::net::UdpSocket::bind("127.0.0.1:0").unwrap().into();
    let (unix, _peer) = std::os::unix::net::UnixStream::pair().unwrap();
    let ptmx = host_fd(Path::new("/dev/ptmx"), libc::O_RDWR | libc::O_NOCTTY);
    let socket = dir.path().join("socket");
    let _service = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    type Setup = Box<dyn FnOnce(&mut SandboxCommand)>;
    let cases: Vec<(&str, Setup, &str)> = vec![
        ("pipes and /dev/null", Box::new(|_| {}), "OK"),
        (
            "a UDP socket",
            Box::new(move |c| {
                c.pass_fd(udp, 5);
            }),
            "OK",
        ),
        (
            "a regular file",
            Box::new(move |c| {
                c.stdin(Stdio::Fd(host_fd(&file, libc::O_RDONLY)));
            }),
            "EACCES",
        ),
        (
            "a named pipe",
            Box::new(move |c| {
                c.pass_fd(fifo, 5);
            }),
            "EACCES",
        ),
        (
            "a terminal's multiplexer",
            Box::new(move |c| {
                c.stderr(Stdio::Fd(ptmx));
            }),
            "EACCES",
        ),
        (
            "a Unix socket",
            Box::new(move |c| {
                c.pass_fd(OwnedFd::from(unix), 5);
            }),
            "EACCES",
        ),
        (
            "a bound socket",
            Box::new(move |c| {
                c.mount_ro(&socket, "/socket");
            }),
            "EACCES",
        ),
        (
            "the host's network",
            Box::new(|c| {
                c.share_network(true);
            }),
            "EACCES",
        ),
    ];
    for (given, setup, read) in cases {
        let r = Attack::new("landlocked")
            .with(setup)
            .with(|c| {
                c.allow_user_namespaces(true);
            })
            .policy(&allow_all())
            .run();
        r.expect_exit0();
        assert_eq!(r.value("unshare"), "OK", "{given}: {r}");
        assert_eq!(r.value("mount_in_own_namespaces"), "EPERM", "{given}: {r}");
        assert_eq!(r.value("detached_mount"), "OK", "{given}: {r}");
        assert_eq!(r.value("read_dir_on_own_mount"), read, "given {given}: {r}");
    }
}

/// Two sandboxes that bind one host directory writable could meet through a Unix socket made
/// there: one listens, the other connects, and the first hands over (`SCM_RIGHTS`) what it was
/// given, a terminal or a file passed read-only, to a sandbox that has neither the terminal
/// guard nor the Landlock rules that confine reopening it. So a sandbox with a writable bind
/// makes no socket file but in its own tmpfs mounts, whatever else it is given: none in the
/// writable bind, by `bind` or `mknod`, and none in a tmpfs that has a writable bind below it.
#[test]
fn no_sandbox_makes_a_socket_where_another_could_connect() {
    let _g = shared();
    assert!(
        landlock_abi() >= 3,
        "this kernel has no Landlock ABI 3: nothing fences sockets in a writable bind"
    );
    let dir = TempDir::new("socket-fence");
    let shared_dir = dir.path().join("shared");
    std::fs::create_dir(&shared_dir).unwrap();
    set_mode(&shared_dir, 0o777);
    let file = dir.file("file", "x\n");
    type Setup = Box<dyn FnOnce(&mut SandboxCommand)>;
    let cases: Vec<(&str, Setup)> = vec![
        ("given nothing", Box::new(|_| {})),
        (
            "given a file read-only",
            Box::new(move |c| {
                c.stdin(Stdio::Fd(host_fd(&file, libc::O_RDONLY)));
            }),
        ),
        (
            "allowed user namespaces",
            Box::new(|c| {
                c.allow_user_namespaces(true);
            }),
        ),
        (
            "sharing the host's network",
            Box::new(|c| {
                c.share_network(true);
            }),
        ),
    ];
    for (case, setup) in cases {
        let r = Attack::new("socket-files")
            .args(["/shared", "/tmp"])
            .mount_rw(&shared_dir, "/shared")
            .with(setup)
            .policy(&allow_all())
            .run();
        r.expect_exit0();
        for how in ["bind", "mknod"] {
            assert_eq!(r.value(&format!("{how} /shared")), "EACCES", "{case}: {r}");
            assert_eq!(r.value(&format!("{how} /tmp")), "OK", "{case}: {r}");
        }
    }
    let r = Attack::new("socket-files")
        .args(["/tmp/w", "/tmp"])
        .mount_rw(&shared_dir, "/tmp/w")
        .policy(&allow_all())
        .run();
    r.expect_exit0();
    for at in ["/tmp/w", "/tmp"] {
        assert_eq!(r.value(&format!("bind {at}")), "EACCES", "{r}");
    }
    let left: Vec<_> = std::fs::read_dir(&shared_dir).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
}

/// Nothing in a sandbox can make a user namespace, whatever its policy allows, unless the host
/// allows it (`allow_user_namespaces`): the sandbox's own user namespace allows no nested one,
/// and the limit that says so is not the program's to raise (its `/proc/sys` is read-only, and
/// the limit takes a capability the program lacks). A user namespace is the one way a process
/// without capabilities gets them, and with them mounts and the kernel code only they open.
/// Checked with nothing given (a domain of scopes alone) and with a regular file given (the
/// whole domain), by `clone` and `unshare`, each right after a sandbox whose program was
/// allowed them: through the fork server, a spare made for that one must not serve these; and
/// without a policy, by `clone3` too.
#[test]
fn no_program_makes_a_user_namespace_unless_the_host_allows_it() {
    let _g = shared();
    let dir = TempDir::new("userns");
    let file = dir.file("file", "x\n");
    for given_a_file in [false, true] {
        let allowed = || {
            Attack::new("user-namespaces")
                .with(|c| {
                    c.allow_user_namespaces(true);
                })
                .policy(&allow_all())
                .run()
        };
        let r = allowed();
        r.expect_exit0();
        assert_ne!(r.value("limit"), "0", "{r}");
        assert_eq!(r.value("clone"), "OK", "{r}");
        assert_eq!(r.value("unshare"), "OK", "{r}");
        let r = Attack::new("user-namespaces")
            .with(|c| {
                if given_a_file {
                    c.stdin(Stdio::Fd(host_fd(&file, libc::O_RDONLY)));
                }
            })
            .policy(&allow_all())
            .run();
        r.expect_exit0();
        let case = if given_a_file {
            "given a file"
        } else {
            "given nothing"
        };
        assert_eq!(r.value("limit"), "0", "{case}: {r}");
        // The sandbox's `/proc/sys` is read-only; behind that, writing the limit takes
        // `CAP_SYS_RESOURCE` in the sandbox's user namespace, which the program lacks.
        assert_eq!(r.value("raise_limit"), "EROFS", "{case}: {r}");
        assert_eq!(r.value("clone"), "ENOSPC", "{case}: {r}");
        assert_eq!(r.value("unshare"), "ENOSPC", "{case}: {r}");
        // Every compiled policy answers `clone3` ENOSYS (its flags are out of a filter's sight).
        assert_eq!(r.value("clone3"), "ENOSYS", "{case}: {r}");
    }
    // Without a policy `clone3` runs, and meets the limit too.
    let r = Attack::new("user-namespaces").run();
    r.expect_exit0();
    assert_eq!(r.value("limit"), "0", "without a policy: {r}");
    for call in ["clone", "unshare", "clone3"] {
        assert_eq!(r.value(call), "ENOSPC", "without a policy, {call}: {r}");
    }
}

/// A sandbox given nothing it could reopen for more, whose program can make no user namespace,
/// gets Landlock's scopes alone (ABI 6+): no file-system right, so that no `open` pays for the
/// domain. Seen from inside: its standard input, the host's `/dev/null` opened only to read,
/// reopens for writing (harmless). One whose program may make user namespaces keeps the light domain,
/// which refuses mounts in them, and refuses that reopening too (as it does for every sandbox
/// from ABI 3 to 5; without ABI 3 no sandbox has a domain).
#[test]
fn only_a_sandbox_that_may_make_user_namespaces_pays_for_a_file_right() {
    let _g = shared();
    let abi = landlock_abi();
    for allowed in [false, true] {
        let r = Attack::new("reopen")
            .args(["0"])
            .with(|c| {
                c.stdin(Stdio::Fd(host_fd(Path::new("/dev/null"), libc::O_RDONLY)))
                    .allow_user_namespaces(allowed);
            })
            .policy(&allow_all())
            .run();
        r.expect_exit0();
        let light = abi >= 3 && (abi < 6 || allowed);
        let expected = if light { "EACCES" } else { "OK" };
        assert_eq!(r.value("write 0"), expected, "allowed {allowed}: {r}");
    }
}

/// A directory's `..` leads up the host's tree, where no Landlock right stops `connect` to a
/// Unix socket by path or a change of metadata: a directory (or a symbolic link opened with
/// `O_PATH | O_NOFOLLOW`) as a passed descriptor or a standard stream is refused before anything
/// of the sandbox runs.
#[test]
fn a_directory_descriptor_is_refused() {
    let _g = shared();
    let dir = TempDir::new("dir-fd");
    let link = dir.path().join("link");
    std::os::unix::fs::symlink("..", &link).unwrap();
    let opened = [
        host_fd(dir.path(), libc::O_RDONLY | libc::O_DIRECTORY),
        host_fd(dir.path(), libc::O_PATH),
        host_fd(&link, libc::O_PATH | libc::O_NOFOLLOW),
    ];
    for (i, fd) in opened.into_iter().enumerate() {
        let mut cmd = SandboxCommand::new(attacker());
        cmd.arg("true").policy(&allow_all());
        if i == 0 {
            cmd.stdin(Stdio::Fd(fd));
        } else {
            cmd.pass_fd(fd, 5);
        }
        match cmd.output() {
            Err(SpawnError::DirectoryDescriptor(what)) => {
                let expected = if i == 0 {
                    "standard input"
                } else {
                    "descriptor 5"
                };
                assert_eq!(what, expected);
            }
            other => panic!("descriptor {i} was not refused: {other:?}"),
        }
    }
}

#[test]
fn no_host_environment_leaks_in() {
    let _g = shared();
    let host: Vec<String> = std::env::vars_os()
        .map(|(k, _)| k.to_string_lossy().into_owned())
        .collect();
    assert!(!host.is_empty());
    let r = Attack::new("env")
        .with(|c| {
            c.env("ONLY", "this");
        })
        .policy(&allow_all())
        .run();
    r.expect_exit0();
    let inside: Vec<&str> = r
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("env "))
        .collect();
    assert_eq!(inside, ["ONLY=this"], "{r}");
    assert_eq!(r.value("env_end"), "1");
}

/// Asserts that nothing was typed into the pty (`slave`, `master`): its input queue (what the
/// next reader of the slave gets, where TIOCSTI puts its byte) and its output queue are empty.
fn assert_nothing_typed_into(slave: &OwnedFd, master: &OwnedFd, r: &dyn std::fmt::Display) {
    use std::os::fd::AsRawFd;
    for (end, fd) in [("input", slave), ("output", master)] {
        let mut pending: libc::c_int = -1;
        // SAFETY: FIONREAD writes one int.
        let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::FIONREAD, &mut pending) };
        assert_eq!(rc, 0, "FIONREAD: {}", std::io::Error::last_os_error());
        assert!(
            pending <= 0,
            "{pending} bytes in the terminal's {end} queue\n{r}"
        );
    }
}

#[test]
fn tiocsti_has_no_controlling_terminal_to_inject_into() {
    let _g = shared();
    // A real terminal as stdin: the slave of a fresh pty, which leads no session.
    let (master, slave) = terminal::pty();
    // The policies allow every ioctl on purpose: no namespace covers a terminal. Under no
    // policy the terminal guard is a filter of its own.
    for policy in [
        None,
        Some(allow_all()),
        Some(compile("default allow;\nallow ioctl;")),
    ] {
        let r = tiocsti_from_inside(slave.try_clone().unwrap(), policy.as_ref());
        // The terminal guard answers TIOCLINUX (the kernel would find no console: ENOTTY).
        assert_eq!(r.value("stdin_tioclinux"), "EPERM", "{r}");
        assert_nothing_typed_into(&slave, &master, &r);
    }
}

/// A child of the program is no process group's leader, so it can start a session of its own
/// and take a terminal that no session has (this fresh pty) as its controlling terminal: only
/// the terminal guard keeps it from typing into it, which refuses `TIOCSTI` whatever the
/// policy's rules allow, and without a policy as a filter of its own.
#[test]
fn a_child_that_takes_a_passed_terminal_still_cannot_type_into_it() {
    let _g = shared();
    let (master, slave) = terminal::pty();
    for policy in [
        None,
        Some(allow_all()),
        Some(compile("default allow;\nallow ioctl;")),
    ] {
        let attack = Attack::new("tiocsti-child")
            .with(|c| {
                c.stdin(Stdio::Fd(slave.try_clone().unwrap()));
            })
            .policy_if(policy.as_ref());
        let r = attack.run();
        r.expect_exit0();
        assert_eq!(r.value("child_setsid"), "OK", "{r}");
        // Taken: so the refusal below is the guard's, not the kernel's for a stranger.
        assert_eq!(r.value("child_tiocsctty"), "OK", "{r}");
        assert_eq!(r.value("child_tiocsti"), "EPERM", "{r}");
        assert_nothing_typed_into(&slave, &master, &r);
    }
}

/// A terminal the host passes reaches past the sandbox through requests the kernel lets any
/// holder make: a new window size signals the terminal's foreground group (the host's shell),
/// exclusive mode keeps the host's later opens out, the line discipline and suspended output
/// outlive the run, and signal-driven I/O (`FIOASYNC`, `F_SETFL` with `O_ASYNC`) makes every
/// byte typed signal the terminal's foreground group. Outside a sandbox the kernel runs them
/// (the control: the size and exclusive mode change, seen from the host, and the program's
/// file has `O_ASYNC`); in a sandbox the terminal guard refuses each with EPERM whatever the
/// policy's rules allow, and without a policy, and the terminal is as the host left it. The
/// program has an open file of its own: what it sets there (`O_ASYNC`, `O_NONBLOCK`, a `flock`
/// lock) is not on the host's open file after the run.
#[test]
fn a_passed_terminal_cannot_be_resized_locked_or_rewired() {
    let _g = shared();
    let requests = ["winsz", "excl", "xonc", "setd", "fioasync", "setfl_async"];
    let (_master, slave) = terminal::pty();
    let out = std::process::Command::new(attacker())
        .args(["terminal-reach", "control"])
        .stdin(slave.try_clone().unwrap())
        .output()
        .unwrap();
    let control = String::from_utf8_lossy(&out.stdout);
    for key in requests
        .iter()
        .chain(&["async_after_fioasync", "async_at_end"])
    {
        let ran = control.lines().any(|l| {
            l.strip_prefix(key)
                .and_then(|rest| rest.strip_prefix('='))
                .is_some_and(|v| v == "OK" || v == "true")
        });
        assert!(ran, "{key} outside a sandbox:\n{control}");
    }
    let (size, exclusive) = terminal_state(&slave);
    assert_eq!((size.ws_row, size.ws_col, exclusive), (33, 77, true));
    let policies = [
        None,
        Some(allow_all()),
        Some(compile("default allow;\nallow ioctl;")),
    ];
    for policy in &policies {
        let (_master, slave) = terminal::pty();
        let attack = Attack::new("terminal-reach")
            .with(|c| {
                c.stdin(Stdio::Fd(slave.try_clone().unwrap()));
            })
            .policy_if(policy.as_ref());
        let r = attack.run();
        r.expect_exit0();
        let (size, exclusive) = terminal_state(&slave);
        for key in ["nonblock", "flock"] {
            assert_eq!(r.value(key), "OK", "{key}\n{r}");
        }
        assert_the_hosts_open_file_is_untouched(&slave, &r);
        for key in requests {
            assert_eq!(r.value(key), "EPERM", "{key}\n{r}");
        }
        for key in ["async_after_fioasync", "async_at_end"] {
            assert_eq!(r.value(key), "false", "{key}\n{r}");
        }
        assert_eq!((size.ws_row, size.ws_col), (0, 0), "{r}");
        assert!(!exclusive, "{r}");
    }
}

/// What a program sets on its open file of the terminal `slave` is not on the host's after the
/// run: no `O_ASYNC` or `O_NONBLOCK` there, and another open file of the terminal can take the
/// `flock` lock the program took (exclusive mode, which the program may have set, is lifted
/// first so that the terminal can be opened again).
fn assert_the_hosts_open_file_is_untouched(slave: &OwnedFd, r: &Report) {
    use std::os::fd::AsRawFd;
    // SAFETY: F_GETFL takes no argument.
    let flags = unsafe { libc::fcntl(slave.as_raw_fd(), libc::F_GETFL) };
    assert_eq!(flags & (libc::O_ASYNC | libc::O_NONBLOCK), 0, "{r}");
    // SAFETY: TIOCNXCL takes no argument.
    let rc = unsafe { libc::ioctl(slave.as_raw_fd(), libc::TIOCNXCL) };
    assert_eq!(rc, 0, "TIOCNXCL: {}", std::io::Error::last_os_error());
    let again = std::fs::File::open(format!("/proc/self/fd/{}", slave.as_raw_fd())).unwrap();
    // SAFETY: flock with integer arguments.
    let locked = unsafe { libc::flock(again.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    assert_eq!(locked, 0, "{}\n{r}", std::io::Error::last_os_error());
}

/// The window size of the terminal `fd` and whether it is in exclusive mode, as the host sees.
fn terminal_state(fd: &OwnedFd) -> (libc::winsize, bool) {
    use std::os::fd::AsRawFd;
    // SAFETY: winsize is plain data that TIOCGWINSZ fills.
    let mut size: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ writes one winsize through the live pointer.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCGWINSZ, &mut size) };
    assert_eq!(rc, 0, "TIOCGWINSZ: {}", std::io::Error::last_os_error());
    let mut exclusive: libc::c_int = -1;
    // SAFETY: TIOCGEXCL writes one int through the live pointer.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCGEXCL, &mut exclusive) };
    assert_eq!(rc, 0, "TIOCGEXCL: {}", std::io::Error::last_os_error());
    (size, exclusive != 0)
}

/// Runs the `tiocsti` attack with the terminal `stdin` as its standard input, under `policy` or
/// none, and asserts what holds whatever the terminal: the program leads no session and has
/// a process group of its own, so no terminal can become its controlling terminal, it has
/// none (`/dev/tty`), and TIOCSTI refuses (the prelude's guard refuses it as well).
fn tiocsti_from_inside(stdin: OwnedFd, policy: Option<&Policy>) -> Report {
    let attack = Attack::new("tiocsti")
        .with(|c| {
            c.stdin(Stdio::Fd(stdin));
        })
        .policy_if(policy);
    let r = attack.run();
    r.expect_exit0();
    assert_eq!(r.value("stdin_tiocsctty"), "EPERM", "{r}");
    assert_eq!(r.value("stdin_tiocsti"), tiocsti_refusal(), "{r}");
    assert_eq!(r.value("sid_is_self"), "false", "{r}");
    assert_eq!(r.value("pgid_is_self"), "true", "{r}");
    assert_ne!(r.value("open_dev_tty"), "OK", "{r}");
    r
}

/// What TIOCSTI answers a process without `CAP_SYS_ADMIN` on a terminal that is not its
/// controlling terminal: EPERM, or EIO before that where `dev.tty.legacy_tiocsti` is off.
fn tiocsti_refusal() -> &'static str {
    match std::fs::read_to_string("/proc/sys/dev/tty/legacy_tiocsti") {
        Ok(v) if v.trim() == "0" => "EIO",
        _ => "EPERM",
    }
}

/// The re-run's own check that the terminal it runs in is its controlling terminal, and that
/// a process with it there can type into it: what the sandbox must not be able to do.
fn typing_into_this_terminal_works() {
    let tty = terminal::controlling_terminal();
    use std::os::fd::AsRawFd;
    if tiocsti_refusal() != "EPERM" {
        eprintln!(
            "NOTICE: dev.tty.legacy_tiocsti is off here: TIOCSTI refuses every process without \
             CAP_SYS_ADMIN, so no control shows that it types into this terminal"
        );
    } else {
        // Without echo, so that the byte leaves nothing in the output queue either.
        // SAFETY: termios is plain data that tcgetattr fills and tcsetattr reads.
        unsafe {
            let mut t: libc::termios = std::mem::zeroed();
            assert_eq!(libc::tcgetattr(tty.as_raw_fd(), &mut t), 0);
            t.c_lflag &= !libc::ECHO;
            assert_eq!(libc::tcsetattr(tty.as_raw_fd(), libc::TCSANOW, &t), 0);
        }
        let c = b'x';
        // SAFETY: TIOCSTI reads one byte through the pointer.
        let rc = unsafe { libc::ioctl(tty.as_raw_fd(), libc::TIOCSTI, &c as *const u8) };
        assert_eq!(
            rc,
            0,
            "TIOCSTI on the re-run's own terminal: {}",
            std::io::Error::last_os_error()
        );
        // Takes the byte back out of the input queue, so that the test's check finds it empty.
        // SAFETY: TCFLSH with an integer argument.
        assert_eq!(
            unsafe { libc::ioctl(tty.as_raw_fd(), libc::TCFLSH, libc::TCIFLUSH) },
            0
        );
    }
}

/// A host run from a terminal (its controlling terminal) does not hand it to the sandbox:
/// the program has no controlling terminal, cannot make the host's terminal it is given as
/// stdin its own, and cannot type into it, whatever the policy allows.
#[test]
fn a_terminal_the_host_runs_in_is_not_the_sandboxs() {
    let name = "attack_suite::a_terminal_the_host_runs_in_is_not_the_sandboxs";
    if !terminal::this_is_the_rerun() {
        let (master, slave) = terminal::pty();
        terminal::rerun_with_a_terminal(name, &slave);
        assert_nothing_typed_into(&slave, &master, &name);
        return;
    }
    typing_into_this_terminal_works();
    let _g = shared();
    for policy in [None, Some(compile("default allow;\nallow ioctl;"))] {
        use std::os::fd::AsFd;
        let stdin = std::io::stdin().as_fd().try_clone_to_owned().unwrap();
        tiocsti_from_inside(stdin, policy.as_ref());
    }
}

/// Virtio sockets reach the hypervisor and the VM's other guests, and no network namespace
/// covers them: the prelude answers `socket(AF_VSOCK)` with EPERM (a kernel without them
/// answers EAFNOSUPPORT) even where the policy allows `socket` on purpose.
#[test]
fn vsock_is_refused_whatever_the_policy_allows() {
    let _g = shared();
    // SAFETY: integer arguments; the descriptor is closed at once.
    let host = unsafe { libc::socket(libc::AF_VSOCK, libc::SOCK_STREAM, 0) };
    if host >= 0 {
        // SAFETY: ours.
        unsafe { libc::close(host) };
    } else {
        eprintln!(
            "NOTICE: this host has no virtio sockets ({}): the sandbox's EPERM is the guard's \
             answer all the same, but nothing here would be reachable",
            std::io::Error::last_os_error()
        );
    }
    for policy in [
        allow_all(),
        compile(&format!("{ALL_GROUPS}\nallow socket;")),
    ] {
        let r = Attack::new("vsock").policy(&policy).run();
        r.expect_exit0();
        assert_eq!(r.value("vsock_socket"), "EPERM", "{r}");
    }
}

/// The host's session keyring (one `pam_keyinit` would make at a login) holding a secret key:
/// no namespace covers keyrings, so only init's new session keyring keeps them from the
/// sandbox, which would otherwise possess them and read, search and add to them whatever its
/// ids. Session keyrings are per thread: every test thread joins the same one by name (which
/// finds it only once it is searchable by its owner), and `ready` joins it before the fork
/// server starts, so that the server, cloned from that thread, holds it too.
fn host_keyring() -> HostKeyring {
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
    const KEYCTL_SETPERM: libc::c_long = 5;
    const KEYCTL_GET_KEYRING_ID: libc::c_long = 0;
    const KEY_SPEC_SESSION_KEYRING: libc::c_long = -3;
    // Possessor: everything; owner: view, read, search, link, but not write, so that a
    // sandbox running as the same host user (an unprivileged host) cannot add to it by its ids.
    const PERM: libc::c_long = 0x3f1b_0000;
    static MADE: std::sync::Mutex<Option<(i64, i64)>> = std::sync::Mutex::new(None);
    let mut made = MADE.lock().unwrap_or_else(|e| e.into_inner());
    let ring_name = CString::new(format!("sandbox-attack-suite-{}", std::process::id())).unwrap();
    // SAFETY: keyctl with a live C string.
    let joined = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_JOIN_SESSION_KEYRING,
            ring_name.as_ptr(),
        )
    };
    assert!(
        joined >= 0,
        "join a session keyring: {}",
        std::io::Error::last_os_error()
    );
    // 0 when this thread had joined it already.
    // SAFETY: keyctl with integer arguments.
    let ring = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_GET_KEYRING_ID,
            KEY_SPEC_SESSION_KEYRING,
            0,
        )
    };
    assert!(
        ring > 0,
        "the session keyring's id: {}",
        std::io::Error::last_os_error()
    );
    let key_name = format!("host-secret-{}", std::process::id());
    let (made_ring, key) = *made.get_or_insert_with(|| {
        // SAFETY: keyctl with integer arguments, on the keyring this thread possesses.
        let r = unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_SETPERM, ring, PERM) };
        assert_eq!(
            r,
            0,
            "set the keyring's permissions: {}",
            std::io::Error::last_os_error()
        );
        let (user, desc) = (
            CString::new("user").unwrap(),
            CString::new(key_name.as_str()),
        );
        let secret = b"HOST-SECRET";
        // SAFETY: add_key with live strings and payload, into the keyring just joined.
        let key = unsafe {
            libc::syscall(
                libc::SYS_add_key,
                user.as_ptr(),
                desc.unwrap().as_ptr(),
                secret.as_ptr(),
                secret.len(),
                ring,
            )
        };
        assert!(key > 0, "add a key: {}", std::io::Error::last_os_error());
        (ring, key)
    });
    assert_eq!(
        ring, made_ring,
        "this thread joined another keyring of the same name"
    );
    HostKeyring {
        ring,
        key,
        key_name,
    }
}

/// What [`host_keyring`] set up.
struct HostKeyring {
    ring: i64,
    key: i64,
    key_name: String,
}

impl HostKeyring {
    /// The serials of the keys linked in the keyring.
    fn keys(&self) -> Vec<i32> {
        const KEYCTL_READ: libc::c_long = 11;
        let mut buf = [0i32; 64];
        // SAFETY: KEYCTL_READ writes at most the given number of bytes into buf.
        let n = unsafe {
            libc::syscall(
                libc::SYS_keyctl,
                KEYCTL_READ,
                self.ring,
                buf.as_mut_ptr(),
                std::mem::size_of_val(&buf),
            )
        };
        assert!(
            n >= 0,
            "read the keyring: {}",
            std::io::Error::last_os_error()
        );
        buf[..(n as usize / 4).min(buf.len())].to_vec()
    }
}

#[test]
fn the_hosts_session_keyring_is_not_the_sandboxes_to_possess() {
    let _g = shared();
    let host = host_keyring();
    let r = Attack::new("keyring")
        .args([
            host.ring.to_string(),
            host.key.to_string(),
            host.key_name.clone(),
        ])
        .policy(&allow_all())
        .run();
    r.expect_exit0();
    let own = r.value("session_keyring");
    assert!(own.parse::<i64>().is_ok(), "{r}");
    assert_ne!(own, host.ring.to_string(), "{r}");
    assert_eq!(r.value("read_host_key"), "EACCES", "{r}");
    assert_eq!(r.value("search_host_key"), "ENOKEY", "{r}");
    assert_eq!(r.value("add_to_host_keyring"), "EACCES", "{r}");
    assert_eq!(host.keys(), [host.key as i32], "the host's keyring changed");
}

// ---------------------------------------------------------------------------------------------
// Host side

/// Runs a hostile comms peer; the host's receive must fail within its time-out, not hang or
/// panic, and the host must stay able to kill and reap the sandbox.
fn hostile_comms(kind: &str) -> CommsError {
    let _g = shared();
    let (mut comms, theirs) = Comms::pair().unwrap();
    comms.set_timeout(Some(Duration::from_secs(2))).unwrap();
    let tag = unique("tag:comms");
    let mut cmd = SandboxCommand::new(attacker());
    cmd.args(["comms", kind, &tag]);
    bind_libraries(&mut cmd);
    cmd.mount_ro(attacker(), attacker())
        .pass_fd(theirs, COMMS_FD)
        .stdout(Stdio::Null)
        .policy(&allow_all())
        .limits(Limits {
            wall_time: Some(Duration::from_secs(30)),
            ..Limits::default()
        });
    let mut child = cmd.spawn().unwrap();
    let t = Instant::now();
    let err = loop {
        match comms.recv_bytes() {
            Ok(_) => continue,
            Err(e) => break e,
        }
    };
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "{kind}: {:?}",
        t.elapsed()
    );
    child.kill().unwrap();
    let outcome = child.wait();
    assert!(
        matches!(outcome.status, Status::Killed | Status::Exited(0)),
        "{kind}: {outcome}"
    );
    assert_no_survivors(&tag);
    err
}

#[test]
fn comms_garbage_is_refused() {
    let e = hostile_comms("garbage");
    assert!(!matches!(e, CommsError::Closed), "{e}");
    // Refused for what it is, not by the time-out: the first header's tag is unknown.
    assert!(matches!(e, CommsError::WrongType { .. }), "{e}");
}

#[test]
fn comms_huge_length_is_refused_before_allocating() {
    let e = hostile_comms("huge");
    assert!(matches!(e, CommsError::TooLarge { .. }), "{e}");
}

#[test]
fn comms_unknown_tag_is_refused() {
    let e = hostile_comms("bad-tag");
    assert!(matches!(e, CommsError::WrongType { .. }), "{e}");
}

#[test]
fn comms_peer_exiting_mid_message_is_truncation() {
    let e = hostile_comms("partial");
    assert!(matches!(e, CommsError::Truncated), "{e}");
}

#[test]
fn comms_silent_peer_times_out() {
    let e = hostile_comms("silent");
    match &e {
        CommsError::Io(io) => assert!(
            matches!(
                io.kind(),
                std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
            ),
            "{e}"
        ),
        _ => panic!("{e}"),
    }
}

#[test]
fn comms_flood_is_refused() {
    let e = hostile_comms("flood");
    assert!(!matches!(e, CommsError::Closed), "{e}");
    // Refused for what it is, not by the time-out.
    assert!(matches!(e, CommsError::WrongType { .. }), "{e}");
}

/// What the host holds: open descriptors, mounts, and zombie children.
#[derive(Debug, PartialEq, Eq)]
struct HostState {
    fds: usize,
    mounts: usize,
    zombies: usize,
}

fn host_state() -> HostState {
    let fds = std::fs::read_dir("/proc/self/fd").unwrap().count();
    let mounts = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .count();
    let me = std::process::id().to_string();
    let mut zombies = 0;
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        if e.file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
            .is_none()
        {
            continue;
        }
        let Ok(status) = std::fs::read_to_string(e.path().join("status")) else {
            continue;
        };
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .map(|v| v.trim().to_string())
                .unwrap_or_default()
        };
        if field("PPid:") == me && field("State:").starts_with('Z') {
            zombies += 1;
        }
    }
    HostState {
        fds,
        mounts,
        zombies,
    }
}

/// The host's state once it holds still: two looks 10 ms apart agree (a second at most). A
/// monitor thread lets its reference to its sandbox's mount namespace go just after `wait` has
/// returned, so right after a test's last sandbox the host may still hold one.
fn settled_host_state() -> HostState {
    let deadline = Instant::now() + Duration::from_secs(1);
    let mut last = host_state();
    loop {
        std::thread::sleep(Duration::from_millis(10));
        let now = host_state();
        if now == last || Instant::now() >= deadline {
            return now;
        }
        last = now;
    }
}

/// Asserts that the host gets back to `before` within a second (see [`settled_host_state`]).
fn assert_host_state_returns_to(before: &HostState) {
    let deadline = Instant::now() + Duration::from_secs(1);
    let mut now = host_state();
    while now != *before && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
        now = host_state();
    }
    assert_eq!(now, *before);
}

fn run_true(tag: &str) -> Status {
    let mut cmd = SandboxCommand::new("/bin/true");
    cmd.arg(tag);
    for d in ["/bin", "/usr", "/lib", "/lib64"] {
        if Path::new(d).exists() {
            cmd.mount_ro(d, d);
        }
    }
    cmd.policy(&allow_all())
        .limits(Limits {
            wall_time: Some(Duration::from_secs(60)),
            ..Limits::default()
        })
        .status()
        .expect("the sandbox starts")
        .status
}

#[test]
fn hundred_concurrent_sandboxes_leave_nothing_behind() {
    let _g = exclusive();
    let before = settled_host_state();
    let tag = unique("tag:concurrent");
    let threads: Vec<_> = (0..100)
        .map(|_| {
            let tag = tag.clone();
            std::thread::spawn(move || run_true(&tag))
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), Status::Exited(0));
    }
    assert_no_survivors(&tag);
    assert_host_state_returns_to(&before);
}

/// 1000 sequential runs of /bin/true take about 12 s in a debug build on a 2-CPU machine, well
/// under a minute, so the full count is kept.
const SEQUENTIAL_RUNS: usize = 1000;

#[test]
fn thousand_sequential_sandboxes_leave_nothing_behind() {
    let _g = exclusive();
    let before = settled_host_state();
    let tag = unique("tag:sequential");
    let t = Instant::now();
    for _ in 0..SEQUENTIAL_RUNS {
        assert_eq!(run_true(&tag), Status::Exited(0));
    }
    eprintln!("{SEQUENTIAL_RUNS} sequential sandboxes: {:?}", t.elapsed());
    assert_no_survivors(&tag);
    assert_host_state_returns_to(&before);
}
