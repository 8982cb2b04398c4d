//! A launch the fork server dies during (after it cloned init, before it replied) fails with
//! an error that says so and leaves no process behind; later launches clone directly.

mod common;

use sandbox_runtime::{start_fork_server, test_hooks, Status};

#[test]
fn the_abandoned_init_is_reaped_and_the_error_names_the_cause() {
    // Set before the server starts (it reads it then); this is the binary's only test.
    test_hooks::fork_server_die_after_clone();
    let server = start_fork_server().expect("the fork server starts");
    let err = common::command("/bin/true").spawn().unwrap_err();
    assert!(
        err.to_string()
            .contains("fork server ended during the launch"),
        "{err}"
    );
    // Neither the server nor the init it cloned is left, not even as a zombie.
    assert!(!common::process_exists(server));
    assert_eq!(common::children(), Vec::<String>::new());
    let out = common::command("/bin/echo").arg("direct").output().unwrap();
    assert_eq!(out.outcome.status, Status::Exited(0), "{}", out.outcome);
    assert_eq!(out.stdout, b"direct\n");
    assert_eq!(common::children_once_reaped(), Vec::<String>::new());
}
