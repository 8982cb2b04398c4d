// A rule that can never apply because an earlier one decides the syscall unconditionally.
static POLICY: sandbox_runtime::Policy = sandbox_runtime::policy! {
    default kill;
    allow read, write;
    kill write;
};

fn main() {
    let _ = &POLICY;
}
