// Punctuation that is no part of the language.
static POLICY: sandbox_runtime::Policy = sandbox_runtime::policy! {
    default kill;
    allow write if fd == 1 @ 2;
};

fn main() {
    let _ = &POLICY;
}
