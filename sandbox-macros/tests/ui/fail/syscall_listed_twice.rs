// The same syscall twice in one rule.
static POLICY: sandbox_runtime::Policy = sandbox_runtime::policy! {
    default kill;
    allow read, write, read;
};

fn main() {
    let _ = &POLICY;
}
