// `errno` takes its value in parentheses.
static POLICY: sandbox_runtime::Policy = sandbox_runtime::policy! {
    default kill;
    errno EPERM ptrace;
};

fn main() {
    let _ = &POLICY;
}
