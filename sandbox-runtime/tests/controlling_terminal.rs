//! A host started from a terminal (its controlling terminal) does not hand it to the sandbox:
//! the program runs with no controlling terminal, in a process group of its own. Init gives the
//! terminal up and the program keeps to the host's session (and so to its scheduling group); where
//! init cannot (the `keep_controlling_terminal` hook), the program leads a session of its own,
//! which leaves it too. The attack suite types into the terminal from inside
//! (`a_terminal_the_host_runs_in_is_not_the_sandboxs`).

mod common;
mod terminal;

use std::os::fd::AsFd;

/// The program's own pid, process group, session and controlling terminal (`tty_nr`, 0 for
/// none), as its `/proc/self/stat` gives them in the sandbox's pid namespace, from a sandbox
/// given this process's terminal as stdin, cloned directly or by the fork server.
fn ids_inside(served: bool) -> [i64; 4] {
    let stdin = std::io::stdin().as_fd().try_clone_to_owned().unwrap();
    let out = common::command("/bin/cat")
        .arg("/proc/self/stat")
        .stdin(sandbox_runtime::Stdio::Fd(stdin))
        .policy(&common::permissive())
        .use_fork_server(served)
        .output()
        .unwrap();
    common::assert_exited_0(&out);
    let stat = String::from_utf8(out.stdout).unwrap();
    // pid (comm) state ppid pgrp session tty_nr ...: the name may hold spaces.
    let (pid, rest) = stat.split_once(" (").unwrap();
    let fields: Vec<&str> = rest.rsplit_once(") ").unwrap().1.split(' ').collect();
    let n = |s: &str| s.parse::<i64>().unwrap();
    [n(pid), n(fields[2]), n(fields[3]), n(fields[4])]
}

/// Runs `check` in a re-run of test `name` that has a terminal, before and after starting the
/// fork server.
fn in_a_terminal(name: &str, prepare: fn(), check: fn(bool)) {
    if !terminal::this_is_the_rerun() {
        let (_master, slave) = terminal::pty();
        terminal::rerun_with_a_terminal(name, &slave);
        return;
    }
    drop(terminal::controlling_terminal());
    prepare();
    check(false);
    sandbox_runtime::start_fork_server().expect("the fork server runs");
    check(true);
}

#[test]
fn a_program_started_from_a_terminal_has_none_and_a_group_of_its_own() {
    in_a_terminal(
        "a_program_started_from_a_terminal_has_none_and_a_group_of_its_own",
        || {},
        |served| {
            let [pid, pgrp, session, tty] = ids_inside(served);
            assert_eq!(tty, 0, "a controlling terminal inside (served: {served})");
            assert_eq!(pgrp, pid, "served: {served}");
            // The host's session, whose leader is outside the sandbox's pid namespace.
            assert_eq!(session, 0, "served: {served}");
        },
    );
}

#[test]
fn where_init_keeps_the_terminal_the_program_leads_a_session_without_it() {
    in_a_terminal(
        "where_init_keeps_the_terminal_the_program_leads_a_session_without_it",
        sandbox_runtime::test_hooks::keep_controlling_terminal,
        |served| {
            let [pid, pgrp, session, tty] = ids_inside(served);
            assert_eq!(tty, 0, "a controlling terminal inside (served: {served})");
            assert_eq!(pgrp, pid, "served: {served}");
            assert_eq!(session, pid, "served: {served}");
        },
    );
}
