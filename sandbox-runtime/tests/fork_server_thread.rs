//! The thread that started the fork server may end; the server and its sandboxes do not. A
//! binary of its own: in one with other tests, another test's thread could be the one that
//! starts the server, and this one would not test what it says.

mod common;

use sandbox_runtime::{start_fork_server, Status, Stdio};

#[test]
fn sandboxes_outlive_the_thread_that_started_the_server() {
    let server_pid = std::thread::spawn(|| start_fork_server().expect("the fork server starts"))
        .join()
        .unwrap();
    let started_here = std::thread::spawn(|| {
        common::command("/bin/sleep")
            .arg("0.3")
            .stdout(Stdio::Null)
            .spawn()
            .unwrap()
    })
    .join()
    .unwrap();
    let mut child = started_here;
    assert_eq!(child.wait().status, Status::Exited(0));
    assert!(common::process_exists(server_pid));
    // Alive, not a zombie its parent has not reaped yet.
    let stat = std::fs::read_to_string(format!("/proc/{server_pid}/stat")).unwrap();
    let state = stat[stat.rfind(')').unwrap() + 2..].chars().next();
    assert_ne!(
        state,
        Some('Z'),
        "the fork server died with its starting thread"
    );
}
