// The mask goes on the argument: `arg & MASK == VALUE`.
static POLICY: sandbox_runtime::Policy = sandbox_runtime::policy! {
    default kill;
    allow openat if flags == O_ACCMODE & O_RDONLY;
};

fn main() {
    let _ = &POLICY;
}
