//! Resource limits, and how each is enforced.
//!
//! Each limit is enforced by the strongest mechanism available, and the [`crate::Outcome`] says
//! which one held it (`enforced_limits`), so a caller can tell a cgroup memory limit from an
//! address-space approximation:
//! - wall time: the monitor kills the sandbox when it runs out;
//! - CPU time: `RLIMIT_CPU`, per process (SIGXCPU at the limit, SIGKILL a second later), reported
//!   as a time-out when the program's own time ran out (a child that runs out of its own is
//!   killed alone, and the program goes on); a SIGKILL where the OOM killer took a process of
//!   the sandbox is the OOM killer's (`Signaled`, with `oom_killed`) unless the program had used
//!   its soft limit;
//! - address space, file size, open files: `RLIMIT_AS`, `RLIMIT_FSIZE`, `RLIMIT_NOFILE`. The
//!   file size is the length a file may grow to (by `write`, `truncate` or `fallocate`), not disk
//!   space: `fallocate` with `FALLOC_FL_KEEP_SIZE` reserves blocks past a file's end, and many
//!   files add up, so what a writable bind takes is bounded by its file system (a quota, or a
//!   sized tmpfs), not by this limit;
//! - memory: a cgroup when one can be created, which charges the whole sandbox (tmpfs, memfd and
//!   shared memory included); else `RLIMIT_AS` on each process, which bounds each one's address
//!   space and misses what no process maps (a tmpfs's or a memfd's written contents, detached
//!   SysV shared memory, pipe buffers), so the sandbox can hold more in all;
//! - pids: a cgroup when one can be created, else `RLIMIT_NPROC`, which since Linux 5.14 counts
//!   per user namespace, so it counts only the sandbox's own processes.
//!
//! `RLIMIT_CORE` is always 0. An rlimit above the caller's own hard limit is refused at the spawn
//! ([`LimitError::AboveHost`]): the sandbox inherits the caller's limits and cannot raise them.

use serde::Serialize;
use std::time::Duration;
use thiserror::Error;

/// The most processes and threads 64-bit Linux can have (`PID_MAX_LIMIT`, the highest
/// `kernel.pid_max`): a cgroup's `pids.max` takes nothing above it.
const PID_MAX_LIMIT: u64 = 4 * 1024 * 1024;

/// Limits on a sandbox. `None` means "no limit"; `Some(0)` is an error, not "unlimited".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Limits {
    /// Real time from start to kill.
    pub wall_time: Option<Duration>,
    /// CPU time (user + system) of each process of the program, rounded up to whole seconds:
    /// `RLIMIT_CPU`, per process as in Sandbox2 and nsjail, so a program that forks can use
    /// more in all; [`Limits::wall_time`] bounds the whole sandbox.
    pub cpu_time: Option<Duration>,
    /// Virtual address space of each process, in bytes.
    pub address_space: Option<u64>,
    /// Memory of the whole sandbox, in bytes, where a cgroup holds it; else each process's
    /// address space (see the module's notes; the outcome's `enforced_limits` says which).
    pub memory: Option<u64>,
    /// Number of processes (and threads) in the sandbox, its init included: the program and
    /// its children get one fewer, so the least is 2.
    pub pids: Option<u64>,
    /// Largest length, in bytes, a file may grow to by the program's writes (not disk space:
    /// see the module's notes).
    pub file_size: Option<u64>,
    /// Highest file descriptor number plus one. Under a policy the monitor watches, the
    /// sandboxee's seccomp listener needs a number below it too (the lowest free one before
    /// the program's exec): a limit that leaves none fails the start-up with a set-up error.
    pub open_files: Option<u64>,
}

/// A limit that makes no sense.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum LimitError {
    /// A limit of zero: the program could not start, or not do at all what the limit counts.
    #[error("limit `{0}` is zero; leave it unset for no limit")]
    Zero(&'static str),
    /// A limit below what the sandbox itself takes before the program gets any: `pids` of 1,
    /// which init (the sandbox's pid 1) uses up.
    #[error("limit `{limit}` must be at least {least}: {why}")]
    TooSmall {
        /// The field of [`Limits`].
        limit: &'static str,
        /// The smallest value that leaves the program room to start.
        least: u64,
        /// What takes the rest.
        why: &'static str,
    },
    /// A limit too large to set: the kernel's own value for no limit (`RLIM_INFINITY`), or a
    /// CPU time whose milliseconds do not fit in 64 bits.
    #[error(
        "limit `{0}` is too large to set (it would mean no limit); leave it unset for no limit"
    )]
    TooLarge(&'static str),
    /// A limit above the most the kernel takes for it: `pids` above `PID_MAX_LIMIT` (4,194,304
    /// processes and threads on 64-bit Linux), which no cgroup takes; a `cpu_time` whose hard
    /// limit in nanoseconds does not fit in 64 bits, or a `file_size` above `i64::MAX`, both of
    /// which the kernel would wrap to a tiny limit.
    #[error(
        "limit `{limit}` of {value} is above the most Linux takes ({most}); leave it unset for \
         no limit"
    )]
    AboveKernel {
        /// The field of [`Limits`].
        limit: &'static str,
        /// The value asked for.
        value: u64,
        /// The kernel's own bound.
        most: u64,
    },
    /// A limit set as an rlimit above the host's own hard limit for it: the sandbox, in a user
    /// namespace of its own, cannot raise a hard limit, so its set-up would fail.
    #[error(
        "limit `{limit}` needs a hard limit of {needed}, above the host's own ({host}), which a \
         sandbox cannot raise: {}",
        fitting(limit, *most)
    )]
    AboveHost {
        /// The field of [`Limits`].
        limit: &'static str,
        /// The hard limit the sandbox would set (in the rlimit's unit: bytes, a count, seconds).
        needed: u64,
        /// The calling process's hard limit.
        host: u64,
        /// The largest value of the limit that fits under `host` (the CPU limit's hard limit
        /// is a second above it).
        most: u64,
    },
}

impl LimitError {
    /// For [`LimitError::AboveHost`], the largest value that fits under the host's hard limit,
    /// in words: `at most 4 s`, or, when only 0 would (which is refused), that none does.
    pub fn what_fits(&self) -> Option<String> {
        match self {
            LimitError::AboveHost { limit, most, .. } => Some(fitting(limit, *most)),
            _ => None,
        }
    }
}

/// `at most MOST` fits (seconds for the CPU time), or no value does when `most` is 0.
fn fitting(limit: &str, most: u64) -> String {
    match (most, limit) {
        (0, _) => "no value fits (a limit of 0 is refused)".into(),
        (m, "cpu_time") => format!("at most {m} s fits"),
        (m, _) => format!("at most {m} fits"),
    }
}

/// How a limit was enforced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Enforcement {
    /// By `setrlimit` in the sandboxed process.
    Rlimit,
    /// By a cgroup controller.
    Cgroup,
    /// By the runtime's monitor.
    Monitor,
}

/// One limit that was applied.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EnforcedLimit {
    /// The field of [`Limits`] it came from (`"core"` for the implicit core-size limit).
    pub limit: &'static str,
    /// Its value: bytes, a count, or milliseconds for times.
    pub value: u64,
    /// The mechanism that enforced it.
    pub by: Enforcement,
}

/// The entry a wall-time limit gets among the enforced limits (the last one: the monitor's,
/// which the host may change while the sandbox runs).
pub(crate) fn wall_time_enforced(limit: Option<Duration>) -> Option<EnforcedLimit> {
    limit.map(|w| EnforcedLimit {
        limit: crate::TimeLimit::Wall.keyword(),
        // Rounded up: a limit below a millisecond is not reported as none at all.
        value: u64::try_from(w.as_nanos().div_ceil(1_000_000)).unwrap_or(u64::MAX),
        by: Enforcement::Monitor,
    })
}

/// One `setrlimit` call prepared for the sandboxee.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Rlimit {
    /// `RLIMIT_*`.
    pub resource: u32,
    /// Soft limit.
    pub soft: u64,
    /// Hard limit.
    pub hard: u64,
}

impl Limits {
    /// Checks that no limit is zero, nor so large that it would mean no limit at all.
    pub fn validate(&self) -> Result<(), LimitError> {
        let durations = [("wall_time", self.wall_time), ("cpu_time", self.cpu_time)];
        for (name, d) in durations {
            if d.is_some_and(|d| d.is_zero()) {
                return Err(LimitError::Zero(name));
            }
        }
        let counts = [
            ("address_space", self.address_space),
            ("memory", self.memory),
            ("pids", self.pids),
            ("file_size", self.file_size),
            ("open_files", self.open_files),
        ];
        for (name, v) in counts {
            if v == Some(0) {
                return Err(LimitError::Zero(name));
            }
            if v == Some(libc::RLIM_INFINITY) {
                return Err(LimitError::TooLarge(name));
            }
        }
        if let Some(value) = self.pids.filter(|&p| p > PID_MAX_LIMIT) {
            return Err(LimitError::AboveKernel {
                limit: "pids",
                value,
                most: PID_MAX_LIMIT,
            });
        }
        if self.pids == Some(1) {
            return Err(LimitError::TooSmall {
                limit: "pids",
                least: 2,
                why: "init, the sandbox's pid 1, counts as one, so the program could not start",
            });
        }
        if self
            .cpu_time
            .is_some_and(|c| c.as_secs() >= libc::RLIM_INFINITY / 1000 - 1)
        {
            return Err(LimitError::TooLarge("cpu_time"));
        }
        // The kernel counts CPU limits in nanoseconds: a hard limit (the soft one, rounded up,
        // plus a second) whose nanoseconds do not fit in 64 bits wraps to a tiny limit.
        if let Some(secs) = self.cpu_time.map(|c| c.as_secs()) {
            if secs > MOST_CPU_SECONDS {
                return Err(LimitError::AboveKernel {
                    limit: "cpu_time",
                    value: secs,
                    most: MOST_CPU_SECONDS,
                });
            }
        }
        // The kernel compares file sizes with its limit as signed 64-bit numbers: a limit past
        // `i64::MAX` reads as negative, and every write would fail.
        if let Some(value) = self.file_size.filter(|&f| f > MOST_FILE_SIZE) {
            return Err(LimitError::AboveKernel {
                limit: "file_size",
                value,
                most: MOST_FILE_SIZE,
            });
        }
        // The monitor's deadline is the start plus the limit: one past what the clock or the
        // deadline can hold would be no deadline at all.
        let most = Duration::from_nanos(crate::deadline::MOST_NANOS);
        if self
            .wall_time
            .is_some_and(|w| w > most || std::time::Instant::now().checked_add(w).is_none())
        {
            return Err(LimitError::TooLarge("wall_time"));
        }
        Ok(())
    }

    /// Refuses any of `rlimits` whose hard limit is above the calling process's own (which the
    /// sandbox inherits and cannot raise).
    pub(crate) fn within_host(rlimits: &[(&'static str, Rlimit)]) -> Result<(), LimitError> {
        for (limit, r) in rlimits {
            // SAFETY: rlimit is plain old data.
            let mut host: libc::rlimit = unsafe { std::mem::zeroed() };
            // SAFETY: getrlimit writes one rlimit.
            let known = unsafe { libc::getrlimit(r.resource, &mut host) } == 0;
            if known && host.rlim_max != libc::RLIM_INFINITY && r.hard > host.rlim_max {
                return Err(LimitError::AboveHost {
                    limit,
                    needed: r.hard,
                    host: host.rlim_max,
                    most: host.rlim_max.saturating_sub(r.hard - r.soft),
                });
            }
        }
        Ok(())
    }

    /// The rlimits to set, each with the name of the limit it enforces (for error messages),
    /// and the record of every limit applied. `cgroup_memory` and `cgroup_pids` say whether a
    /// cgroup enforces `memory` and `pids` (then no rlimit stands in for them).
    pub(crate) fn plan(
        &self,
        cgroup_memory: bool,
        cgroup_pids: bool,
    ) -> (Vec<(&'static str, Rlimit)>, Vec<EnforcedLimit>) {
        let mut rl = vec![(
            "core",
            Rlimit {
                resource: libc::RLIMIT_CORE,
                soft: 0,
                hard: 0,
            },
        )];
        let mut enforced = vec![EnforcedLimit {
            limit: "core",
            value: 0,
            by: Enforcement::Rlimit,
        }];
        let mut push = |limit: &'static str, resource: u32, soft: u64, hard: u64, shown: u64| {
            rl.push((
                limit,
                Rlimit {
                    resource,
                    soft,
                    hard,
                },
            ));
            enforced.push(EnforcedLimit {
                limit,
                value: shown,
                by: Enforcement::Rlimit,
            });
        };
        if let Some(cpu) = self.cpu_time {
            let secs = cpu.as_secs() + u64::from(cpu.subsec_nanos() > 0);
            push("cpu_time", libc::RLIMIT_CPU, secs, secs + 1, secs * 1000);
        }
        // Memory without a cgroup falls back to the address space (the tighter of the two).
        let address_space = match (self.address_space, self.memory, cgroup_memory) {
            (a, Some(m), false) => Some(a.map_or(m, |a| a.min(m))),
            (a, _, _) => a,
        };
        if let Some(a) = address_space {
            let name = if self.address_space == Some(a) {
                "address_space"
            } else {
                "memory"
            };
            push(name, libc::RLIMIT_AS, a, a, a);
        }
        if let Some(f) = self.file_size {
            push("file_size", libc::RLIMIT_FSIZE, f, f, f);
        }
        if let Some(n) = self.open_files {
            push("open_files", libc::RLIMIT_NOFILE, n, n, n);
        }
        if let (Some(p), false) = (self.pids, cgroup_pids) {
            push("pids", libc::RLIMIT_NPROC, p, p, p);
        }
        let by_cgroup = [
            ("memory", self.memory.filter(|_| cgroup_memory)),
            ("pids", self.pids.filter(|_| cgroup_pids)),
        ];
        for (limit, v) in by_cgroup {
            if let Some(value) = v {
                enforced.push(EnforcedLimit {
                    limit,
                    value,
                    by: Enforcement::Cgroup,
                });
            }
        }
        enforced.extend(wall_time_enforced(self.wall_time));
        (rl, enforced)
    }
}

/// The largest CPU limit in whole seconds whose hard limit (rounded up, plus a second) the
/// kernel holds in 64-bit nanoseconds.
const MOST_CPU_SECONDS: u64 = u64::MAX / 1_000_000_000 - 2;
/// The largest file-size limit the kernel reads as positive.
const MOST_FILE_SIZE: u64 = i64::MAX as u64;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_the_kernel_would_wrap_are_refused() {
        let cpu = |secs: u64| Limits {
            cpu_time: Some(std::time::Duration::from_secs(secs)),
            ..Limits::default()
        };
        assert!(cpu(MOST_CPU_SECONDS).validate().is_ok());
        // 18446744074 s is 2^64 ns and a little: the kernel's limit would be 0.29 s.
        for secs in [MOST_CPU_SECONDS + 1, 18_446_744_074] {
            assert!(matches!(
                cpu(secs).validate(),
                Err(LimitError::AboveKernel {
                    limit: "cpu_time",
                    ..
                })
            ));
        }
        let file = |bytes: u64| Limits {
            file_size: Some(bytes),
            ..Limits::default()
        };
        assert!(file(MOST_FILE_SIZE).validate().is_ok());
        for bytes in [MOST_FILE_SIZE + 1, 1 << 63, u64::MAX - 1] {
            assert!(matches!(
                file(bytes).validate(),
                Err(LimitError::AboveKernel {
                    limit: "file_size",
                    ..
                })
            ));
        }
    }

    #[test]
    fn the_kernels_no_limit_value_is_an_error() {
        let l = Limits {
            file_size: Some(u64::MAX),
            ..Limits::default()
        };
        assert!(matches!(
            l.validate(),
            Err(LimitError::TooLarge("file_size"))
        ));
        let l = Limits {
            cpu_time: Some(std::time::Duration::MAX),
            ..Limits::default()
        };
        assert!(matches!(
            l.validate(),
            Err(LimitError::TooLarge("cpu_time"))
        ));
        // Past what the clock holds, or the deadline (some 292 years of nanoseconds).
        for too_long in [
            std::time::Duration::MAX,
            std::time::Duration::from_nanos(u64::MAX),
            std::time::Duration::from_secs(600 * 365 * 24 * 3600),
        ] {
            let l = Limits {
                wall_time: Some(too_long),
                ..Limits::default()
            };
            assert!(
                matches!(l.validate(), Err(LimitError::TooLarge("wall_time"))),
                "{too_long:?}"
            );
        }
        let l = Limits {
            wall_time: Some(std::time::Duration::from_secs(100 * 365 * 24 * 3600)),
            ..Limits::default()
        };
        assert!(l.validate().is_ok());
        let l = Limits {
            open_files: Some(u64::MAX - 1),
            cpu_time: Some(std::time::Duration::from_secs(3600 * 24 * 365)),
            ..Limits::default()
        };
        assert!(l.validate().is_ok());
    }

    /// A wall-time limit is recorded in whole milliseconds, rounded up: one below a
    /// millisecond is recorded as 1, not as 0 (which reads as no time at all).
    #[test]
    fn a_wall_time_limit_is_recorded_rounded_up() {
        for (nanos, ms) in [
            (900_000, 1),
            (1_000_000, 1),
            (1_000_001, 2),
            (2_500_000_000, 2500),
        ] {
            let l = Limits {
                wall_time: Some(std::time::Duration::from_nanos(nanos)),
                ..Limits::default()
            };
            let (_, enforced) = l.plan(false, false);
            let wall = enforced.iter().find(|e| e.limit == "wall_time").unwrap();
            assert_eq!(wall.value, ms, "{nanos} ns");
        }
    }

    #[test]
    fn an_rlimit_above_the_hosts_hard_limit_is_an_error() {
        // SAFETY: rlimit is plain old data.
        let mut host: libc::rlimit = unsafe { std::mem::zeroed() };
        // SAFETY: getrlimit writes one rlimit.
        let r = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut host) };
        assert_eq!(r, 0);
        let at = Limits {
            open_files: Some(host.rlim_max),
            ..Limits::default()
        };
        assert!(Limits::within_host(&at.plan(false, false).0).is_ok());
        let above = Limits {
            open_files: Some(host.rlim_max + 1),
            ..Limits::default()
        };
        let e = Limits::within_host(&above.plan(false, false).0).unwrap_err();
        assert!(
            matches!(e, LimitError::AboveHost { limit: "open_files", needed, host: h, most }
                if needed == host.rlim_max + 1 && h == host.rlim_max && most == h),
            "{e}"
        );
    }

    #[test]
    fn what_fits_under_the_host_is_said_in_the_limits_unit_or_as_none() {
        let above = |limit, host, most| LimitError::AboveHost {
            limit,
            needed: host + 1,
            host,
            most,
        };
        let cpu = above("cpu_time", 5, 4);
        assert_eq!(cpu.what_fits().as_deref(), Some("at most 4 s fits"));
        assert!(
            cpu.to_string().ends_with("cannot raise: at most 4 s fits"),
            "{cpu}"
        );
        let files = above("open_files", 64, 64);
        assert_eq!(files.what_fits().as_deref(), Some("at most 64 fits"));
        // A hard CPU limit of 1 s leaves room for no limit in whole seconds but 0, refused.
        let none = above("cpu_time", 1, 0);
        assert!(
            none.what_fits().unwrap().starts_with("no value fits"),
            "{none}"
        );
        assert!(!none.to_string().contains("at most"), "{none}");
        assert_eq!(LimitError::Zero("pids").what_fits(), None);
    }

    #[test]
    fn zero_is_an_error() {
        let l = Limits {
            pids: Some(0),
            ..Limits::default()
        };
        assert_eq!(l.validate(), Err(LimitError::Zero("pids")));
        let l = Limits {
            wall_time: Some(Duration::ZERO),
            ..Limits::default()
        };
        assert_eq!(l.validate(), Err(LimitError::Zero("wall_time")));
        assert!(Limits::default().validate().is_ok());
    }

    /// Init counts against `pids`: one leaves the program none, two is the least that runs it.
    #[test]
    fn pids_must_leave_the_program_one() {
        let pids = |n| Limits {
            pids: Some(n),
            ..Limits::default()
        };
        let e = pids(1).validate().unwrap_err();
        assert!(
            matches!(
                e,
                LimitError::TooSmall {
                    limit: "pids",
                    least: 2,
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(e.to_string().contains("at least 2"), "{e}");
        assert!(pids(2).validate().is_ok());
    }

    #[test]
    fn memory_falls_back_to_address_space() {
        let l = Limits {
            memory: Some(1 << 30),
            cpu_time: Some(Duration::from_millis(1500)),
            ..Limits::default()
        };
        let (rl, enforced) = l.plan(false, false);
        assert!(rl
            .iter()
            .any(|(_, r)| r.resource == libc::RLIMIT_AS && r.soft == 1 << 30));
        assert!(rl
            .iter()
            .any(|(_, r)| r.resource == libc::RLIMIT_CPU && r.soft == 2 && r.hard == 3));
        assert!(enforced.iter().any(|e| e.limit == "memory"));
        let (rl, enforced) = l.plan(true, true);
        assert!(!rl.iter().any(|(_, r)| r.resource == libc::RLIMIT_AS));
        assert!(enforced
            .iter()
            .any(|e| e.limit == "memory" && e.by == Enforcement::Cgroup));
    }
}
