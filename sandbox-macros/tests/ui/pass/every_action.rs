// Every action, errno both by name and by number, and `default` with each kind of action.
#[path = "../check.rs"]
mod check;

use check::action;
use sandbox_runtime::__private::sandbox_policy::Action;

static POLICY: sandbox_runtime::Policy = sandbox_runtime::policy! {
    default errno(EACCES);
    allow read;
    log getpid;
    errno(EPERM) socket;
    errno(38) clone3;
    errno(4095) uname;
    trap ptrace;
    kill execve;
    kill_thread tkill;
};

static DEFAULT_KILL_THREAD: sandbox_runtime::Policy = sandbox_runtime::policy! {
    default kill_thread;
};

fn main() {
    assert!(POLICY.native_program().is_some());
    assert_eq!(POLICY.default, Action::Errno(13));
    // `clone3` is named, so the compiler adds no ENOSYS prelude rule for it.
    assert_eq!(POLICY.rules.len(), 8);
    let z = [0; 6];
    assert_eq!(action(&POLICY, "read", z), Action::Allow);
    assert_eq!(action(&POLICY, "getpid", z), Action::Log);
    assert_eq!(action(&POLICY, "socket", z), Action::Errno(1));
    assert_eq!(action(&POLICY, "clone3", z), Action::Errno(38));
    assert_eq!(action(&POLICY, "uname", z), Action::Errno(4095));
    assert_eq!(action(&POLICY, "ptrace", z), Action::Trap);
    assert_eq!(action(&POLICY, "execve", z), Action::Kill);
    assert_eq!(action(&POLICY, "tkill", z), Action::KillThread);
    assert_eq!(action(&POLICY, "write", z), Action::Errno(13));

    assert_eq!(DEFAULT_KILL_THREAD.default, Action::KillThread);
    assert_eq!(action(&DEFAULT_KILL_THREAD, "read", z), Action::KillThread);
    // Only the clone3 prelude.
    assert_eq!(
        check::rule_texts(&DEFAULT_KILL_THREAD),
        ["errno(ENOSYS) clone3"]
    );
}
