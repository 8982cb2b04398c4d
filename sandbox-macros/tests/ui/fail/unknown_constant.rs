// A misspelt constant gets a did-you-mean.
static POLICY: sandbox_runtime::Policy = sandbox_runtime::policy! {
    default kill;
    allow openat if flags & O_ACCMODE == O_RDONYL;
};

fn main() {
    let _ = &POLICY;
}
