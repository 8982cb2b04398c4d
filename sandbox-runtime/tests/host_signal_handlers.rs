//! A signal the host handles that comes while a sandbox is being made never runs the host's
//! handler outside the host: a sandbox's init, like the fork server, starts as a copy of the
//! host, handlers and all, until it resets them. Both are made with every signal blocked, and
//! unblock them once their actions are the defaults.
//!
//! The test re-runs itself leading a process group of its own, which a thread floods with
//! `SIGWINCH` (what a terminal sends its foreground group on a resize, ignored by default, so
//! that the sandboxes' own processes go on) while the main thread makes sandboxes, cloned
//! directly and through the fork server.

mod common;

use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering};
use std::time::Duration;

/// Set in the environment of the re-run.
const RERUN: &str = "SANDBOX_TEST_SIGNAL_FLOOD";

/// Sandboxes made each way.
const SANDBOXES: usize = 100;

/// The host's pid, which the handler compares its own with.
static HOST_PID: AtomicI32 = AtomicI32::new(0);
/// The write end of the pipe the handler writes a byte to when it runs outside the host.
static WITNESS: AtomicI32 = AtomicI32::new(-1);
/// How often the handler ran in the host (in the host's memory; a copy counts in its own).
static RAN_IN_THE_HOST: AtomicUsize = AtomicUsize::new(0);

extern "C" fn on_sigwinch(_: libc::c_int) {
    // Only async-signal-safe work: getpid, write and atomics.
    // SAFETY: getpid has no arguments.
    if unsafe { libc::getpid() } == HOST_PID.load(Ordering::Relaxed) {
        RAN_IN_THE_HOST.fetch_add(1, Ordering::Relaxed);
        return;
    }
    // SAFETY: writes one byte from a static to the witness pipe.
    unsafe { libc::write(WITNESS.load(Ordering::Relaxed), b"!".as_ptr().cast(), 1) };
}

/// Installs [`on_sigwinch`], restarting interrupted calls as most handlers do.
fn handle_sigwinch() {
    // SAFETY: sigaction is plain data, zeroed then filled; the handler is a live function.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_sigwinch as extern "C" fn(libc::c_int) as usize;
        action.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        assert_eq!(
            libc::sigaction(libc::SIGWINCH, &action, std::ptr::null_mut()),
            0
        );
    }
}

/// Sends `SIGWINCH` to this process group every 50 µs until `stop`, from a thread that blocks
/// it itself.
fn flood(stop: &AtomicBool) {
    // SAFETY: sigset_t is plain data; pthread_sigmask changes only this thread's mask.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGWINCH);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
    while !stop.load(Ordering::Relaxed) {
        // SAFETY: kill with integer arguments: 0 is this process's group.
        unsafe { libc::kill(0, libc::SIGWINCH) };
        std::thread::sleep(Duration::from_micros(50));
    }
}

#[test]
fn a_host_signal_handler_never_runs_in_a_sandbox() {
    let name = "a_host_signal_handler_never_runs_in_a_sandbox";
    if std::env::var_os(RERUN).is_none() {
        let status = std::process::Command::new(std::env::current_exe().unwrap())
            .args([name, "--exact", "--nocapture", "--test-threads=1"])
            .env(RERUN, "1")
            .process_group(0)
            .status()
            .expect("re-run the test in a process group of its own");
        assert!(status.success(), "{name}, re-run: {status}");
        return;
    }
    let (witness_read, witness_write) = common::pipe();
    // SAFETY: fcntl on a live descriptor this test owns.
    unsafe { libc::fcntl(witness_read.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) };
    HOST_PID.store(std::process::id() as i32, Ordering::Relaxed);
    WITNESS.store(witness_write.as_raw_fd(), Ordering::Relaxed);
    handle_sigwinch();
    let stop = AtomicBool::new(false);
    let policy = common::permissive();
    std::thread::scope(|s| {
        s.spawn(|| flood(&stop));
        for served in [false, true] {
            for i in 0..SANDBOXES {
                let outcome = common::command("/bin/true")
                    .policy(&policy)
                    .share_network(true)
                    .use_fork_server(served)
                    .status()
                    .unwrap_or_else(|e| panic!("sandbox {i} (served: {served}): {e}"));
                assert_eq!(
                    outcome.status,
                    sandbox_runtime::Status::Exited(0),
                    "sandbox {i} (served: {served})"
                );
            }
        }
        stop.store(true, Ordering::Relaxed);
    });
    let mut ran_outside = 0;
    let mut byte = [0u8; 64];
    loop {
        // SAFETY: reads into a live buffer of its length.
        let n = unsafe { libc::read(witness_read.as_raw_fd(), byte.as_mut_ptr().cast(), 64) };
        if n <= 0 {
            break;
        }
        ran_outside += n as usize;
    }
    let in_the_host = RAN_IN_THE_HOST.load(Ordering::Relaxed);
    eprintln!("the handler ran {in_the_host} times in the host, {ran_outside} outside it");
    // The control: the flood reached this process group.
    assert!(in_the_host > 0, "no SIGWINCH reached the host");
    assert_eq!(ran_outside, 0, "the host's handler ran outside the host");
}
