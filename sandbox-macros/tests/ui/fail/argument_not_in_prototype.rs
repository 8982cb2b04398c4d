// An argument name that other syscalls have, but this one does not.
static POLICY: sandbox_runtime::Policy = sandbox_runtime::policy! {
    default kill;
    allow write if flags == 0;
};

fn main() {
    let _ = &POLICY;
}
