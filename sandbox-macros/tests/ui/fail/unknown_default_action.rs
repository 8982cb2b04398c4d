// `default` takes one of the actions.
static POLICY: sandbox_runtime::Policy = sandbox_runtime::policy! {
    default deny;
    allow read;
};

fn main() {
    let _ = &POLICY;
}
