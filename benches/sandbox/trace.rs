//! Kernel timestamps of process events: a tracefs instance of this process's own (its own
//! buffer, events and clock, removed when dropped, so the host's tracing set-up is neither read
//! nor changed) and the parser of its `sched_process_*` lines.

use std::path::{Path, PathBuf};

/// The name of this benchmark's instances, before the owning process's pid.
const PREFIX: &str = "sandbox-bench-";

/// Removes the instances of benchmark processes that no longer run (killed before their
/// instance's removal), so that their buffers do not stay allocated until the next boot.
/// Called only once this process is known to see the trace's pids (see [`Tracer::start`]):
/// in a pid namespace of its own, `/proc` would call a live benchmark outside it dead.
fn remove_stale_instances(instances: &Path) {
    let Ok(entries) = std::fs::read_dir(instances) else {
        return;
    };
    let own = std::process::id().to_string();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let pid = name.to_str().and_then(|n| n.strip_prefix(PREFIX));
        if pid.is_some_and(|p| p != own && !Path::new("/proc").join(p).exists()) {
            let _ = std::fs::remove_dir(entry.path());
        }
    }
}

/// Why a [`Tracer`] could not start.
pub enum StartError {
    /// This machine or user cannot trace (no tracefs, not root), or this process runs in a pid
    /// namespace of its own, so the trace's pids are not the ones it sees: a notice, not a
    /// failure.
    Unavailable(String),
    /// Tracing is there but setting it up failed.
    Failed(String),
}

/// A tracefs instance of this process's own, removed when dropped.
pub struct Tracer {
    dir: PathBuf,
}

impl Tracer {
    /// Makes the instance and starts recording `events` (of the `sched` group) with the
    /// monotonic clock, once this process has checked that it sees the pids the trace names.
    pub fn start(events: &[&str]) -> Result<Tracer, StartError> {
        let roots = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"].map(Path::new);
        let Some(root) = roots.iter().find(|r| r.join("instances").is_dir()) else {
            // tracefs's directory is root's alone: without root it looks empty.
            let why = match std::fs::read_dir(roots[0]) {
                Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                    "reading the kernel's trace needs root"
                }
                _ => "tracefs is not mounted (as root: mount -t tracefs nodev /sys/kernel/tracing)",
            };
            return Err(StartError::Unavailable(why.into()));
        };
        let dir = root.join(format!("instances/{PREFIX}{}", std::process::id()));
        // One named after this process is a dead namesake's (this process has made none yet).
        if dir.is_dir() {
            let _ = std::fs::remove_dir(&dir);
        }
        if let Err(e) = std::fs::create_dir(&dir) {
            let what = format!("cannot make the tracefs instance {}: {e}", dir.display());
            return Err(match e.kind() {
                std::io::ErrorKind::PermissionDenied => StartError::Unavailable(what),
                _ => StartError::Failed(what),
            });
        }
        let tracer = Tracer { dir };
        let set_up = || -> Result<(), String> {
            tracer.write("trace_clock", "mono")?;
            // One run's events at a time (see `take`): a small buffer is plenty.
            tracer.write("buffer_size_kb", "1024")?;
            for e in events {
                tracer.write(&format!("events/sched/{e}/enable"), "1")?;
            }
            tracer.write("tracing_on", "1")
        };
        set_up().map_err(StartError::Failed)?;
        // SAFETY: no arguments.
        let tid = unsafe { libc::gettid() } as u32;
        match tracer.traced_tid().map_err(StartError::Failed)? {
            traced if traced == tid => {}
            traced => {
                return Err(StartError::Unavailable(format!(
                    "this process runs in a pid namespace of its own (the trace names this thread {traced}, it sees itself as {tid}), so the trace's processes cannot be matched to its runs"
                )))
            }
        }
        remove_stale_instances(&root.join("instances"));
        Ok(tracer)
    }

    fn write(&self, file: &str, value: &str) -> Result<(), String> {
        let path = self.dir.join(file);
        std::fs::write(&path, value).map_err(|e| format!("cannot write {}: {e}", path.display()))
    }

    /// The events recorded since the last call, which empties the buffer.
    pub fn take(&self) -> Result<Vec<Event>, String> {
        Ok(self.take_text()?.lines().filter_map(Event::parse).collect())
    }

    /// The calling thread's id as the trace names it, which differs from the one this process
    /// sees when it runs in a pid namespace of its own (the trace's are the initial
    /// namespace's). Empties the buffer.
    fn traced_tid(&self) -> Result<u32, String> {
        let mark = format!("{PREFIX}mark-{}", std::process::id());
        self.write("trace_marker", &mark)?;
        let text = self.take_text()?;
        text.lines()
            .find(|l| l.ends_with(&mark))
            .and_then(task_id)
            .ok_or_else(|| "the trace did not show this process's marker".to_string())
    }

    fn take_text(&self) -> Result<String, String> {
        let path = self.dir.join("trace");
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        self.write("trace", "")?;
        Ok(text)
    }
}

impl Drop for Tracer {
    fn drop(&mut self) {
        let _ = self.write("tracing_on", "0");
        if let Err(e) = std::fs::remove_dir(&self.dir) {
            eprintln!(
                "NOTICE: cannot remove the tracefs instance {} ({e}); its buffer stays allocated until it is removed (rmdir) or the next benchmark run removes it",
                self.dir.display()
            );
        }
    }
}

/// The thread id of a trace line's task column (`comm-tid [cpu] ...`; the name may hold dashes
/// and spaces).
pub fn task_id(line: &str) -> Option<u32> {
    let task = line.split_once(" [")?.0.trim();
    task.rsplit_once('-')?.1.parse().ok()
}

/// One recorded event: seconds on the monotonic clock, and what happened.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Event {
    /// Seconds on the monotonic clock.
    pub at: f64,
    /// What happened.
    pub kind: Kind,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Kind {
    /// `parent` made `child` (a process or a thread).
    Fork { parent: u32, child: u32 },
    /// `pid` exec'd.
    Exec { pid: u32 },
    /// Thread `pid` exited.
    Exit { pid: u32 },
}

impl Event {
    /// Parses one line of the `trace` file, such as
    /// `python3-5445 [001] ..... 61081.380260: sched_process_exec: filename=/usr/bin/python3
    /// pid=5445 old_pid=5445`; `None` for any other line.
    pub fn parse(line: &str) -> Option<Event> {
        let (head, rest) = line.split_once(": sched_process_")?;
        let at = head.rsplit(' ').next()?.parse().ok()?;
        let (name, fields) = rest.split_once(": ")?;
        // The value after the last ` key=` (names and file names may hold spaces).
        let field = |key: &str| -> Option<u32> {
            let at = fields.rfind(&format!(" {key}="))? + key.len() + 2;
            fields[at..].split(' ').next()?.parse().ok()
        };
        let kind = match name {
            "fork" => Kind::Fork {
                parent: field("pid")?,
                child: field("child_pid")?,
            },
            "exec" => Kind::Exec { pid: field("pid")? },
            "exit" => Kind::Exit { pid: field("pid")? },
            _ => return None,
        };
        Some(Event { at, kind })
    }
}
