//! The parser of the benchmarks' kernel trace, checked here because the benchmarks themselves
//! have no test harness: a line read wrongly would split a run at the wrong event.

#[allow(dead_code)] // the tracefs instance itself needs root and is used by the benchmark
#[path = "../benches/sandbox/trace.rs"]
mod trace;

use trace::{Event, Kind};

#[test]
fn parses_the_three_events() {
    let exec = "  python3-5445 [001] ..... 61081.380260: sched_process_exec: filename=/usr/bin/python3 pid=5445 old_pid=5445";
    assert_eq!(
        Event::parse(exec),
        Some(Event {
            at: 61081.380260,
            kind: Kind::Exec { pid: 5445 }
        })
    );
    let fork = " sandbox-fork-se-5441 [000] ..... 61081.313039: sched_process_fork: comm=sandbox-fork-se pid=5441 child_comm=sandbox-fork-se child_pid=5443";
    assert_eq!(
        Event::parse(fork).map(|e| e.kind),
        Some(Kind::Fork {
            parent: 5441,
            child: 5443
        })
    );
    let exit = " python3.11-5443 [000] ..... 61081.358730: sched_process_exit: comm=python3.11 pid=5443 prio=120 group_dead=true";
    assert_eq!(
        Event::parse(exit).map(|e| e.kind),
        Some(Kind::Exit { pid: 5443 })
    );
    assert_eq!(Event::parse("# tracer: nop"), None);
}

#[test]
fn a_command_name_with_spaces_does_not_shift_the_fields() {
    let exit = " my prog pid=7-912 [001] ..... 5.000001: sched_process_exit: comm=my prog pid=7 pid=912 prio=120 group_dead=true";
    assert_eq!(
        Event::parse(exit).map(|e| e.kind),
        Some(Kind::Exit { pid: 912 })
    );
    let other = " kworker/0:1-12 [000] ..... 5.000002: sched_switch: prev_comm=a prev_pid=1";
    assert_eq!(Event::parse(other), None);
}

#[test]
fn the_task_column_gives_the_thread_id() {
    let line = "  sandbox-fork-se-5441    [001] ..... 61081.313039: tracing_mark_write: x";
    assert_eq!(trace::task_id(line), Some(5441));
    let spaced = "   my odd-name-77 [000] d..2. 1.0: tracing_mark_write: y";
    assert_eq!(trace::task_id(spaced), Some(77));
    assert_eq!(trace::task_id("# tracer: nop"), None);
}
