// A rule above a `use` overrides the group's rule for that syscall: not an error, the way to
// narrow a group.
#[path = "../check.rs"]
mod check;

use check::action;
use sandbox_runtime::__private::sandbox_policy::Action;

static POLICY: sandbox_runtime::Policy = sandbox_runtime::policy! {
    default kill;
    errno(EPERM) mprotect;
    use malloc, exit;
};

fn main() {
    assert!(POLICY.native_program().is_some());
    assert_eq!(
        action(&POLICY, "mprotect", [0, 4096, 1, 0, 0, 0]),
        Action::Errno(1)
    );
    assert_eq!(action(&POLICY, "brk", [0; 6]), Action::Allow);
}
