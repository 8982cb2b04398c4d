//! The monitor: one thread per sandbox that watches it until it ends and builds the
//! [`Outcome`] (for `status()`, the caller's own thread).
//!
//! It polls five things:
//! - the report socket: set-up failures from init or the sandboxee, and the sandboxee's hello
//!   (with the number its listener will get, the exec and installed pipes and, from the kernel,
//!   its host pid), until the exec; then init's report of the end: the sandboxee's wait status
//!   and the sandbox's usage, sent once init has killed and reaped everything else;
//! - the exec pipe: a failed exec and, by hanging up, the proof that the exec happened;
//! - the installed pipe, which hangs up when the filter is in place: the listener, whose number
//!   came with the hello, can be taken (looks on a timer stand in when that does not come, see
//!   [`LISTENER_FIRST_LOOK`]);
//! - the seccomp listener (fetched from the sandboxee with `pidfd_getfd`): the runtime's own
//!   calls before the exec are let through; anything after is a violation, which is named by
//!   re-running the policy's original program, recorded, and answered by killing the sandbox
//!   (in the learn and log-violations modes, observed and let run). The listener asks for
//!   synchronous wake-ups (Linux 6.6+), so a notified call and its answer switch between the
//!   two threads on one CPU instead of waking the other side on another;
//! - init's pidfd, for an end without that report, with the wall-time deadline as the poll
//!   time-out.
//!
//! When the program ends, init ends the rest of the sandbox and reports the end: nothing of the
//! sandbox but init runs by then, and init's own exit (freeing its copy of the host and the
//! sandbox's namespaces) is left to the [`Aftermath`], off the way to the caller. A time-out or
//! a violation kills the program and has init kill the rest at once, then reap and report the
//! same way, so that the report counts the CPU time of every process (see
//! [`Monitor::kill_sandbox`]); the wait for that report (at most [`INIT_REPORT_GRACE`]) is also
//! a poll time-out. Anything else, and an init that does not report in time, ends the sandbox as
//! one unit by SIGKILL to init (pid 1 of its pid namespace): the kernel then kills every
//! process in the namespace, and init's reaping by this thread is the end, with only init's own
//! usage and that of what it had reaped.

use crate::cgroup::Cgroup;
use crate::deadline::Deadline;
use crate::limits::{self, EnforcedLimit};
use crate::observe::{Observation, SyscallMode};
use crate::outcome::{Outcome, SetupError, Status, TimeLimit, Violation};
use crate::seccomp::{self, Reply};
use crate::spawn::steps::{kind, receive, Descriptions, Received, Report};
use crate::Policy;
use sandbox_policy::arch::Arch;
use sandbox_policy::{Action, Tag, Verdict};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long the sandboxee may take between announcing its listener and installing it.
const LISTENER_GRACE: Duration = Duration::from_secs(5);
/// When to look for the listener, counted from the hello that announced it, if the installed
/// pipe has not hung up by then. It normally hangs up first, a few tens of microseconds after
/// the hello (the sandboxee sends it right before the filter's install), and the monitor then
/// looks at once. It does not when `close` comes to the monitor (learn mode, or a policy that
/// kills it): the sandboxee's close of that pipe then waits for a monitor that has the
/// listener, and only a look on the timer ends the wait; the looks then start at
/// [`LISTENER_RETRY_MIN`] (see [`Monitor::close_comes_here`]).
const LISTENER_FIRST_LOOK: Duration = Duration::from_micros(200);
/// The first wait between two looks for a listener that is announced but not installed yet;
/// the wait then grows with the time already spent, up to [`LISTENER_RETRY_MAX`], so a slow
/// sandboxee does not keep the monitor spinning.
const LISTENER_RETRY_MIN: Duration = Duration::from_micros(20);
/// The longest wait between two looks for the listener.
const LISTENER_RETRY_MAX: Duration = Duration::from_millis(1);
/// How long init has, after the monitor killed the running program (a time-out or a
/// violation), to end the rest of the sandbox and report before it is killed too. Init does in
/// microseconds what the kernel would do at init's death; unlike the kernel, it counts what it
/// reaps (see [`Monitor::kill_sandbox`]).
const INIT_REPORT_GRACE: Duration = Duration::from_millis(250);

/// Sends SIGKILL to the process behind `pidfd` (no pid-reuse race). An already-dead process is
/// not an error.
pub(crate) fn kill(pidfd: &OwnedFd) -> io::Result<()> {
    // SAFETY: integer arguments and a null siginfo.
    let r = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            libc::SIGKILL,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if r < 0 {
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::ESRCH) {
            return Err(e);
        }
    }
    Ok(())
}

/// The calling thread's timer slack lowered to 1 ns for as long as this lives, then put back
/// as it was (also when unwinding). The listener retries wait tens of microseconds, and the
/// default 50 µs of slack would more than double each wait on the start-up path; the monitor
/// may run on the caller's own thread (`SandboxCommand::status`), whose slack is its own.
struct FineTimerSlack(Option<libc::c_ulong>);

impl FineTimerSlack {
    fn lower() -> FineTimerSlack {
        // SAFETY: prctl with integer arguments; reads this thread's own setting. The raw call
        // returns the whole value (glibc's `prctl` returns an int).
        let old = unsafe { libc::syscall(libc::SYS_prctl, libc::PR_GET_TIMERSLACK, 0, 0, 0, 0) };
        // SAFETY: prctl with integer arguments; affects this thread only.
        unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1, 0, 0, 0) };
        FineTimerSlack(libc::c_ulong::try_from(old).ok().filter(|s| *s > 0))
    }
}

impl Drop for FineTimerSlack {
    fn drop(&mut self) {
        if let Some(old) = self.0 {
            // SAFETY: prctl with integer arguments; affects this thread only.
            unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, old, 0, 0, 0) };
        }
    }
}

/// Everything the monitor owns (on its own thread, or on the caller's for `status()` through
/// the fork server).
pub(crate) struct Monitor {
    pub pid1: libc::pid_t,
    pub pidfd: Arc<OwnedFd>,
    /// The host's end of the report socket (no child the host forks keeps a copy).
    pub report: crate::spawn::host_end::HostEnd,
    pub policy: Option<Arc<Policy>>,
    /// Whether calls are enforced, learnt or logged.
    pub mode: SyscallMode,
    /// Where observed calls go (in the learn and log-violations modes), at most
    /// [`crate::OBSERVATIONS_PENDING_MOST`] not yet taken.
    pub observer: Option<crate::observations::ObservationSender>,
    /// The host guards' program, when the sandbox has any (see
    /// [`sandbox_policy::host_guard`]; made before the clone for the modes that ask it): the
    /// learn and log-violations modes answer with its errno a call the policy kills and a
    /// guard refuses (see [`Monitor::observe`]).
    pub host_guard: Option<&'static [sandbox_policy::bpf::SockFilter]>,
    /// Observations not passed on because that many were still not taken.
    pub observations_dropped: std::cell::Cell<u64>,
    /// The wall-time deadline, which the host may move while the sandbox runs.
    pub deadline: Arc<Deadline>,
    pub cpu_limit: Option<Duration>,
    pub killed: Arc<AtomicBool>,
    pub enforced: Vec<EnforcedLimit>,
    pub descriptions: Descriptions,
    /// The sandbox's cgroup, if memory or pids are limited through one; dropped (killing
    /// anything left and removing it) after init is reaped, before the outcome is out.
    pub cgroup: Option<Cgroup>,
}

/// What is left of a sandbox once its outcome is known, done when this is dropped: reaping
/// init if its report ended the watch (it is still exiting then). Dropped by the monitor thread
/// after it has sent the outcome, or by the release thread after `status()`.
pub(crate) struct Aftermath {
    /// Init's pid and pidfd, when it is still to be reaped.
    init: Option<(libc::pid_t, Arc<OwnedFd>)>,
}

impl Drop for Aftermath {
    fn drop(&mut self) {
        if let Some((pid, pidfd)) = &self.init {
            let _ = reap_by_pidfd(*pid, pidfd);
        }
    }
}

/// Reaps child `pid` through its `pidfd`, retrying when a signal interrupts the wait, and
/// returns its wait status and usage (`None` if it could not be reaped). By the pidfd, not
/// the pid: a host that reaps any child (`waitpid(-1)`) could have reaped init, and its pid
/// could be another child's by now. By the pid on a kernel without `P_PIDFD` (before 5.4).
fn reap_by_pidfd(pid: libc::pid_t, pidfd: &OwnedFd) -> Option<(i32, libc::rusage)> {
    // SAFETY: siginfo_t and rusage are plain old data; zero is a valid value for them.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: a live pidfd of ours, a live siginfo_t and rusage (the system call, unlike
        // libc's waitid, fills a rusage too).
        let r = unsafe {
            libc::syscall(
                libc::SYS_waitid,
                libc::P_PIDFD,
                pidfd.as_raw_fd(),
                &mut info as *mut libc::siginfo_t,
                libc::WEXITED | libc::__WALL,
                &mut ru as *mut libc::rusage,
            )
        };
        if r == 0 {
            return Some((wait_status(&info), ru));
        }
        match io::Error::last_os_error().raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::EINVAL) => break,
            _ => return None,
        }
    }
    let mut status = 0;
    loop {
        // SAFETY: pid is our child; status and ru are live.
        let r = unsafe { libc::wait4(pid, &mut status, libc::__WALL, &mut ru) };
        if r == pid {
            return Some((status, ru));
        }
        if r >= 0 || io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return None;
        }
    }
}

/// The wait status (as `wait4` gives it) that `waitid`'s `info` describes.
fn wait_status(info: &libc::siginfo_t) -> i32 {
    // SAFETY: waitid filled si_status for the child it reaped.
    let s = unsafe { info.si_status() };
    match info.si_code {
        libc::CLD_EXITED => (s & 0xff) << 8,
        libc::CLD_DUMPED => (s & 0x7f) | 0x80,
        _ => s & 0x7f, // CLD_KILLED
    }
}

/// Init's report of the end: the sandboxee's wait status and the sandbox's usage, as `wait4` on
/// init would give it.
#[derive(Clone, Copy)]
struct ReportedEnd {
    wait_status: i32,
    cpu_us: u64,
    max_rss_kb: u64,
    /// The program's own CPU time (see [`Report::program_cpu_us`]).
    program_cpu_us: u64,
}

/// What the monitor has learnt so far.
#[derive(Default)]
struct State {
    setup_error: Option<SetupError>,
    violation: Option<Violation>,
    timed_out: bool,
    /// Init's report of the end, once it came.
    reported_end: Option<ReportedEnd>,
    sandboxee_pid: Option<u32>,
    sandboxee_pidfd: Option<OwnedFd>,
    exec_pipe: Option<OwnedFd>,
    exec_done: bool,
    /// Until it hangs up (the filter is installed) or the listener is taken.
    installed_pipe: Option<OwnedFd>,
    listener: Option<OwnedFd>,
    pending_listener: Option<PendingListener>,
    /// Whether every sender of the report socket is gone and all it sent has been read.
    report_closed: bool,
    /// When to kill init if its report has not come by then: set when the monitor killed the
    /// running program and left the rest of the sandbox to init.
    init_kill_due: Option<Instant>,
}

/// A listener the sandboxee announced and the monitor has not taken yet.
#[derive(Clone, Copy)]
struct PendingListener {
    /// The sandboxee's descriptor number for it.
    number: RawFd,
    /// When it was announced.
    since: Instant,
    /// When to look again if the installed pipe does not hang up first.
    next_look: Instant,
}

pub(crate) fn poll_one(fd: RawFd, timeout_ms: i32) -> libc::c_short {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one live pollfd.
    let r = unsafe { libc::poll(&mut p, 1, timeout_ms) };
    if r <= 0 {
        0
    } else {
        p.revents
    }
}

impl Monitor {
    /// Watches the sandbox to its end; returns its outcome and what is left to do.
    pub(crate) fn run(self) -> (Outcome, Aftermath) {
        let _slack = FineTimerSlack::lower();
        let mut st = State::default();
        loop {
            // Read on each wake-up: the host may have moved it (and woken this loop).
            let deadline = self.deadline.at();
            // Fixed slots, no allocation per wake-up: init's pidfd, the report socket until its
            // hang-up, the exec pipe until the exec, the listener once fetched (poll skips a
            // negative fd). After the exec only init's report of the end can come on the report
            // socket (the sandboxee's copy closed at its exec, or at its death before).
            let report = Some(&self.report).filter(|_| !st.report_closed);
            let exec_pipe = st.exec_pipe.as_ref().filter(|_| !st.exec_done);
            let installed = st.installed_pipe.as_ref();
            let slot = |fd: Option<RawFd>| libc::pollfd {
                fd: fd.unwrap_or(-1),
                events: libc::POLLIN,
                revents: 0,
            };
            let mut fds = [
                slot(Some(self.pidfd.as_raw_fd())),
                slot(report.map(AsRawFd::as_raw_fd)),
                slot(exec_pipe.map(AsRawFd::as_raw_fd)),
                slot(st.listener.as_ref().map(AsRawFd::as_raw_fd)),
                slot(installed.map(AsRawFd::as_raw_fd)),
                slot(Some(self.deadline.wake_fd())),
            ];
            let now = Instant::now();
            let mut timeout = deadline
                .filter(|_| !st.timed_out)
                .map(|d| d.saturating_duration_since(now));
            let wake_ups = [st.pending_listener.map(|p| p.next_look), st.init_kill_due];
            for at in wake_ups.into_iter().flatten() {
                let wait = at.saturating_duration_since(now);
                timeout = Some(timeout.map_or(wait, |t| t.min(wait)));
            }
            let ts = timeout.map(|t| libc::timespec {
                tv_sec: libc::time_t::try_from(t.as_secs()).unwrap_or(libc::time_t::MAX),
                tv_nsec: t.subsec_nanos() as libc::c_long,
            });
            let ts_ptr = ts
                .as_ref()
                .map_or(std::ptr::null(), |t| t as *const libc::timespec);
            // SAFETY: fds is a live array of fds.len() pollfds; ts_ptr is null or points to a
            // live timespec; no signal mask is changed.
            let r = unsafe {
                libc::ppoll(
                    fds.as_mut_ptr(),
                    fds.len() as libc::nfds_t,
                    ts_ptr,
                    std::ptr::null(),
                )
            };
            if r < 0 && io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                // The monitor can no longer watch: end the sandbox rather than wait on it
                // without its limits.
                let _ = kill(&self.pidfd);
                break;
            }
            let [ended, report, exec, listener, installed, moved] = fds.map(|p| p.revents);
            if moved != 0 {
                self.deadline.take_wake_up();
            }
            // Only what poll says is ready: a notification-heavy run wakes this loop once per
            // call, and each needless read is a system call on that path.
            if report != 0 {
                self.read_reports(&mut st);
                // Init closes its end as it exits, some time before its pidfd says it has
                // ended: polling the hung-up socket meanwhile would spin, on the CPU init's
                // exit needs. What was sent before the hang-up has just been read.
                st.report_closed = report & libc::POLLHUP != 0;
            }
            if exec != 0 {
                self.read_exec_pipe(&mut st);
            }
            let installed_now = installed != 0;
            if installed_now {
                st.installed_pipe = None;
            }
            let look_due = st
                .pending_listener
                .is_some_and(|p| installed_now || Instant::now() >= p.next_look);
            if look_due {
                self.fetch_listener(&mut st);
            }
            if listener & libc::POLLIN != 0 {
                self.handle_notification(&mut st);
            } else if listener & (libc::POLLHUP | libc::POLLERR) != 0 {
                st.listener = None; // every process under the filter is gone
            }
            if ended != 0 || st.reported_end.is_some() {
                break;
            }
            #[cfg(feature = "test-hooks")]
            if st.exec_done && crate::test_hooks::take_monitor_panic() {
                panic!("the monitor panics (test hook)");
            }
            if !st.timed_out && self.deadline.time_out_if_due(Instant::now()) {
                st.timed_out = true;
                self.kill_sandbox(&mut st);
            }
            if st.init_kill_due.is_some_and(|due| Instant::now() >= due) {
                st.init_kill_due = None;
                let _ = kill(&self.pidfd);
            }
        }
        // The limit the outcome reports is the one in force at the end.
        self.deadline.freeze();
        self.read_reports(&mut st);
        self.read_exec_pipe(&mut st);
        self.finish(st)
    }

    /// Ends the sandbox (a time-out or a violation). Once the program runs, the program is killed
    /// and init is asked, on the report socket, to kill the rest at once (`END_NOW`, see
    /// `spawn::init::reap`): init then reaps and reports, as when the program ends by itself, with
    /// the CPU time of everything it reaped. Killing init instead would have the kernel end the
    /// rest with init's children left unwaited, their CPU time counted nowhere. Init is killed too
    /// if its report has not come within [`INIT_REPORT_GRACE`]; before the exec, or without a pidfd
    /// of the program (no policy, or no user notification), init is killed at once.
    fn kill_sandbox(&self, st: &mut State) {
        if st.init_kill_due.is_some() {
            return; // the program is killed already, and init's grace runs
        }
        let program = st.sandboxee_pidfd.as_ref().filter(|_| st.exec_done);
        if program.is_some_and(|p| kill(p).is_ok()) {
            st.init_kill_due = Some(Instant::now() + INIT_REPORT_GRACE);
            if !self.ask_init_to_end_now() {
                let _ = kill(&self.pidfd);
            }
        } else {
            let _ = kill(&self.pidfd);
        }
    }

    /// Asks init, on the report socket, to end the rest of the sandbox now; whether the request
    /// went out (it fails once init has closed its end).
    fn ask_init_to_end_now(&self) -> bool {
        let request = Report {
            kind: kind::END_NOW,
            ..Report::default()
        }
        .to_bytes();
        // SAFETY: sends a live buffer of its length on our socket, without blocking or SIGPIPE.
        let sent = unsafe {
            libc::send(
                self.report.as_raw_fd(),
                request.as_ptr().cast(),
                request.len(),
                libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
            )
        };
        sent == request.len() as isize
    }

    fn fail_setup(&self, st: &mut State, e: SetupError) {
        if st.setup_error.is_none() {
            st.setup_error = Some(e);
        }
        st.init_kill_due = None;
        let _ = kill(&self.pidfd);
    }

    /// Reads every queued message of the report socket.
    fn read_reports(&self, st: &mut State) {
        while let Some(Received {
            report,
            pid,
            mut fds,
        }) = receive(self.report.as_raw_fd(), false)
        {
            let Some(r) = report else {
                continue;
            };
            match r.kind {
                kind::SETUP_ERROR => {
                    let e = self.descriptions.describe(&r);
                    self.fail_setup(st, e);
                }
                kind::EXIT_STATUS => {
                    st.reported_end = Some(ReportedEnd {
                        wait_status: r.value,
                        cpu_us: r.cpu_us,
                        max_rss_kb: r.max_rss_kb,
                        program_cpu_us: r.program_cpu_us,
                    });
                }
                kind::HELLO => {
                    let mut fds = std::mem::take(&mut fds).into_iter();
                    st.exec_pipe = fds.next();
                    st.installed_pipe = fds.next();
                    if let Some(p) = &st.exec_pipe {
                        // SAFETY: fcntl on our own descriptor.
                        unsafe { libc::fcntl(p.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) };
                    }
                    st.sandboxee_pid = pid.and_then(|p| u32::try_from(p).ok());
                    let pidfd = pid.map(crate::spawn::pidfd_open);
                    // Already reaped (it failed a step and ended before this hello was read, as
                    // on a loaded machine): its failure is on the exec pipe, and there is no
                    // listener to take. Until its exec, which waits for this monitor, the
                    // sandboxee alone holds the exec pipe's writer: a pipe still open and
                    // unwritten after the pidfd was opened shows the pid was still its own
                    // then. Otherwise it has failed and may be gone, its pid free for another
                    // process, whose pidfd this could be.
                    let ended = st.exec_pipe.as_ref().is_none_or(|p| {
                        poll_one(p.as_raw_fd(), 0) & (libc::POLLIN | libc::POLLHUP) != 0
                    });
                    let gone = ended
                        || matches!(&pidfd, Some(Err(e)) if e.raw_os_error() == Some(libc::ESRCH));
                    st.sandboxee_pidfd = pidfd.and_then(Result::ok).filter(|_| !ended);
                    let since = Instant::now();
                    st.pending_listener = (r.value >= 0 && !gone).then_some(PendingListener {
                        number: r.value,
                        since,
                        next_look: since + self.first_look(),
                    });
                    if st.exec_pipe.is_none()
                        || st.installed_pipe.is_none()
                        || pid.is_none()
                        || r.value < 0
                        || (st.sandboxee_pidfd.is_none() && !gone)
                    {
                        // No look for the listener either: one without the sandboxee's pidfd
                        // could not be made, and its due time would keep the poll from waiting.
                        st.pending_listener = None;
                        let e = SetupError::other("receive the sandboxee's hello", "malformed");
                        self.fail_setup(st, e);
                    }
                }
                _ => {}
            }
        }
    }

    /// Reads the exec pipe's messages; notes its hang-up (the exec happened, or the sandboxee
    /// died). Returns whether the exec pipe has hung up.
    fn read_exec_pipe(&self, st: &mut State) -> bool {
        if st.exec_done {
            return true;
        }
        let Some(p) = &st.exec_pipe else {
            return false;
        };
        let fd = p.as_raw_fd();
        loop {
            let mut buf = [0u8; Report::SIZE];
            // SAFETY: reads into a live buffer of its length.
            let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
            if n == 0 {
                st.exec_done = true;
                return true;
            }
            if n < 0 {
                // EAGAIN: no data, writer still open (hang-up would read as 0).
                return false;
            }
            let Some(r) = Report::from_bytes(&buf[..n as usize]) else {
                continue;
            };
            if r.kind == kind::SETUP_ERROR {
                let e = self.descriptions.describe(&r);
                self.fail_setup(st, e);
            }
        }
    }

    /// Takes the announced listener out of the sandboxee once it exists.
    fn fetch_listener(&self, st: &mut State) {
        let Some(pending) = st.pending_listener else {
            return;
        };
        let (n, since) = (pending.number, pending.since);
        let Some(pidfd) = &st.sandboxee_pidfd else {
            st.pending_listener = None; // nothing to take it from (see `read_reports`)
            return;
        };
        match seccomp::pidfd_getfd(pidfd.as_raw_fd(), n) {
            Ok(fd) if seccomp::is_listener(&fd) => {
                seccomp::sync_wake_ups(&fd);
                st.listener = Some(fd);
                st.pending_listener = None;
            }
            // The sandboxee is already gone (killed from outside, or it died): how it ended
            // is for its wait status to say, not a set-up failure.
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {
                st.pending_listener = None;
            }
            Err(e) if e.raw_os_error() != Some(libc::EBADF) => {
                st.pending_listener = None;
                let errno = e.raw_os_error().unwrap_or(0);
                let e = SetupError::from_errno("fetch the seccomp listener", errno);
                self.fail_setup(st, e);
            }
            // Not installed yet (or something else holds the number for now): retry.
            _ if since.elapsed() < LISTENER_GRACE => {
                if poll_one(pidfd.as_raw_fd(), 0) != 0 {
                    st.pending_listener = None; // the sandboxee is gone
                } else {
                    let wait = since
                        .elapsed()
                        .clamp(LISTENER_RETRY_MIN, LISTENER_RETRY_MAX);
                    st.pending_listener = Some(PendingListener {
                        next_look: Instant::now() + wait,
                        ..pending
                    });
                }
            }
            _ => {
                st.pending_listener = None;
                let e = SetupError::other("fetch the seccomp listener", "not installed in time");
                self.fail_setup(st, e);
            }
        }
    }

    fn handle_notification(&self, st: &mut State) {
        let Some(listener) = &st.listener else {
            return;
        };
        let notif = match seccomp::recv_notif(listener) {
            Ok(Some(n)) => n,
            Ok(None) => return,
            Err(e) => {
                // Without a reader, the kernel would answer every call the policy kills with
                // ENOSYS and let the program go on: end the sandbox instead (fail closed).
                let errno = e.raw_os_error().unwrap_or(0);
                let e = SetupError::from_errno("receive a seccomp notification", errno);
                self.fail_setup(st, e);
                return;
            }
        };
        // The exec pipe's writer is closed by the exec itself, before any of the program's
        // code runs: if it is still open now, the notifying call is the runtime's own.
        let exec_done = self.read_exec_pipe(st);
        let Some(listener) = &st.listener else {
            return;
        };
        if !exec_done && Some(notif.pid) == st.sandboxee_pid {
            seccomp::send_reply(listener, notif.id, Reply::Continue);
            return;
        }
        // The runtime's magic on an exec after the start: the prelude sent it here instead of
        // to the policy, so answer as the policy would. The decision reads only registers
        // (number, architecture, sixth argument), so CONTINUE is no TOCTOU risk.
        if self.is_magic_exec(&notif.data) {
            match self.policy_verdict(&notif.data).map(|v| v.action) {
                Some(a) if a.permits() => {
                    seccomp::send_reply(listener, notif.id, Reply::Continue);
                    return;
                }
                Some(Action::Errno(e)) => {
                    seccomp::send_reply(listener, notif.id, Reply::Fail(i32::from(e)));
                    return;
                }
                _ => {}
            }
        }
        if let Some(reply) = self.observe(&notif) {
            seccomp::send_reply(listener, notif.id, reply);
            return;
        }
        if st.violation.is_none() {
            let mut v = self.classify(&notif);
            // Read while the call is blocked, so the caller and its mappings are still there;
            // its other threads may run on meanwhile, as they could before the call (the call
            // itself never returns, below). Kept only if the call is still pending after the
            // reads: another thread's exec ends the caller, and may give its id to the thread
            // that execs, whose new image the reads would then have shown.
            let process = crate::caller::process_of(notif.pid);
            let location = crate::caller::code_location(notif.pid, v.ip);
            let pending = st
                .listener
                .as_ref()
                .is_some_and(|l| seccomp::notification_pending(l, notif.id));
            if pending {
                (v.pid, v.location) = (process, location);
            }
            st.violation = Some(v);
        }
        // The violating call must never return: kill its process while it is still blocked in
        // the notification, then the whole sandbox, and send no reply. A reply (even an error)
        // would let the call return before the kill lands, and the program could go on after a
        // forbidden call. The process is taken by a pidfd opened while the notification is
        // still pending: its parent in the sandbox may have killed and reaped it since the
        // notification came, and its pid could then be another process's. The caller may be
        // any thread of its process.
        if let Ok(caller) = crate::spawn::pidfd_open_thread(notif.pid as libc::pid_t) {
            if seccomp::notification_pending(listener, notif.id) {
                let _ = kill(&caller);
            }
        }
        self.kill_sandbox(st);
    }

    /// In the learn and log-violations modes, sends a call of the native ABI that the policy
    /// (or its default) kills to the observer and returns the reply that lets it run, or that
    /// refuses it with a host guard's errno, or with `EPERM` when a sandbox refuses it
    /// whatever the mode. The prelude's architecture and x32 checks are never observed: those
    /// calls stay violations.
    fn observe(&self, n: &libc::seccomp_notif) -> Option<Reply> {
        let observer = self.observer.as_ref()?;
        let d = &n.data;
        let arch = Arch::native().filter(|a| a.audit_arch() == d.arch)?;
        let verdict = self.policy_verdict(d)?;
        if verdict.action != Action::Kill || verdict.tag == Tag::ARCH || verdict.tag == Tag::X32 {
            return None;
        }
        // What the guard answers: merged into the policy's program, it leaves the policy's
        // kill as it is, and letting that call run must not skip it. Otherwise, what a sandbox
        // refuses whatever the mode fails with EPERM.
        let guarded = self
            .host_guard
            .and_then(|guard| seccomp::evaluate(guard, d))
            .and_then(Verdict::from_ret_value)
            .and_then(|v| match v.action {
                Action::Errno(e) => Some(e),
                _ => None,
            });
        let refused = guarded.or_else(|| {
            sandbox_policy::resolve::refusal_where_unenforced(arch, d.nr as u32, &d.args)
                .map(|_| libc::EPERM as u16)
        });
        let decided_by = match (self.mode, self.policy.as_deref()) {
            (SyscallMode::LogViolations, Some(p)) => Some(p.describe_tag(verdict.tag)),
            _ => None,
        };
        let kept = observer.offer(Observation {
            nr: d.nr as u32,
            arch,
            args: d.args,
            pid: n.pid,
            decided_by,
            refused,
        });
        // A host that takes none keeps at most that many in memory; the outcome counts the rest.
        if !kept {
            let dropped = &self.observations_dropped;
            dropped.set(dropped.get().saturating_add(1));
        }
        Some(match refused {
            Some(errno) => Reply::Fail(i32::from(errno)),
            None => Reply::Continue,
        })
    }

    /// Names the call behind a notification.
    fn classify(&self, n: &libc::seccomp_notif) -> Violation {
        let d = &n.data;
        let nr = d.nr as u32;
        let syscall = sandbox_policy::tables::foreign_syscall_name(d.arch, nr)
            .unwrap_or("unknown")
            .to_string();
        let decided_by = match (self.policy_verdict(d), self.policy.as_deref()) {
            (Some(v), Some(p)) => p.describe_tag(v.tag),
            _ => "the policy (its program did not run to a verdict)".to_string(),
        };
        Violation {
            syscall,
            nr,
            arch: sandbox_policy::tables::abi_name(d.arch, nr).to_string(),
            args: d.args,
            ip: d.instruction_pointer,
            location: None,
            pid: None,
            tid: n.pid,
            decided_by,
        }
    }

    /// When to first look for the listener after the hello, if the installed pipe has not
    /// hung up by then (see [`LISTENER_FIRST_LOOK`]).
    fn first_look(&self) -> Duration {
        if self.close_comes_here() {
            LISTENER_RETRY_MIN
        } else {
            LISTENER_FIRST_LOOK
        }
    }

    /// Whether the sandboxee's `close` of the installed pipe, right after its filter's
    /// install, may not take effect without this monitor, so that only a look on the timer
    /// finds the listener: in learn mode every call comes here; otherwise any verdict but
    /// `allow` or `log` (a kill is turned into a notification; an errno leaves the pipe open
    /// until the exec, which then waits for the monitor), as far as the policy's verdict on
    /// `close` of descriptor 0 tells (a rule on the descriptor may decide otherwise; the looks
    /// on the timer then still end the wait, later).
    fn close_comes_here(&self) -> bool {
        if self.mode == SyscallMode::Learn {
            return true;
        }
        let Some(arch) = Arch::native() else {
            return true;
        };
        let close = libc::seccomp_data {
            nr: libc::SYS_close as libc::c_int,
            arch: arch.audit_arch(),
            instruction_pointer: 0,
            args: [0; 6],
        };
        !matches!(
            self.policy_verdict(&close).map(|v| v.action),
            Some(Action::Allow | Action::Log)
        )
    }

    /// Whether a call is the runtime's magic `execveat`.
    fn is_magic_exec(&self, d: &libc::seccomp_data) -> bool {
        Arch::native().is_some_and(|a| a.audit_arch() == d.arch)
            && d.nr as u32 == seccomp::execveat_nr()
            && d.args[5] == seccomp::MAGIC
    }

    /// The verdict of the policy's original program (kills not converted) on a call. For a
    /// magic `execveat` that is the policy's own verdict on `execveat`, past the compiler's exec
    /// check: no rule can read the sixth register, so clearing it changes nothing else.
    fn policy_verdict(&self, d: &libc::seccomp_data) -> Option<Verdict> {
        let prog = self.policy.as_deref()?.native_program()?;
        let verdict = seccomp::evaluate(&prog.filter, d).and_then(Verdict::from_ret_value)?;
        if verdict.tag != Tag::RUNTIME_EXEC {
            return Some(verdict);
        }
        let mut past_check = *d;
        past_check.args[5] = 0;
        seccomp::evaluate(&prog.filter, &past_check).and_then(Verdict::from_ret_value)
    }

    /// Decides the status, from init's report of the end or, without one, by reaping init.
    fn finish(mut self, st: State) -> (Outcome, Aftermath) {
        // Init's own status, when it was reaped here (no report of the end came).
        let (init_status, cpu_time, max_rss_kb) = match st.reported_end {
            Some(end) => (None, Duration::from_micros(end.cpu_us), end.max_rss_kb),
            None => {
                let reaped = reap_by_pidfd(self.pid1, &self.pidfd);
                let tv = |t: libc::timeval| {
                    Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
                };
                let (cpu, rss) = reaped.map_or((Duration::ZERO, 0), |(_, ru)| {
                    let cpu = tv(ru.ru_utime) + tv(ru.ru_stime);
                    (cpu, u64::try_from(ru.ru_maxrss).unwrap_or(0))
                });
                (reaped.map(|(status, _)| status), cpu, rss)
            }
        };
        let wall_time = self.deadline.start().elapsed();
        let killed = self.killed.load(Ordering::SeqCst);
        let oom_killed = self.cgroup.as_ref().is_some_and(Cgroup::oom_killed);
        let pids_limit_hit = self.cgroup.as_ref().is_some_and(Cgroup::pids_limit_hit);
        let status = if let Some(e) = st.setup_error {
            Status::SetupError(e)
        } else if let Some(v) = st.violation {
            Status::Violation(v)
        } else if st.timed_out {
            Status::Timeout(TimeLimit::Wall)
        } else if let Some(end) = st.reported_end {
            let ws = end.wait_status;
            if libc::WIFEXITED(ws) {
                Status::Exited(libc::WEXITSTATUS(ws))
            } else {
                let sig = libc::WTERMSIG(ws);
                // The CPU limit ran out only if the program itself used about that much CPU: it
                // can also send itself SIGXCPU (or SIGKILL, or be the OOM killer's choice), and
                // the limit is per process, so the sandbox's total, which counts every process,
                // says nothing. The soft limit's SIGXCPU comes when the program's own time
                // reaches the limit, the hard limit's SIGKILL a second later. The kernel checks
                // the limit against time sampled at each tick (the task running at a tick is
                // charged all of it), while the time read back is the scheduler's exact count,
                // and under contention the sampled count can run ahead of the exact one (a
                // fresh-clone CI run beside a build saw a kernel SIGXCPU for a busy loop before
                // 0.9 of its limit by the exact count). So half the limit is enough. (A
                // program that signals itself after using half its limit is told it timed out:
                // spinning to the limit gives the same, so this lets it hide nothing.) Where the
                // OOM killer took a process of the group, a SIGKILL is its kill unless the
                // program used at least its soft limit: the hard limit's SIGKILL comes only
                // after the program outlived the soft limit's SIGXCPU, while half the hard
                // limit lies below the soft one from a limit of 2 s up, and a program that ran
                // out of memory there would be told it timed out.
                let program_cpu = Duration::from_micros(end.program_cpu_us);
                let cpu_out = self.cpu_limit.is_some_and(|l| {
                    // The soft limit in whole seconds, rounded up as it was set; the hard one a
                    // second above.
                    let soft = Duration::from_secs(l.as_secs() + u64::from(l.subsec_nanos() > 0));
                    let hard = soft + Duration::from_secs(1);
                    let hard_kill = if oom_killed {
                        program_cpu >= soft
                    } else {
                        program_cpu * 2 >= hard
                    };
                    (sig == libc::SIGXCPU && program_cpu * 2 >= soft)
                        || (sig == libc::SIGKILL && !killed && hard_kill)
                });
                if cpu_out {
                    Status::Timeout(TimeLimit::Cpu)
                } else {
                    Status::Signaled(sig)
                }
            }
        } else if !killed && oom_killed {
            // The kernel's OOM killer took init too (a v2 group kills as one): the SIGKILL it
            // sent the program, as when it takes the program alone.
            Status::Signaled(libc::SIGKILL)
        } else if killed || init_status.is_some_and(|s| libc::WIFSIGNALED(s)) {
            Status::Killed
        } else {
            let how = init_status.map_or("could not be reaped".into(), |s| {
                format!("ended (wait status {s:#x})")
            });
            Status::SetupError(SetupError::other(
                "run the sandbox's init",
                format!("it {how} without a report"),
            ))
        };
        let memory_peak_kb = self
            .cgroup
            .as_ref()
            .filter(|c| c.enforced().memory)
            .and_then(Cgroup::memory_peak_bytes)
            .map(|b| b / 1024);
        let mut exiting_init = st
            .reported_end
            .map(|_| (self.pid1, Arc::clone(&self.pidfd)));
        if let Some(cgroup) = self.cgroup.take() {
            // The group goes before the outcome, so that a host that exits at once leaves none
            // behind (only a later run's sweep would remove it); it is empty once init is reaped.
            if let Some((pid, pidfd)) = exiting_init.take() {
                reap_by_pidfd(pid, &pidfd);
            }
            drop(cgroup);
        }
        let aftermath = Aftermath { init: exiting_init };
        // The wall-time limit as it stood at the end, which the host may have changed.
        let mut enforced_limits = self.enforced;
        enforced_limits.retain(|e| e.limit != TimeLimit::Wall.keyword());
        enforced_limits.extend(limits::wall_time_enforced(self.deadline.limit()));
        let outcome = Outcome {
            status,
            wall_time,
            cpu_time,
            max_rss_kb,
            memory_peak_kb,
            oom_killed,
            pids_limit_hit,
            enforced_limits,
            observations_dropped: self.observations_dropped.get(),
        };
        (outcome, aftermath)
    }
}
