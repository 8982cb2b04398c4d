//! A request with more descriptors than the fork server's table has room for, or with one
//! numbered past its limit (the host raised its open-files limit after the server started), is
//! cloned directly: it neither fails nor ends the server, which serves the next request. One
//! test: the server's limit is set once per process.

mod common;

use sandbox_runtime::{start_fork_server, Status};
use std::os::fd::OwnedFd;

/// Sets this process's soft open-files limit.
fn set_open_files(soft: u64) {
    let mut l: libc::rlimit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut l) }, 0);
    assert!(
        l.rlim_max >= soft,
        "the hard open-files limit is below {soft}"
    );
    l.rlim_cur = soft;
    // SAFETY: l is a live rlimit.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &l) }, 0);
}

#[test]
fn more_descriptors_than_the_server_can_hold_are_cloned_directly() {
    set_open_files(256);
    let server = start_fork_server().expect("the fork server starts");
    set_open_files(1024);
    // Far more than the server's whole table: it cannot receive them all.
    let (read_end, write_end) = common::pipe();
    let write_end = OwnedFd::from(write_end);
    let mut cmd = common::command("/bin/true");
    for target in 3..403 {
        cmd.pass_fd(write_end.try_clone().unwrap(), target);
    }
    drop(write_end);
    let out = cmd.output().unwrap();
    assert_eq!(out.outcome.status, Status::Exited(0), "{}", out.outcome);
    drop(read_end);
    // The server is still there, and serves.
    assert_eq!(start_fork_server().expect("the server still runs"), server);
    let out = common::command("/bin/echo").arg("served").output().unwrap();
    assert_eq!(out.outcome.status, Status::Exited(0), "{}", out.outcome);
    assert_eq!(out.stdout, b"served\n");
    assert_eq!(start_fork_server().expect("the server still runs"), server);
    // One descriptor passed at a number past the server's limit (though within the host's),
    // with a spare ready for the same sandbox and without: cloned directly each time.
    for _ in 0..3 {
        let (read_end, write_end) = common::pipe();
        let out = common::command("/bin/true")
            .pass_fd(OwnedFd::from(write_end), 300)
            .output()
            .unwrap();
        assert_eq!(out.outcome.status, Status::Exited(0), "{}", out.outcome);
        drop(read_end);
    }
    assert_eq!(start_fork_server().expect("the server still runs"), server);
}
