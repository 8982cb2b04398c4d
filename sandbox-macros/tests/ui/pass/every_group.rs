// Every built-in group in one policy, each once: a group that another uses comes first
// (`static_startup` before `dynamic_startup`). Groups may overlap: a group's rule hidden by an
// earlier one is not an error.
#[path = "../check.rs"]
mod check;

use check::action;
use sandbox_runtime::__private::sandbox_policy::{groups::GROUPS, Action};

static POLICY: sandbox_runtime::Policy = sandbox_runtime::policy! {
    default kill;
    use dirs, static_startup, dynamic_startup, epoll, eventfd, exit, files_read, files_write,
        futex, getids, getpids, malloc, mmap_noexec, pipes, poll, random, signals, sleep, stdio,
        tcgets, threads, time, unix_sockets;
};

fn main() {
    assert!(POLICY.native_program().is_some());
    // Every group is used, and every group contributes at least one rule.
    for group in GROUPS {
        let prefix = format!("group {}, used at ", group.name);
        assert!(
            POLICY.rules.iter().any(|r| r.location.starts_with(&prefix)),
            "no rule from group {}",
            group.name
        );
    }
    assert_eq!(GROUPS.len(), 23, "a new group: add it to this policy");
    let z = [0; 6];
    assert_eq!(action(&POLICY, "exit_group", z), Action::Allow);
    assert_eq!(action(&POLICY, "getrandom", z), Action::Allow);
    assert_eq!(action(&POLICY, "ptrace", z), Action::Kill);
    assert_eq!(action(&POLICY, "execve", z), Action::Kill);
}
