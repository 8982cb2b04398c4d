// A misspelt built-in group gets a did-you-mean.
static POLICY: sandbox_runtime::Policy = sandbox_runtime::policy! {
    default kill;
    use stdoi, exit;
};

fn main() {
    let _ = &POLICY;
}
