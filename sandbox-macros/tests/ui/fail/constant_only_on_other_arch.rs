// `MAP_32BIT` exists only on x86_64, and `mmap` is compiled for aarch64 too.
static POLICY: sandbox_runtime::Policy = sandbox_runtime::policy! {
    default kill;
    allow mmap if flags & MAP_32BIT == 0;
};

fn main() {
    let _ = &POLICY;
}
