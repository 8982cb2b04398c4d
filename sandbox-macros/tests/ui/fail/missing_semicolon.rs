// A rule ends with `;`.
static POLICY: sandbox_runtime::Policy = sandbox_runtime::policy! {
    default kill;
    allow read
    allow write;
};

fn main() {
    let _ = &POLICY;
}
