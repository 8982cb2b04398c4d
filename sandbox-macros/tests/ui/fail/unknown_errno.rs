// A misspelt errno name gets a did-you-mean.
static POLICY: sandbox_runtime::Policy = sandbox_runtime::policy! {
    default errno(EPREM);
    allow read;
};

fn main() {
    let _ = &POLICY;
}
