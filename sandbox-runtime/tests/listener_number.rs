//! A sandboxee whose seccomp listener does not get the number it told the monitor ends the
//! start with a set-up error that says so, at once: the monitor does not look for the listener
//! under the wrong number until its grace runs out.

mod common;

use sandbox_runtime::{test_hooks, Status};
use std::time::{Duration, Instant};

#[test]
fn a_wrongly_predicted_listener_is_a_set_up_error_at_once() {
    // Every sandbox of this binary (its only test) mispredicts.
    test_hooks::mispredict_listener();
    let begun = Instant::now();
    let out = common::command("/bin/true")
        .policy(&common::permissive())
        .use_fork_server(false)
        .output()
        .unwrap();
    let Status::SetupError(e) = &out.outcome.status else {
        panic!("{}", out.outcome);
    };
    let text = e.to_string();
    assert!(text.contains("listener got descriptor"), "{text}");
    assert!(text.contains("not the one the monitor was told"), "{text}");
    // The monitor's grace for a listener announced but not installed is 5 s.
    let took = begun.elapsed();
    assert!(took < Duration::from_secs(2), "{took:?}");
}
