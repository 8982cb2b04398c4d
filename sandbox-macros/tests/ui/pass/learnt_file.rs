// A policy written by `sandbox learn`, used unchanged with `policy!(file = ...)`.
#[path = "../check.rs"]
mod check;

use check::action;
use sandbox_runtime::__private::sandbox_policy::Action;

static POLICY: sandbox_runtime::Policy =
    sandbox_runtime::policy!(file = "policies/learnt_cat.policy");

fn main() {
    assert!(POLICY.native_program().is_some());
    assert_eq!(POLICY.default, Action::Kill);
    assert_eq!(action(&POLICY, "write", [1, 0, 5, 0, 0, 0]), Action::Allow);
    assert_eq!(action(&POLICY, "openat", [0, 0, 0x80000, 0, 0, 0]), Action::Allow);
    // Opening for writing, executable writable mappings and sockets were never learnt.
    assert_eq!(action(&POLICY, "openat", [0, 0, 0o1101, 0, 0, 0]), Action::Kill);
    assert_eq!(action(&POLICY, "mmap", [0, 4096, 7, 0x22, 0, 0]), Action::Kill);
    assert_eq!(action(&POLICY, "mmap", [0, 4096, 3, 0x22, 0, 0]), Action::Allow);
    assert_eq!(action(&POLICY, "socket", [1, 1, 0, 0, 0, 0]), Action::Kill);
}
