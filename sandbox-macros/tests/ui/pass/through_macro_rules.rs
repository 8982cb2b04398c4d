// `policy!` called from a `macro_rules!` macro, with the file name or the policy's tokens
// passed through fragments.
macro_rules! policy_file {
    ($path:literal) => {
        sandbox_runtime::policy!(file = $path)
    };
}

macro_rules! allow_only {
    ($($syscall:ident),*) => {
        sandbox_runtime::policy! { default kill; allow $($syscall),*; }
    };
}

macro_rules! allow_if {
    ($syscall:ident, $cond:expr) => {
        sandbox_runtime::policy! { default kill; allow $syscall if $cond; }
    };
}

static FROM_FILE: sandbox_runtime::Policy = policy_file!("policies/app.policy");
static FROM_IDENTS: sandbox_runtime::Policy = allow_only!(read, write);
static FROM_EXPR: sandbox_runtime::Policy = allow_if!(write, fd == 1);

fn main() {
    assert!(FROM_FILE.native_program().is_some());
    assert_eq!(FROM_FILE.origin, "policies/app.policy");
    assert_eq!(FROM_IDENTS.rules[0].text, "allow read, write");
    assert_eq!(FROM_EXPR.rules[0].text, "allow write if fd == 1");
}
