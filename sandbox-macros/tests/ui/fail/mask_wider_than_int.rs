// A mask with bits above the argument's 32 bits.
static POLICY: sandbox_runtime::Policy = sandbox_runtime::policy! {
    default kill;
    allow write if fd & 0xff_0000_0000 == 0;
};

fn main() {
    let _ = &POLICY;
}
