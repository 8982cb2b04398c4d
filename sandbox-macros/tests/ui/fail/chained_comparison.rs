// Comparisons do not chain, as in Rust.
static POLICY: sandbox_runtime::Policy = sandbox_runtime::policy! {
    default kill;
    allow write if fd > 0 < 3;
};

fn main() {
    let _ = &POLICY;
}
