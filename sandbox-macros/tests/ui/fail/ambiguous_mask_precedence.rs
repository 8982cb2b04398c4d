// Rust reads `flags & A | B` as `(flags & A) | B`: the policy language refuses to guess.
static POLICY: sandbox_runtime::Policy = sandbox_runtime::policy! {
    default kill;
    allow clone if flags & CLONE_NEWNS | CLONE_NEWUSER == 0;
};

fn main() {
    let _ = &POLICY;
}
