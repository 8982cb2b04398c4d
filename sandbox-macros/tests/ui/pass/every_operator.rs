// Conditions with every comparison operator, `&&`, `||`, `!` and parentheses, with Rust's
// precedence.
#[path = "../check.rs"]
mod check;

use check::action;
use sandbox_runtime::__private::sandbox_policy::Action;

static POLICY: sandbox_runtime::Policy = sandbox_runtime::policy! {
    default errno(EPERM);
    allow read if fd == 0;
    allow write if fd != 0 && fd <= 2;
    allow close if fd > 2 && fd < 100;
    allow dup if oldfd >= 3 || oldfd == 0;
    allow lseek if !(fd == 5 || fd == 6) && (whence == SEEK_SET || whence == SEEK_END);
    allow fsync if !!(fd == 7);
};

fn main() {
    assert!(POLICY.native_program().is_some());
    assert_eq!(POLICY.rules.len(), 7);
    let call = |name: &str, a0: u64, a2: u64| action(&POLICY, name, [a0, 0, a2, 0, 0, 0]);
    let (allow, deny) = (Action::Allow, Action::Errno(1));
    assert_eq!(call("read", 0, 0), allow);
    assert_eq!(call("read", 1, 0), deny);
    assert_eq!(call("write", 0, 0), deny);
    assert_eq!(call("write", 2, 0), allow);
    assert_eq!(call("write", 3, 0), deny);
    assert_eq!(call("close", 2, 0), deny);
    assert_eq!(call("close", 99, 0), allow);
    assert_eq!(call("close", 100, 0), deny);
    assert_eq!(call("dup", 0, 0), allow);
    assert_eq!(call("dup", 1, 0), deny);
    assert_eq!(call("dup", 3, 0), allow);
    assert_eq!(call("lseek", 4, 0), allow);
    assert_eq!(call("lseek", 4, 1), deny);
    assert_eq!(call("lseek", 5, 0), deny);
    assert_eq!(call("fsync", 7, 0), allow);
    assert_eq!(call("fsync", 8, 0), deny);
}
