// A misspelt syscall gets a did-you-mean.
static POLICY: sandbox_runtime::Policy = sandbox_runtime::policy! {
    default kill;
    allow read, wirte;
};

fn main() {
    let _ = &POLICY;
}
