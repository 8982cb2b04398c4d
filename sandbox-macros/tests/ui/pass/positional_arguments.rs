// `arg0`..`arg5` name arguments by position, next to the prototype's own names.
#[path = "../check.rs"]
mod check;

use check::action;
use sandbox_runtime::__private::sandbox_policy::Action;

static POLICY: sandbox_runtime::Policy = sandbox_runtime::policy! {
    default kill;
    allow mmap if arg0 == 0 && arg1 == 4096 && arg2 == 3 && arg3 == 0x22 && arg4 == -1 && arg5 == 0;
    allow write if arg0 == 1 && count < 100;
    // prctl's man page calls its arguments arg2..arg5; those names win, and mean the same.
    allow prctl if option == 15 && arg2 == 0;
};

fn main() {
    assert!(POLICY.native_program().is_some());
    let exact = [0, 4096, 3, 0x22, u64::MAX, 0];
    assert_eq!(action(&POLICY, "mmap", exact), Action::Allow);
    for i in 0..6 {
        let mut args = exact;
        args[i] ^= 0x10;
        assert_eq!(
            action(&POLICY, "mmap", args),
            Action::Kill,
            "arg{i} is checked"
        );
    }
    assert_eq!(action(&POLICY, "write", [1, 0, 99, 0, 0, 0]), Action::Allow);
    assert_eq!(action(&POLICY, "write", [1, 0, 100, 0, 0, 0]), Action::Kill);
    assert_eq!(action(&POLICY, "prctl", [15, 0, 0, 0, 0, 0]), Action::Allow);
    assert_eq!(action(&POLICY, "prctl", [15, 1, 0, 0, 0, 0]), Action::Kill);
}
