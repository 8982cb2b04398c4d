//! When the fork server is gone, spawning clones directly: nothing fails, nothing is left.

mod common;

use sandbox_runtime::{start_fork_server, Status};

#[test]
fn a_killed_server_is_reaped_and_spawning_goes_on() {
    let pid = start_fork_server().expect("the fork server starts");
    assert_eq!(
        common::command("/bin/true")
            .output()
            .unwrap()
            .outcome
            .status,
        Status::Exited(0)
    );
    // Meanwhile the server has made the next sandbox's init ahead (a spare, our child).
    std::thread::sleep(std::time::Duration::from_millis(400));
    let spares: Vec<String> = common::children()
        .into_iter()
        .filter(|c| *c != pid.to_string())
        .collect();
    assert_eq!(spares.len(), 1, "children besides the server: {spares:?}");
    // SAFETY: pid is our fork server.
    assert_eq!(unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) }, 0);
    // Until it has died, a launch may reach it and fail once (it might have cloned init before
    // dying, so the runtime does not clone a second one for the same request); once it is
    // dead, spawning falls back without failing. Dead: a zombie whose other threads (its
    // network namespace maker's) have ended too, since its channel closes only then.
    let dead = || {
        let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |s| {
            s.rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        });
        let threads = std::fs::read_dir(format!("/proc/{pid}/task")).map_or(0, |t| t.count());
        zombie && threads <= 1
    };
    for _ in 0..1000 {
        if dead() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    assert!(dead(), "the fork server did not die");
    for _ in 0..3 {
        let out = common::command("/bin/echo").arg("direct").output().unwrap();
        assert_eq!(out.outcome.status, Status::Exited(0), "{}", out.outcome);
        assert_eq!(out.stdout, b"direct\n");
    }
    // Reaped: not even a zombie is left, of the server or of its spare.
    assert!(!common::process_exists(pid));
    assert!(
        !common::process_exists(&spares[0]),
        "the spare {} was left behind",
        spares[0]
    );
    // A second start says so rather than pretending: the process is no longer small.
    let e = start_fork_server().unwrap_err();
    assert!(e.to_string().contains("has ended"), "{e}");
}
