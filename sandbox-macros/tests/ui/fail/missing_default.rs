// Every policy says what happens to the syscalls no rule names.
static POLICY: sandbox_runtime::Policy = sandbox_runtime::policy! {
    allow read, write;
};

fn main() {
    let _ = &POLICY;
}
