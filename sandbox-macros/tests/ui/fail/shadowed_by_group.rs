// The group `stdio` already allows `write` unconditionally, so the later rule is dead.
static POLICY: sandbox_runtime::Policy = sandbox_runtime::policy! {
    default kill;
    use stdio;
    allow write if fd == 1;
};

fn main() {
    let _ = &POLICY;
}
