//! A process the host forks while another of the host's threads makes its first sandbox (or
//! starts the fork server) can make sandboxes of its own. The runtime fills some state on first
//! use; a fork taken while another thread fills it gives the child that state half made, and
//! the child has no thread that will ever finish it: nothing there may wait for it. Each round
//! is a fresh process (forked from this test, which never uses the runtime itself) whose
//! second thread makes the first sandbox while its main thread forks children, one after
//! another, until that sandbox has ended; the children then make a sandbox each, a few at a
//! time, under an alarm that ends one that hangs. The same holds while the host's other
//! threads only start and end (`std::thread` takes a lock of its own for each, which the
//! runtime's threads must not wait on in the child). And threads that start the fork server at
//! once, each able to start one now that nothing waits, share one and leave no other behind.
//! A binary of its own, so that the runtime is unused here.

mod common;

use sandbox_runtime::{start_fork_server, Status};
use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Fresh processes per case, each with its own first use.
const ROUNDS: usize = 12;
/// At most this many children forked during one first use.
const FORKS_PER_ROUND: usize = 40;
/// Children forked while threads start and end.
const CHURN_FORKS: usize = 1000;
/// Children let go to make their sandboxes at once.
const AT_ONCE: usize = 8;
/// How long [`threads_start_and_end`] goes on: longer than forking the children takes.
const CHURN_TIME: Duration = Duration::from_secs(2);
/// Threads of the round's process that each start and end threads, one after another.
const CHURNERS: usize = 4;
/// Seconds a forked child may take to make and run its sandbox before it counts as hung.
const CHILD_ALARM: u32 = 30;

/// Runs `/bin/true` in a sandbox (through the fork server if `served`); whether it exited 0.
fn true_in_a_sandbox(served: bool) -> bool {
    let outcome = common::command("/bin/true")
        .use_fork_server(served)
        .status();
    matches!(outcome.map(|o| o.status), Ok(Status::Exited(0)))
}

/// The first use of the runtime by the round's process: one sandbox, cloned directly.
fn first_sandbox() -> bool {
    true_in_a_sandbox(false)
}

/// The first use of the runtime by the round's process: starting the fork server, then one
/// sandbox from it.
fn fork_server_then_sandbox() -> bool {
    start_fork_server().is_ok() && true_in_a_sandbox(true)
}

/// Threads of the round's process starting and ending, [`CHURNERS`] at a time, for
/// [`CHURN_TIME`]: each start and end takes `std::thread`'s own lock, which a fork may copy
/// held.
fn threads_start_and_end() -> bool {
    let churn = || {
        let start = Instant::now();
        while start.elapsed() < CHURN_TIME {
            if std::thread::spawn(|| {}).join().is_err() {
                return false;
            }
        }
        true
    };
    let churners: Vec<_> = (0..CHURNERS).map(|_| std::thread::spawn(churn)).collect();
    churners.into_iter().all(|c| c.join().unwrap_or(false))
}

/// What a forked child does: asks for the fork server (which belongs to the process it was
/// forked from, so it gets an error or, if that process had not started it yet, a server of
/// its own) and runs a sandbox through it or, failing that, cloned directly.
fn sandbox_in_forked_child() -> bool {
    let _ = start_fork_server();
    true_in_a_sandbox(true)
}

/// Forks until `done` (or `forks` children), each child waiting to be let go; then lets them
/// go [`AT_ONCE`] at a time, each running `in_child` under an alarm, and reaps them all.
/// Returns the round's findings as text, empty if every child ran its sandbox. The children
/// wait so that none takes the CPUs from the threads the forks are to catch at work.
fn fork_children_until(done: &AtomicBool, forks: usize, in_child: fn() -> bool) -> String {
    let (mut go_r, mut go_w) = common::pipe();
    let mut children = 0;
    while !done.load(Ordering::SeqCst) && children < forks {
        // SAFETY: the child reads one byte, arms an alarm, makes one sandbox (allocating,
        // which glibc's fork makes safe) and exits without returning into anything of this
        // process.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            // Only the round's process holds the writing end: if it dies before letting this
            // child go, the read ends and so does the child, instead of waiting for ever.
            drop(go_w);
            let mut go = [0u8];
            let ok = go_r.read_exact(&mut go).is_ok() && {
                // SAFETY: takes a plain value; SIGALRM's default action ends the child.
                unsafe { libc::alarm(CHILD_ALARM) };
                in_child()
            };
            // SAFETY: ends the child without running anything of this process's exit path.
            unsafe { libc::_exit(if ok { 0 } else { 1 }) };
        }
        children += 1;
    }
    let (mut hung, mut failed) = (0, 0);
    for batch in (0..children).step_by(AT_ONCE) {
        let batch = AT_ONCE.min(children - batch);
        go_w.write_all(&vec![1; batch]).unwrap();
        for _ in 0..batch {
            let mut status = 0;
            // SAFETY: reaps one of this process's children.
            unsafe { libc::waitpid(-1, &mut status, 0) };
            if libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGALRM {
                hung += 1;
            } else if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
                failed += 1;
            }
        }
    }
    if hung + failed == 0 {
        return String::new();
    }
    format!(
        "of {children} children forked, {hung} hung (no sandbox after {CHILD_ALARM} s) and \
         {failed} failed"
    )
}

/// Runs `round` in `rounds` fresh processes forked from this one, each reporting what went
/// wrong as text (empty if nothing did); panics with the reports of the rounds that did.
fn in_fresh_processes(rounds: usize, round: impl Fn() -> String) {
    let mut problems = Vec::new();
    for n in 0..rounds {
        let (mut r, mut w) = common::pipe();
        // SAFETY: the child runs `round` (threads, forks, sandboxes), writes one report and
        // exits without returning into the test harness.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            drop(r);
            let _ = w.write_all(round().as_bytes());
            // SAFETY: ends the round's process without running the harness's exit path.
            unsafe { libc::_exit(0) };
        }
        drop(w);
        let mut report = String::new();
        r.read_to_string(&mut report).unwrap();
        let mut status = 0;
        // SAFETY: our child, reaped once.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        if !report.is_empty() {
            problems.push(format!("round {n}: {report}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Runs `rounds` fresh processes, each running `first_use` on a second thread while its main
/// thread forks up to `forks` children that run `in_child`; panics with what went wrong in each
/// round that did.
fn fork_during(first_use: fn() -> bool, rounds: usize, forks: usize, in_child: fn() -> bool) {
    in_fresh_processes(rounds, || {
        let done = Arc::new(AtomicBool::new(false));
        let first = {
            let done = Arc::clone(&done);
            std::thread::spawn(move || {
                let ok = first_use();
                done.store(true, Ordering::SeqCst);
                ok
            })
        };
        let mut report = fork_children_until(&done, forks, in_child);
        if !first.join().unwrap_or(false) {
            report.push_str(" the first use itself failed");
        }
        report
    });
}

#[test]
fn a_child_forked_during_the_hosts_first_sandbox_makes_its_own() {
    fork_during(
        first_sandbox,
        ROUNDS,
        FORKS_PER_ROUND,
        sandbox_in_forked_child,
    );
}

#[test]
fn a_child_forked_while_the_host_starts_its_fork_server_makes_its_own_sandbox() {
    fork_during(
        fork_server_then_sandbox,
        ROUNDS,
        FORKS_PER_ROUND,
        sandbox_in_forked_child,
    );
}

#[test]
fn a_child_forked_while_other_host_threads_start_and_end_makes_a_sandbox() {
    // A fork catches that lock held about once in a hundred: many forks, in one round.
    fork_during(
        threads_start_and_end,
        1,
        CHURN_FORKS,
        sandbox_in_forked_child,
    );
}

/// In a fresh process, [`RACERS`] threads start the fork server at once; what each got back,
/// and the process's children once all returned.
fn racing_starts() -> (Vec<Result<u32, String>>, Vec<String>) {
    let go = Arc::new(std::sync::Barrier::new(RACERS));
    let racers: Vec<_> = (0..RACERS)
        .map(|_| {
            let go = Arc::clone(&go);
            std::thread::spawn(move || {
                go.wait();
                start_fork_server().map_err(|e| e.to_string())
            })
        })
        .collect();
    let got = racers.into_iter().map(|r| r.join().unwrap()).collect();
    (got, common::children())
}

/// How many threads of this process are a fork server's parent, once only one is, or as
/// they are after five seconds (a discarded server's parent ends as its `recv` returns).
fn server_parents_once_settled() -> usize {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let parents = std::fs::read_dir("/proc/self/task")
            .unwrap()
            .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
            .filter(|name| name.trim() == "sandbox-fork-se")
            .count();
        if parents <= 1 || Instant::now() > deadline {
            return parents;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Threads that start the fork server at once.
const RACERS: usize = 4;

#[test]
fn threads_racing_to_start_the_fork_server_share_one_and_leave_no_other() {
    in_fresh_processes(ROUNDS, || {
        let (got, children) = racing_starts();
        let pids: Vec<u32> = got.iter().filter_map(|g| g.clone().ok()).collect();
        if pids.len() != RACERS || pids.iter().any(|p| *p != pids[0]) {
            format!("the racing starts returned {got:?}")
        } else if children != [pids[0].to_string()] {
            format!(
                "server {}, but the process's children are {children:?}",
                pids[0]
            )
        } else {
            match server_parents_once_settled() {
                1 => String::new(),
                n => format!("{n} fork-server parent threads"),
            }
        }
    });
}
