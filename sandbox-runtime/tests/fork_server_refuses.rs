//! A request the fork server reads but cannot carry out gets its error back, and the server
//! serves on: one bad request does not end it.

mod common;

use sandbox_runtime::{start_fork_server, SpawnError, Status};

#[test]
fn a_request_the_server_cannot_carry_out_fails_alone() {
    let server = start_fork_server().expect("the fork server starts") as libc::pid_t;
    // The server may hold descriptors 0..16 only: a descriptor passed at 20 has to be moved
    // above 20 there, which it cannot do.
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: prlimit on our own child: reads its limit into a live rlimit, then lowers the
    // soft limit only.
    let r = unsafe {
        libc::prlimit(server, libc::RLIMIT_NOFILE, std::ptr::null(), &mut limit);
        limit.rlim_cur = 16;
        libc::prlimit(server, libc::RLIMIT_NOFILE, &limit, std::ptr::null_mut())
    };
    assert_eq!(r, 0, "{}", std::io::Error::last_os_error());
    let f = std::fs::File::open("/dev/null").unwrap();
    let err = common::command("/bin/true")
        .pass_fd(f.into(), 20)
        .spawn()
        .map(|_| ())
        .unwrap_err();
    assert!(err.to_string().contains("fork server"), "{err}");
    // Still the same server, still answering.
    assert_eq!(start_fork_server().unwrap() as libc::pid_t, server);
    let out = common::command("/bin/echo").arg("served").output().unwrap();
    assert_eq!(out.outcome.status, Status::Exited(0), "{}", out.outcome);
    assert_eq!(out.stdout, b"served\n");
}

/// What the server would refuse to read, the host refuses before sending it: the server never
/// ends over a request the host let through. (The same for descriptor numbers above 2^30, in
/// `wire`'s unit tests: an open-files limit that allows them cannot be set here.)
#[test]
fn what_the_server_would_refuse_the_host_refuses_first() {
    let server = start_fork_server().expect("the fork server starts");
    // A policy built by hand whose programs are empty.
    let mut policy = common::permissive();
    let mut programs = policy.programs.to_vec();
    for p in &mut programs {
        p.filter = Vec::new().into();
    }
    policy.programs = programs.into();
    let err = common::command("/bin/true")
        .policy(&policy)
        .spawn()
        .map(|_| ())
        .unwrap_err();
    assert!(matches!(err, SpawnError::EmptyProgram), "{err}");
    // Still the same server, still answering.
    assert_eq!(start_fork_server().unwrap(), server);
    let out = common::command("/bin/echo").arg("served").output().unwrap();
    assert_eq!(out.outcome.status, Status::Exited(0), "{}", out.outcome);
    assert_eq!(out.stdout, b"served\n");
}
