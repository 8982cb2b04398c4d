// Integer literals take no type suffix: the argument's own type decides the width.
static POLICY: sandbox_runtime::Policy = sandbox_runtime::policy! {
    default kill;
    allow write if fd == 1u32;
};

fn main() {
    let _ = &POLICY;
}
