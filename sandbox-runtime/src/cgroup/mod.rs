//! Memory and process-count limits for a sandboxee through cgroups, when the host offers a
//! writable hierarchy.
//!
//! Each sandbox gets its own group, `<hierarchy>/<prefix>/<pidns>-<pid>-<counter>` (the host's
//! pid namespace, by inode number, and pid):
//! - **cgroup v1** (including hybrid hosts, where v2 is mounted at `/sys/fs/cgroup/unified`
//!   without controllers): a group in the `memory` hierarchy when a memory limit is asked
//!   for, and one in `pids` when a pids limit is, each below the host process's own group in
//!   that hierarchy (from `/proc/self/cgroup`). A hierarchy with no limit asked for is left
//!   alone: the sandbox stays in the host's group there. Either way every limit the host
//!   itself is under still bounds the sandbox.
//! - **cgroup v2**: one group below the host process's own cgroup (from `/proc/self/cgroup`).
//!   v2 forbids enabling controllers for children of a cgroup that holds processes (unless it
//!   is the root), and the host process is never moved to make room; when `memory` and `pids`
//!   cannot be enabled, creation reports [`CgroupError::NotAvailable`].
//!
//! Socket buffers count too: v1 sets `memory.kmem.tcp.limit_in_bytes` to the same limit (a
//! second counter: TCP buffers alone may take that much beside the rest), without which v1
//! charges them to no group; v2 charges them to `memory.max` itself.
//!
//! Swap cannot be used to exceed the memory limit: v1 sets `memory.memsw.limit_in_bytes` (when
//! swap accounting exists) and `memory.swappiness = 0`; v2 sets `memory.swap.max = 0` and
//! `memory.oom.group = 1`, so an OOM kill takes the whole sandbox.
//!
//! Without the privilege to create groups, [`Cgroup::create`] returns
//! [`CgroupError::NotAvailable`] so the caller can fall back to rlimits and say so. What was
//! applied is reported by [`Cgroup::enforced`], like rust-landlock's `RulesetStatus`.
//!
//! Dropping a [`Cgroup`] kills what is left in it and removes its directories. A host that is
//! killed cannot: its sandbox dies with it, and the next group made in the same place removes
//! the empty groups of hosts of its own pid namespace that no longer run (`sweep_stale`).

mod detect;

#[cfg(test)]
mod tests;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use detect::{keyed_value, lists_controller, Layout};

/// How long [`Cgroup::kill_all`] and `Drop` keep killing and retrying before giving up.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(2);
const SETTLE_STEP: Duration = Duration::from_millis(5);

/// Distinguishes groups created by one process.
static COUNTER: AtomicU64 = AtomicU64::new(0);

/// The limits to apply; `None` leaves a resource unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CgroupLimits {
    /// Memory (and, with swap, memory plus swap) limit in bytes.
    pub memory_bytes: Option<u64>,
    /// Maximum number of processes and threads.
    pub pids: Option<u64>,
}

/// Which requested limits the kernel is actually enforcing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EnforcedLimits {
    /// The memory limit was requested and applied.
    pub memory: bool,
    /// The pids limit was requested and applied.
    pub pids: bool,
}

/// Why a cgroup could not be created or used.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// No usable hierarchy (not mounted, no permission, controllers not delegated).
    #[error("cgroups not available: {0}")]
    NotAvailable(String),
    /// A limit of zero was asked for; it would make the sandboxee unable to run at all.
    #[error("invalid cgroup limit: {what} must be greater than zero")]
    InvalidLimit {
        /// The limit in question.
        what: &'static str,
    },
    /// The name prefix is empty, `.`/`..`, or contains `/`.
    #[error("invalid cgroup name prefix {0:?}: must be a non-empty single path component")]
    InvalidName(String),
    /// Processes were still in the group after repeated `SIGKILL`s.
    #[error("processes remain in cgroup {} after killing them", path.display())]
    NotEmpty {
        /// The group directory.
        path: PathBuf,
    },
    /// A cgroup file operation failed.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// The operation (`create`, `write`, `read`, ...).
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
}

/// Which cgroup version a group lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Version {
    V1,
    V2,
}

/// A cgroup (one directory per v1 controller, or one v2 directory) holding one sandbox.
#[derive(Debug)]
pub struct Cgroup {
    version: Version,
    /// Group directory where memory files live, when the memory controller is available.
    memory_dir: Option<PathBuf>,
    /// Group directory where pids files live, when the pids controller is available.
    pids_dir: Option<PathBuf>,
    /// Every group directory created, removed on drop.
    dirs: Vec<PathBuf>,
    /// Shared parent directories, removed on drop if nothing else uses them.
    parents: Vec<PathBuf>,
    enforced: EnforcedLimits,
}

impl Cgroup {
    /// Creates a fresh group named `<name_prefix>/<pidns>-<pid>-<counter>` and applies
    /// `limits`.
    pub fn create(name_prefix: &str, limits: &CgroupLimits) -> Result<Cgroup, CgroupError> {
        validate(name_prefix, limits)?;
        let owner = Owner::this_process();
        let name = format!(
            "{}-{}",
            owner.prefix(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        let mut group = match detect::detect().map_err(CgroupError::NotAvailable)? {
            Layout::V1 { memory, pids } => Cgroup::create_v1(
                name_prefix,
                &name,
                memory.as_deref().filter(|_| limits.memory_bytes.is_some()),
                pids.as_deref().filter(|_| limits.pids.is_some()),
            )?,
            Layout::V2 { own } => Cgroup::create_v2(name_prefix, &name, &own)?,
        };
        group.apply(limits)?;
        for parent in &group.parents {
            sweep_stale(parent, &owner);
        }
        Ok(group)
    }

    fn empty(version: Version) -> Cgroup {
        Cgroup {
            version,
            memory_dir: None,
            pids_dir: None,
            dirs: Vec::new(),
            parents: Vec::new(),
            enforced: EnforcedLimits::default(),
        }
    }

    /// One group below each of the host's own v1 groups given (`memory`, `pids`); a
    /// controller we may not write to is left out.
    fn create_v1(
        prefix: &str,
        name: &str,
        memory: Option<&Path>,
        pids: Option<&Path>,
    ) -> Result<Cgroup, CgroupError> {
        let mut group = Cgroup::empty(Version::V1);
        let mut refusals = Vec::new();
        for (own, is_memory) in [(memory, true), (pids, false)] {
            let Some(own) = own else { continue };
            // Memory and pids mounted as one hierarchy: one group holds both limits (a second
            // one there would take the process away from the first, and its limit with it).
            if !is_memory && memory == Some(own) && group.memory_dir.is_some() {
                group.pids_dir.clone_from(&group.memory_dir);
                continue;
            }
            let parent = own.join(prefix);
            match make_group(&parent, name, |_| Ok(())) {
                Ok(dir) => {
                    group.parents.push(parent);
                    group.dirs.push(dir.clone());
                    *(if is_memory {
                        &mut group.memory_dir
                    } else {
                        &mut group.pids_dir
                    }) = Some(dir);
                }
                Err(e) if is_refusal(&e) => refusals.push(e.to_string()),
                Err(e) => return Err(e),
            }
        }
        if group.dirs.is_empty() {
            if refusals.is_empty() {
                refusals.push(
                    "no v1 hierarchy (or no group of this process in it) for the limits asked for"
                        .into(),
                );
            }
            return Err(CgroupError::NotAvailable(refusals.join("; ")));
        }
        Ok(group)
    }

    /// One group below our own v2 cgroup, with whichever of memory and pids can be delegated.
    fn create_v2(prefix: &str, name: &str, own: &Path) -> Result<Cgroup, CgroupError> {
        let available = read_file(&own.join("cgroup.controllers"))
            .map_err(|e| CgroupError::NotAvailable(e.to_string()))?;
        let mut wanted: Vec<&str> = ["memory", "pids"]
            .into_iter()
            .filter(|c| lists_controller(&available, c))
            .collect();
        let mut refusals = Vec::new();
        let subtree = own.join("cgroup.subtree_control");
        let enabled = read_file(&subtree).unwrap_or_default();
        wanted.retain(|c| {
            lists_controller(&enabled, c)
                || write_file(&subtree, &format!("+{c}"))
                    .map_err(|e| refusals.push(e.to_string()))
                    .is_ok()
        });
        if wanted.is_empty() {
            refusals.insert(0, format!("{} delegates neither memory nor pids to child groups (its processes block enabling them; the host process is not moved)", own.display()));
            return Err(CgroupError::NotAvailable(refusals.join("; ")));
        }
        let parent = own.join(prefix);
        let enable = wanted
            .iter()
            .map(|c| format!("+{c}"))
            .collect::<Vec<_>>()
            .join(" ");
        let dir = make_group(&parent, name, |p| {
            write_file(&p.join("cgroup.subtree_control"), &enable)
        })
        .map_err(|e| {
            if is_refusal(&e) {
                CgroupError::NotAvailable(e.to_string())
            } else {
                e
            }
        })?;
        let mut group = Cgroup::empty(Version::V2);
        group.parents.push(parent);
        group.dirs.push(dir.clone());
        group.memory_dir = wanted.contains(&"memory").then(|| dir.clone());
        group.pids_dir = wanted.contains(&"pids").then_some(dir);
        Ok(group)
    }

    /// Writes the limits into the group's files and records what took effect.
    fn apply(&mut self, limits: &CgroupLimits) -> Result<(), CgroupError> {
        if let (Some(bytes), Some(dir)) = (limits.memory_bytes, &self.memory_dir) {
            let bytes = bytes.to_string();
            match self.version {
                Version::V1 => {
                    write_file(&dir.join("memory.limit_in_bytes"), &bytes)?;
                    write_if_present(&dir.join("memory.memsw.limit_in_bytes"), &bytes)?;
                    // v1 charges socket buffers to a group only once its TCP limit is set;
                    // unset, TCP over the sandbox's own loopback fills the host's tcp_mem,
                    // which every network namespace shares.
                    write_if_present(&dir.join("memory.kmem.tcp.limit_in_bytes"), &bytes)?;
                    // Best effort: some kernels refuse swappiness on non-root groups.
                    let _ = write_if_present(&dir.join("memory.swappiness"), "0");
                }
                Version::V2 => {
                    write_file(&dir.join("memory.max"), &bytes)?;
                    write_if_present(&dir.join("memory.swap.max"), "0")?;
                    write_if_present(&dir.join("memory.oom.group"), "1")?;
                }
            }
            self.enforced.memory = true;
        }
        if let (Some(pids), Some(dir)) = (limits.pids, &self.pids_dir) {
            write_file(&dir.join("pids.max"), &pids.to_string())?;
            self.enforced.pids = true;
        }
        Ok(())
    }

    /// Moves process `pid` (with all its threads) into the group.
    pub fn add_pid(&self, pid: Pid) -> Result<(), CgroupError> {
        for dir in &self.dirs {
            write_file(&dir.join("cgroup.procs"), &pid.to_string())?;
        }
        Ok(())
    }

    /// Which of the requested limits are in force.
    pub fn enforced(&self) -> EnforcedLimits {
        self.enforced
    }

    /// The group directories (one per v1 controller, or the single v2 group).
    pub fn paths(&self) -> &[PathBuf] {
        &self.dirs
    }

    /// Highest memory use recorded for the group (v1 `memory.max_usage_in_bytes`, v2
    /// `memory.peak`), if the memory controller and the file are available. In v1, memory
    /// charged before a process joined the group is not counted.
    pub fn memory_peak_bytes(&self) -> Option<u64> {
        let dir = self.memory_dir.as_ref()?;
        let file = match self.version {
            Version::V1 => "memory.max_usage_in_bytes",
            Version::V2 => "memory.peak",
        };
        read_file(&dir.join(file)).ok()?.trim().parse().ok()
    }

    /// Whether the kernel's OOM killer killed a process of this group (v1 `memory.oom_control`
    /// `oom_kill`, v2 `memory.events` `oom_kill`); `false` when that is not known.
    pub fn oom_killed(&self) -> bool {
        let Some(dir) = &self.memory_dir else {
            return false;
        };
        let file = match self.version {
            Version::V1 => "memory.oom_control",
            Version::V2 => "memory.events",
        };
        counter_positive(&dir.join(file), "oom_kill")
    }

    /// Whether a fork or clone in the group failed because of the pids limit (`pids.events`).
    pub fn pids_limit_hit(&self) -> bool {
        self.pids_dir
            .as_ref()
            .is_some_and(|dir| counter_positive(&dir.join("pids.events"), "max"))
    }

    /// Kills every process in the group: through `cgroup.kill` on v2 when the kernel has it,
    /// else by sending `SIGKILL` to each listed process until none is left.
    pub fn kill_all(&self) -> Result<(), CgroupError> {
        if self.version == Version::V2 {
            for dir in &self.dirs {
                let _ = write_if_present(&dir.join("cgroup.kill"), "1");
            }
        }
        let deadline = Instant::now() + SETTLE_TIMEOUT;
        loop {
            let pids = self.procs()?;
            if pids.is_empty() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                let path = self.dirs.first().cloned().unwrap_or_default();
                return Err(CgroupError::NotEmpty { path });
            }
            for pid in pids {
                // ESRCH only means it exited meanwhile.
                let _ = kill(pid, Signal::SIGKILL);
            }
            thread::sleep(SETTLE_STEP);
        }
    }

    /// The processes currently listed in any of the group's directories.
    fn procs(&self) -> Result<Vec<Pid>, CgroupError> {
        let mut pids = Vec::new();
        for dir in &self.dirs {
            let text = read_file(&dir.join("cgroup.procs"))?;
            pids.extend(
                text.lines()
                    .filter_map(|l| l.trim().parse().ok())
                    .map(Pid::from_raw),
            );
        }
        pids.sort();
        pids.dedup();
        Ok(pids)
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        let _ = self.kill_all();
        for dir in &self.dirs {
            remove_dir_retrying(dir);
        }
        // Shared parents go only when no other sandbox uses them; failure is expected then.
        for parent in &self.parents {
            let _ = fs::remove_dir(parent);
        }
    }
}

/// Rejects zero limits and prefixes that are not a single path component.
fn validate(prefix: &str, limits: &CgroupLimits) -> Result<(), CgroupError> {
    if limits.memory_bytes == Some(0) {
        return Err(CgroupError::InvalidLimit {
            what: "memory_bytes",
        });
    }
    if limits.pids == Some(0) {
        return Err(CgroupError::InvalidLimit { what: "pids" });
    }
    if prefix.is_empty() || prefix == "." || prefix == ".." || prefix.contains(['/', '\0']) {
        return Err(CgroupError::InvalidName(prefix.to_string()));
    }
    Ok(())
}

/// Creates `parent` if needed, prepares it with `prepare` (every time: a concurrent creator may
/// not have prepared it yet), and makes a fresh `parent/name*` group in it.
/// A concurrent sandbox may remove `parent` between the two steps, so that is retried.
fn make_group(
    parent: &Path,
    name: &str,
    prepare: impl Fn(&Path) -> Result<(), CgroupError>,
) -> Result<PathBuf, CgroupError> {
    let mut last = None;
    for attempt in 0..8 {
        match fs::create_dir(parent) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(source) => return Err(io_error("create", parent, source)),
        }
        // Whether this call made the parent or a concurrent one did: that one may not have
        // prepared it yet, and preparing is idempotent. A concurrent sandbox's end may remove
        // the (then empty) parent meanwhile: start over.
        match prepare(parent) {
            // Kept as it is: it names the file that was missing, not just the parent.
            Err(e) if is_not_found(&e) => {
                last = Some(e);
                continue;
            }
            r => r?,
        }
        let dir = parent.join(if attempt == 0 {
            name.to_string()
        } else {
            format!("{name}.{attempt}")
        });
        match fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::AlreadyExists
                ) =>
            {
                last = Some(io_error("create", &dir, e));
            }
            Err(source) => return Err(io_error("create", &dir, source)),
        }
    }
    Err(last.unwrap_or_else(|| io_error("create", parent, io::ErrorKind::Other.into())))
}

/// Whose groups are whose: a host by its pid namespace (the inode number of
/// `/proc/self/ns/pid`, 0 if unknown) and its pid there.
struct Owner {
    pid_namespace: u64,
    pid: u32,
}

impl Owner {
    fn this_process() -> Owner {
        use std::os::unix::fs::MetadataExt;
        Owner {
            pid_namespace: fs::metadata("/proc/self/ns/pid").map_or(0, |m| m.ino()),
            pid: std::process::id(),
        }
    }

    /// The start of its groups' names: `<pidns>-<pid>-`, without the counter.
    fn prefix(&self) -> String {
        format!("{}-{}", self.pid_namespace, self.pid)
    }

    /// The pid of the host that made the group `name`, if that host is of this one's pid
    /// namespace (so the pid means the same here).
    fn neighbour(&self, name: &str) -> Option<u32> {
        let mut parts = name.splitn(3, '-');
        let namespace: u64 = parts.next()?.parse().ok()?;
        let pid: u32 = parts.next()?.parse().ok()?;
        parts.next()?;
        (namespace == self.pid_namespace && namespace != 0).then_some(pid)
    }
}

/// Removes from `parent` the groups that hosts of `owner`'s pid namespace made and left when
/// they were killed: a name of theirs, a pid that no longer runs, and nothing in the group
/// (the kernel refuses to remove a group that holds a process or a group). The groups of hosts
/// in other pid namespaces, whose pids mean nothing here, are left alone.
fn sweep_stale(parent: &Path, owner: &Owner) {
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| owner.neighbour(n)) else {
            continue;
        };
        let gone = pid != owner.pid
            && i32::try_from(pid)
                .is_ok_and(|p| kill(Pid::from_raw(p), None) == Err(nix::errno::Errno::ESRCH));
        if gone {
            let _ = fs::remove_dir(entry.path());
        }
    }
}

/// Removes an (emptied) group directory, retrying while the kernel still reports it busy.
fn remove_dir_retrying(dir: &Path) {
    let deadline = Instant::now() + SETTLE_TIMEOUT;
    while let Err(e) = fs::remove_dir(dir) {
        if e.kind() == io::ErrorKind::NotFound || Instant::now() >= deadline {
            return;
        }
        thread::sleep(SETTLE_STEP);
    }
}

/// Whether an error means "not allowed here" rather than "something broke".
fn is_refusal(error: &CgroupError) -> bool {
    let CgroupError::Io { source, .. } = error else {
        return false;
    };
    matches!(
        source.raw_os_error(),
        Some(libc::EACCES | libc::EPERM | libc::EROFS)
    )
}

/// Whether `key` in a keyed file is a positive counter.
fn counter_positive(path: &Path, key: &str) -> bool {
    read_file(path)
        .ok()
        .and_then(|text| keyed_value(&text, key))
        .is_some_and(|n| n > 0)
}

/// Whether `e` is an I/O error for a path that does not exist.
fn is_not_found(e: &CgroupError) -> bool {
    matches!(e, CgroupError::Io { source, .. } if source.kind() == io::ErrorKind::NotFound)
}

fn io_error(op: &'static str, path: &Path, source: io::Error) -> CgroupError {
    CgroupError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

fn read_file(path: &Path) -> Result<String, CgroupError> {
    fs::read_to_string(path).map_err(|e| io_error("read", path, e))
}

fn write_file(path: &Path, value: &str) -> Result<(), CgroupError> {
    fs::write(path, value).map_err(|e| io_error("write", path, e))
}

/// Writes `value` if the file exists (optional features such as swap accounting).
fn write_if_present(path: &Path, value: &str) -> Result<(), CgroupError> {
    if path.exists() {
        write_file(path, value)
    } else {
        Ok(())
    }
}
