// An argument alone is no condition.
static POLICY: sandbox_runtime::Policy = sandbox_runtime::policy! {
    default kill;
    allow write if fd;
};

fn main() {
    let _ = &POLICY;
}
