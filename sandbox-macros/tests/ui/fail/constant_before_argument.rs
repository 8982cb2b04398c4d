// A condition starts with the argument (`fd > 0 && fd < 3`, not `0 < fd < 3`).
static POLICY: sandbox_runtime::Policy = sandbox_runtime::policy! {
    default kill;
    allow write if 0 < fd && fd < 3;
};

fn main() {
    let _ = &POLICY;
}
