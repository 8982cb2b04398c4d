// `file =` takes a string literal.
static POLICY: sandbox_runtime::Policy = sandbox_runtime::policy!(file = policies);

fn main() {
    let _ = &POLICY;
}
