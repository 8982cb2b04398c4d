// `policy!(file = ...)`: a policy file relative to the crate's manifest directory.
#[path = "../check.rs"]
mod check;

use check::action;
use sandbox_runtime::__private::sandbox_policy::Action;

static POLICY: sandbox_runtime::Policy = sandbox_runtime::policy!(file = "policies/app.policy");

fn main() {
    assert!(POLICY.native_program().is_some());
    assert_eq!(POLICY.origin, "policies/app.policy");
    assert_eq!(POLICY.default, Action::Errno(1));
    assert_eq!(POLICY.rules.last().unwrap().text, "errno(ENOSYS) clone3");
    assert!(check::rule_texts(&POLICY).contains(&"kill ptrace"));
    assert_eq!(action(&POLICY, "ptrace", [0; 6]), Action::Kill);
    assert_eq!(action(&POLICY, "exit", [0; 6]), Action::Allow);
    assert_eq!(action(&POLICY, "socket", [0; 6]), Action::Errno(1));
}
