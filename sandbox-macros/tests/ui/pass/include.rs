// `include` inside `policy!`, relative to the crate's manifest directory; the included file
// includes another, relative to its own directory.
#[path = "../check.rs"]
mod check;

use check::action;
use sandbox_runtime::__private::sandbox_policy::Action;

static POLICY: sandbox_runtime::Policy = sandbox_runtime::policy! {
    default kill;
    allow read;
    include "policies/common.policy";
};

fn main() {
    assert!(POLICY.native_program().is_some());
    assert_eq!(
        check::rule_texts(&POLICY),
        [
            "allow read",
            "allow exit, exit_group",
            "allow write if fd == 1",
            "errno(ENOSYS) clone3",
        ]
    );
    assert!(POLICY.rules[1]
        .location
        .ends_with("policies/common.policy:2:1"));
    assert!(POLICY.rules[2]
        .location
        .ends_with("policies/nested/write_stdout.policy:2:1"));
    assert_eq!(action(&POLICY, "exit_group", [0; 6]), Action::Allow);
    assert_eq!(action(&POLICY, "write", [1, 0, 0, 0, 0, 0]), Action::Allow);
    assert_eq!(action(&POLICY, "write", [2, 0, 0, 0, 0, 0]), Action::Kill);
}
