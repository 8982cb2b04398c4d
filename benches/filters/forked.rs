//! Work done in a forked child of the benchmark, its answer read back over a pipe: a filter
//! installed in a child leaves the benchmark itself unfiltered, and a peer that never finishes
//! can be given up on.

use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

/// How long a timing child may take: far longer than one takes (seconds), so that only a child
/// that hangs meets it, and fails the run instead of holding it up.
pub const CHILD_LIMIT: Duration = Duration::from_secs(300);

/// What a child wrote, and its wait status.
pub struct Answer {
    /// Every byte the child wrote.
    pub bytes: Vec<u8>,
    /// The status `waitpid` gave.
    pub status: i32,
}

/// Forks; the child runs `work`, writes the bytes it returns to a pipe and leaves with
/// `_exit`; the parent reads them (giving up after `limit`), then kills the child (harmless
/// once it has ended) and reaps it. Refuses in a process with more than one thread: the child
/// may allocate and start threads, which a lock held by another thread at the fork would hang.
pub fn run(limit: Duration, work: impl FnOnce() -> Vec<u8>) -> Result<Answer, String> {
    let threads = std::fs::read_dir("/proc/self/task")
        .map_err(|e| format!("/proc/self/task: {e}"))?
        .count();
    if threads != 1 {
        return Err(format!(
            "forking a child needs a single-threaded benchmark; it has {threads} threads"
        ));
    }
    let (reader, writer) = pipe()?;
    // SAFETY: the benchmark is single-threaded where it calls this, so the child inherits no
    // lock held by another thread; it leaves with _exit.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(format!("fork: {}", std::io::Error::last_os_error()));
    }
    if pid == 0 {
        drop(reader);
        // A panic must not unwind into the benchmark's own code in this copy of it.
        let bytes = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work))
            .unwrap_or_else(|_| b"ERR the child panicked".to_vec());
        write_all(&writer, &bytes);
        // SAFETY: ends the child (and any thread it started) without the parent's exit
        // handlers.
        unsafe { libc::_exit(0) }
    }
    drop(writer);
    let bytes = read_all(reader, limit);
    // SAFETY: pid is our child; killing an ended child is harmless before it is reaped.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    let mut status = 0;
    // SAFETY: pid is our child; status is a valid out-pointer.
    while unsafe { libc::waitpid(pid, &mut status, 0) } < 0
        && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted
    {}
    Ok(Answer {
        bytes: bytes?,
        status,
    })
}

/// Reads `fd` to its end, or fails once `limit` has passed.
fn read_all(fd: OwnedFd, limit: Duration) -> Result<Vec<u8>, String> {
    let deadline = Instant::now() + limit;
    let mut file = std::fs::File::from(fd);
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let ms = libc::c_int::try_from(left.as_millis()).unwrap_or(libc::c_int::MAX);
        let mut pfd = libc::pollfd {
            fd: file.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: pfd is one valid pollfd.
        let ready = unsafe { libc::poll(&mut pfd, 1, ms) };
        if ready < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(format!("poll: {e}"));
        }
        if ready == 0 {
            return Err(format!("the child did not finish within {limit:?}"));
        }
        match file.read(&mut buf) {
            Ok(0) => return Ok(out),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("reading the child's answer: {e}")),
        }
    }
}

/// A pipe as (read end, write end).
fn pipe() -> Result<(OwnedFd, OwnedFd), String> {
    let mut fds = [0; 2];
    // SAFETY: fds is a valid two-element out-array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(format!("pipe2: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: both descriptors are fresh and owned only here.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Writes all of `bytes` with raw write(2), which every filter the benchmark installs allows.
fn write_all(fd: &OwnedFd, mut bytes: &[u8]) {
    while !bytes.is_empty() {
        // SAFETY: bytes is a live slice; fd is open.
        let n = unsafe { libc::write(fd.as_raw_fd(), bytes.as_ptr().cast(), bytes.len()) };
        if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
            continue;
        }
        if n <= 0 {
            return;
        }
        bytes = &bytes[n as usize..];
    }
}

/// A child's answer as one line: the numbers, or `ERR` and why.
pub fn numbers_line(result: Result<Vec<f64>, String>) -> Vec<u8> {
    match result {
        Ok(values) => {
            let text: Vec<String> = values.iter().map(|v| format!("{v:.3}")).collect();
            format!("{}\n", text.join(" ")).into_bytes()
        }
        Err(e) => format!("ERR {e}\n").into_bytes(),
    }
}

/// Reads an answer made by [`numbers_line`]: exactly `expected` numbers, or why not.
pub fn read_numbers(answer: &Answer, expected: usize) -> Result<Vec<f64>, String> {
    let text = String::from_utf8_lossy(&answer.bytes);
    let line = text.trim();
    if line.is_empty() {
        return Err(format!(
            "the child ended without an answer (wait status {:#x})",
            answer.status
        ));
    }
    if let Some(err) = line.strip_prefix("ERR ") {
        return Err(err.to_string());
    }
    let values: Vec<f64> = line.split(' ').filter_map(|v| v.parse().ok()).collect();
    if values.len() == expected {
        Ok(values)
    } else {
        Err(format!(
            "the child's answer has {} numbers, not {expected}",
            values.len()
        ))
    }
}
