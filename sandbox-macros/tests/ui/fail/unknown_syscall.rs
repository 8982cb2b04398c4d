// A name that is no syscall on any architecture, and not close to one.
static POLICY: sandbox_runtime::Policy = sandbox_runtime::policy! {
    default kill;
    allow frobnicate;
};

fn main() {
    let _ = &POLICY;
}
