// `fd` is a 32-bit int: the kernel never sees the high bits, so this could never match.
static POLICY: sandbox_runtime::Policy = sandbox_runtime::policy! {
    default kill;
    allow write if fd == 0x1_0000_0001;
};

fn main() {
    let _ = &POLICY;
}
