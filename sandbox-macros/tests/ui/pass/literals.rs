// Integer literals as Rust writes them: decimal, hex, octal, binary, `_` separators, negative
// numbers, and AT_FDCWD (a negative constant) on an int argument.
#[path = "../check.rs"]
mod check;

use check::action;
use sandbox_runtime::__private::sandbox_policy::Action;

static POLICY: sandbox_runtime::Policy = sandbox_runtime::policy! {
    default errno(EPERM);
    allow openat if dirfd == AT_FDCWD;
    allow fchmodat if mode == 0o644 || mode == 0b111_101_101;
    allow write if fd == 0x1 || fd == 1_0;
    allow lseek if offset >= -4096 && offset < 0x7fff_ffff_ffff_ffff;
    allow close if fd == -1;
};

fn main() {
    assert!(POLICY.native_program().is_some());
    let (allow, deny) = (Action::Allow, Action::Errno(1));
    let at_fdcwd = -100i64;
    // AT_FDCWD matches sign-extended or not: the kernel reads an int's low 32 bits only.
    assert_eq!(
        action(&POLICY, "openat", [at_fdcwd as u64, 0, 0, 0, 0, 0]),
        allow
    );
    assert_eq!(
        action(&POLICY, "openat", [at_fdcwd as u32 as u64, 0, 0, 0, 0, 0]),
        allow
    );
    assert_eq!(action(&POLICY, "openat", [3, 0, 0, 0, 0, 0]), deny);
    assert_eq!(action(&POLICY, "fchmodat", [0, 0, 0o644, 0, 0, 0]), allow);
    assert_eq!(action(&POLICY, "fchmodat", [0, 0, 0o755, 0, 0, 0]), allow);
    assert_eq!(action(&POLICY, "fchmodat", [0, 0, 0o777, 0, 0, 0]), deny);
    assert_eq!(action(&POLICY, "write", [1, 0, 0, 0, 0, 0]), allow);
    assert_eq!(action(&POLICY, "write", [10, 0, 0, 0, 0, 0]), allow);
    assert_eq!(action(&POLICY, "write", [2, 0, 0, 0, 0, 0]), deny);
    assert_eq!(
        action(&POLICY, "lseek", [0, -4096i64 as u64, 0, 0, 0, 0]),
        allow
    );
    assert_eq!(
        action(&POLICY, "lseek", [0, -4097i64 as u64, 0, 0, 0, 0]),
        deny
    );
    assert_eq!(action(&POLICY, "lseek", [0, 5, 0, 0, 0, 0]), allow);
    assert_eq!(
        action(&POLICY, "close", [0xffff_ffff, 0, 0, 0, 0, 0]),
        allow
    );
    assert_eq!(action(&POLICY, "close", [0, 0, 0, 0, 0, 0]), deny);
}
