//! What happened to a sandboxed program: how it ended, what it used, which limits held it.
//!
//! [`Outcome`] prints as one line (`Display`) and as the JSON object the `sandbox` tool prints
//! ([`Outcome::to_json`]).

use crate::limits::{EnforcedLimit, Enforcement};
use sandbox_policy::{describe, Arch};
use serde::{Serialize, Serializer};
use serde_json::{json, Value};
use std::fmt;
use std::io;
use std::time::Duration;

/// Everything the runtime knows about a finished sandbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// How the sandbox ended.
    pub status: Status,
    /// Time from the clone to the sandbox's end: init's report that the program ended and
    /// nothing else of the sandbox runs, or, without it (a kill), the reaping of init.
    pub wall_time: Duration,
    /// User plus system CPU time of every process of the sandbox, counted by init as it reaps
    /// them at the end, also after a time-out or a violation of a sandbox with a policy (on a
    /// kernel with seccomp user notification, which tells the monitor the program's pid). When
    /// init itself was killed (a time-out of a sandbox without either, [`Status::Killed`], a
    /// setup error, or an init that did not report within a quarter of a second of the end),
    /// the kernel reaps the rest without counting it: then only init's own time and that of
    /// what it had reaped by then. A process whose parent lets its children be reaped
    /// unwaited (SIGCHLD ignored) is never counted.
    pub cpu_time: Duration,
    /// The largest resident set size of any reaped process of the sandbox, in KiB. The kernel
    /// counts a process's memory from before its exec too: a sandbox cloned directly from the
    /// host therefore reports at least the host's resident size at the spawn; one cloned by the
    /// fork server ([`crate::start_fork_server`]), the server's.
    pub max_rss_kb: u64,
    /// The most memory the kernel charged to the whole sandbox at once (every process,
    /// including page cache it brought in), in KiB: known when memory was limited through a
    /// cgroup (its `memory.max_usage_in_bytes` or `memory.peak`), `None` otherwise. Pages that
    /// were already in memory when the sandbox touched them (shared libraries, cached files)
    /// stay charged elsewhere, so for a small program this can be below [`Self::max_rss_kb`].
    pub memory_peak_kb: Option<u64>,
    /// Whether the kernel's OOM killer killed a process of the sandbox (known only when memory
    /// was limited through a cgroup).
    pub oom_killed: bool,
    /// Whether a fork or clone in the sandbox failed because of its pids limit (known only
    /// when a cgroup held the limit).
    pub pids_limit_hit: bool,
    /// The limits that were applied and the mechanism that enforced each.
    pub enforced_limits: Vec<EnforcedLimit>,
    /// In the learn and log-violations modes, the observed calls that were not passed on
    /// because [`crate::OBSERVATIONS_PENDING_MOST`] before them had not been taken yet (see
    /// [`crate::SandboxChild::observations`]): what they showed is missing from what was read.
    /// 0 in the enforcing mode.
    pub observations_dropped: u64,
}

/// How a sandbox ended, in order of precedence: a setup error hides everything after it, a
/// violation hides the kill that follows it, and so on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    /// The program exited on its own with this code.
    Exited(i32),
    /// The program made a system call its policy forbids; the whole sandbox was killed.
    Violation(Violation),
    /// The program was killed by this signal (not by the runtime). When the kernel's OOM
    /// killer ended the sandbox under its cgroup memory limit, this is SIGKILL with
    /// [`Outcome::oom_killed`] set, whichever of the sandbox's processes it took.
    Signaled(i32),
    /// A time limit ran out, the one named; the whole sandbox was killed.
    Timeout(TimeLimit),
    /// The sandbox was killed from outside: [`crate::SandboxChild::kill`], a drop, or another
    /// process killing the sandbox's init.
    Killed,
    /// The sandbox could not be set up; the program never ran.
    SetupError(SetupError),
}

/// Which time limit of [`crate::Limits`] ended a sandbox.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeLimit {
    /// [`crate::Limits::wall_time`]: the monitor killed the sandbox at its deadline.
    Wall,
    /// [`crate::Limits::cpu_time`]: the kernel's `RLIMIT_CPU` ended the program.
    Cpu,
}

impl TimeLimit {
    /// The word the JSON report uses for this limit: `"wall_time"` or `"cpu_time"`, the
    /// limit's name in [`crate::Limits`] and in the report's `enforced_limits`.
    pub fn keyword(self) -> &'static str {
        match self {
            TimeLimit::Wall => "wall_time",
            TimeLimit::Cpu => "cpu_time",
        }
    }
}

impl fmt::Display for TimeLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TimeLimit::Wall => "wall-time limit",
            TimeLimit::Cpu => "CPU-time limit",
        })
    }
}

/// A forbidden system call, as the kernel reported it to the monitor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The call's name on its architecture, or `"unknown"`.
    pub syscall: String,
    /// The call's number on its architecture.
    pub nr: u32,
    /// The architecture of the call: `"x86_64"`, `"i386"` (an `int 0x80` call on x86-64), ...
    pub arch: String,
    /// The six argument registers.
    pub args: [u64; 6],
    /// The instruction pointer at the call.
    pub ip: u64,
    /// Where the instruction pointer lies, read from the process's maps while the call was
    /// blocked: `FILE+0xOFFSET` (the offset into the file, for `addr2line -e FILE OFFSET`),
    /// `[vdso]+0xOFFSET`, or `anonymous memory`; `None` where the maps could not be read.
    pub location: Option<String>,
    /// The calling process, as the host sees it; `None` when the caller was gone before it
    /// could be looked up (another thread's `execve` ends every other thread of its process).
    pub pid: Option<u32>,
    /// The calling thread, as the host sees it: the process's own id for its main thread.
    pub tid: u32,
    /// What in the policy decided: a rule, the default, or a prelude check.
    pub decided_by: String,
}

/// A step of the set-up between clone and exec that failed, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetupError {
    /// The step, in words: `bind /data read-only`, `execute /bin/nope`, ...
    pub step: String,
    /// The OS error number, or 0 when the cause is not an OS error.
    pub errno: i32,
    /// The cause in words.
    pub cause: String,
}

impl SetupError {
    /// A failed step with an OS error number.
    pub fn from_errno(step: impl Into<String>, errno: i32) -> Self {
        SetupError {
            step: step.into(),
            errno,
            cause: io::Error::from_raw_os_error(errno).to_string(),
        }
    }

    /// A failed step whose cause is not an OS error.
    pub fn other(step: impl Into<String>, cause: impl Into<String>) -> Self {
        SetupError {
            step: step.into(),
            errno: 0,
            cause: cause.into(),
        }
    }
}

impl fmt::Display for SetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.step, self.cause)
    }
}

impl std::error::Error for SetupError {}

impl fmt::Display for Violation {
    /// `socket(AF_INET, SOCK_STREAM, 0) [nr 41, x86_64] by pid 7 at /usr/lib/libc.so.6+0x1234 —
    /// no rule matches; default is kill`: the call as its prototype reads, with the arguments
    /// policies constrain named, and where the call was made.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let arch = Arch::from_name(&self.arch);
        write_call(f, &self.syscall, self.nr, arch, &self.arch, &self.args)?;
        match self.pid {
            Some(pid) if pid == self.tid => write!(f, " by pid {pid}")?,
            Some(pid) => write!(f, " by pid {pid} (thread {})", self.tid)?,
            None => write!(f, " by thread {}", self.tid)?,
        }
        if let Some(location) = &self.location {
            write!(f, " at {location}")?;
        }
        write!(f, " \u{2014} {}", self.decided_by)
    }
}

/// Writes `name(args) [nr N, arch]`, the start of a violation's or an observation's line: the
/// call as its prototype reads, with the arguments policies constrain named; the raw registers
/// in hex when `arch` is not one this build knows.
pub(crate) fn write_call(
    f: &mut fmt::Formatter<'_>,
    name: &str,
    nr: u32,
    arch: Option<Arch>,
    arch_name: &str,
    args: &[u64; 6],
) -> fmt::Result {
    match arch {
        Some(arch) => f.write_str(&describe::call(arch, nr, args))?,
        None => {
            let raw: Vec<String> = args.iter().map(|a| format!("{a:#x}")).collect();
            write!(f, "{name}({})", raw.join(", "))?;
        }
    }
    write!(f, " [nr {nr}, {arch_name}]")
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Status::Exited(c) => write!(f, "exited with code {c}"),
            Status::Violation(v) => write!(f, "policy violation: {v}"),
            Status::Signaled(s) => write!(f, "killed by signal {} ({})", s, signal_name(*s)),
            Status::Timeout(limit) => write!(f, "timed out: its {limit} ran out"),
            Status::Killed => f.write_str("killed from outside"),
            Status::SetupError(e) => write!(f, "setup error: {e}"),
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (wall {} ms, cpu {} ms, max rss {} KiB)",
            self.status,
            self.wall_time.as_millis(),
            self.cpu_time.as_millis(),
            self.max_rss_kb
        )?;
        if let Some(peak) = self.memory_peak_kb {
            write!(f, " [sandbox memory peak {peak} KiB]")?;
        }
        if self.oom_killed {
            f.write_str(" [out of memory]")?;
        }
        if self.pids_limit_hit {
            f.write_str(" [pids limit hit]")?;
        }
        if self.observations_dropped > 0 {
            write!(f, " [{} observations dropped]", self.observations_dropped)?;
        }
        Ok(())
    }
}

impl Status {
    /// The word the JSON report uses for this status.
    pub fn keyword(&self) -> &'static str {
        match self {
            Status::Exited(_) => "ok",
            Status::Violation(_) => "violation",
            Status::Signaled(_) => "signaled",
            Status::Timeout(_) => "timeout",
            Status::Killed => "killed",
            Status::SetupError(_) => "setup_error",
        }
    }

    /// Whether the program ran and exited with code 0.
    pub fn success(&self) -> bool {
        matches!(self, Status::Exited(0))
    }
}

impl Outcome {
    /// The outcome of a sandbox that failed before anything of it ran: `error`, no time, no
    /// memory, no limit enforced.
    pub fn never_ran(error: SetupError) -> Outcome {
        Outcome {
            status: Status::SetupError(error),
            wall_time: Duration::ZERO,
            cpu_time: Duration::ZERO,
            max_rss_kb: 0,
            memory_peak_kb: None,
            oom_killed: false,
            pids_limit_hit: false,
            enforced_limits: Vec::new(),
            observations_dropped: 0,
        }
    }

    /// How limit `limit` (a field of [`crate::Limits`], such as `"memory"`) was enforced, if it
    /// was applied.
    pub fn enforced_by(&self, limit: &str) -> Option<Enforcement> {
        self.enforced_limits
            .iter()
            .find(|e| e.limit == limit)
            .map(|e| e.by)
    }

    /// The exit code, if the program exited on its own.
    pub fn exit_code(&self) -> Option<i32> {
        match self.status {
            Status::Exited(c) => Some(c),
            _ => None,
        }
    }

    /// The report the `sandbox` tool prints:
    /// `{"status", "exit_code", "signal", "violation", "time_limit", "wall_time_ms",
    /// "cpu_time_ms", "max_rss_kb", "memory_peak_kb", "oom_killed", "pids_limit_hit",
    /// "enforced_limits", "observations_dropped", "error"}`, where
    /// `violation` is `{"syscall", "nr", "arch", "args", "decided_by", "pid", "tid", "ip",
    /// "location"}`,
    /// `time_limit` names the limit that ran out on a time-out (`"wall_time"` or `"cpu_time"`)
    /// and `enforced_limits` lists `{"limit", "value", "by"}` for each limit applied.
    pub fn to_json(&self) -> Value {
        let mut exit_code = Value::Null;
        let mut signal = Value::Null;
        let mut violation = Value::Null;
        let mut time_limit = Value::Null;
        let mut error = Value::Null;
        match &self.status {
            Status::Exited(c) => exit_code = json!(c),
            Status::Signaled(s) => signal = json!(s),
            Status::Violation(v) => {
                violation = json!({
                    "syscall": v.syscall,
                    "nr": v.nr,
                    "arch": v.arch,
                    "args": v.args,
                    "decided_by": v.decided_by,
                    "pid": v.pid,
                    "tid": v.tid,
                    "ip": v.ip,
                    "location": v.location,
                });
            }
            Status::Timeout(limit) => time_limit = json!(limit.keyword()),
            Status::SetupError(e) => error = json!(e.to_string()),
            Status::Killed => {}
        }
        json!({
            "status": self.status.keyword(),
            "exit_code": exit_code,
            "signal": signal,
            "violation": violation,
            "time_limit": time_limit,
            "wall_time_ms": duration_ms(self.wall_time),
            "cpu_time_ms": duration_ms(self.cpu_time),
            "max_rss_kb": self.max_rss_kb,
            "memory_peak_kb": self.memory_peak_kb,
            "oom_killed": self.oom_killed,
            "pids_limit_hit": self.pids_limit_hit,
            "enforced_limits": self.enforced_limits,
            "observations_dropped": self.observations_dropped,
            "error": error,
        })
    }
}

impl Serialize for Outcome {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(serializer)
    }
}

fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The conventional name of a signal number (`SIGSEGV`), or `"unknown"`.
pub fn signal_name(sig: i32) -> &'static str {
    match nix::sys::signal::Signal::try_from(sig) {
        Ok(s) => s.as_str(),
        Err(_) => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(status: Status) -> Outcome {
        Outcome {
            status,
            wall_time: Duration::from_millis(1500),
            cpu_time: Duration::from_millis(20),
            max_rss_kb: 1024,
            memory_peak_kb: None,
            oom_killed: false,
            pids_limit_hit: false,
            enforced_limits: Vec::new(),
            observations_dropped: 0,
        }
    }

    #[test]
    fn json_of_exit() {
        let j = outcome(Status::Exited(3)).to_json();
        assert_eq!(j["status"], "ok");
        assert_eq!(j["exit_code"], 3);
        assert_eq!(j["signal"], Value::Null);
        assert_eq!(j["wall_time_ms"], 1500);
    }

    #[test]
    fn json_of_violation_and_setup_error() {
        let v = Violation {
            syscall: "socket".into(),
            nr: 41,
            arch: "x86_64".into(),
            args: [2, 1, 0, 0, 0, 0],
            ip: 0x1000,
            location: Some("/usr/lib/libc.so.6+0x1000".into()),
            pid: Some(7),
            tid: 9,
            decided_by: "rule `kill socket`".into(),
        };
        let line = v.to_string();
        assert!(
            line.ends_with(
                "by pid 7 (thread 9) at /usr/lib/libc.so.6+0x1000 \u{2014} rule `kill socket`"
            ),
            "{line}"
        );
        // A caller gone before its process was looked up is named by its thread alone.
        let unknown = Violation {
            pid: None,
            ..v.clone()
        };
        assert!(
            unknown.to_string().contains(" by thread 9 at "),
            "{unknown}"
        );
        assert_eq!(
            outcome(Status::Violation(unknown)).to_json()["violation"]["pid"],
            Value::Null
        );
        let j = outcome(Status::Violation(v)).to_json();
        assert_eq!(j["status"], "violation");
        assert_eq!(j["violation"]["syscall"], "socket");
        assert_eq!(j["violation"]["args"][0], 2);
        assert_eq!(j["violation"]["decided_by"], "rule `kill socket`");
        assert_eq!(j["violation"]["pid"], 7);
        assert_eq!(j["violation"]["tid"], 9);
        assert_eq!(j["violation"]["ip"], 0x1000);
        assert_eq!(j["violation"]["location"], "/usr/lib/libc.so.6+0x1000");
        let e = SetupError::from_errno("bind /data read-only", libc::ENOENT);
        assert_eq!(
            e.to_string(),
            "bind /data read-only: No such file or directory (os error 2)"
        );
        let j = outcome(Status::SetupError(e)).to_json();
        assert_eq!(j["status"], "setup_error");
        assert!(j["error"].as_str().unwrap().starts_with("bind /data"));
    }

    #[test]
    fn a_time_out_names_the_limit_that_ran_out() {
        for (limit, keyword, words) in [
            (TimeLimit::Wall, "wall_time", "wall-time limit"),
            (TimeLimit::Cpu, "cpu_time", "CPU-time limit"),
        ] {
            let o = outcome(Status::Timeout(limit));
            let j = o.to_json();
            assert_eq!(j["status"], "timeout");
            assert_eq!(j["time_limit"], keyword);
            assert!(o
                .to_string()
                .starts_with(&format!("timed out: its {words} ran out")));
        }
        assert_eq!(outcome(Status::Killed).to_json()["time_limit"], Value::Null);
    }

    #[test]
    fn display_is_one_line() {
        let s = outcome(Status::Signaled(11)).to_string();
        assert!(!s.contains('\n'));
        assert!(s.contains("SIGSEGV"), "{s}");
    }
}
