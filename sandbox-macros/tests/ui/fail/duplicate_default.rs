// Only one default action.
static POLICY: sandbox_runtime::Policy = sandbox_runtime::policy! {
    default kill;
    allow read;
    default errno(EPERM);
};

fn main() {
    let _ = &POLICY;
}
