// Errors in a policy file name the file's own lines, and sit on the file name.
static POLICY: sandbox_runtime::Policy = sandbox_runtime::policy!(file = "policies/broken.policy");

fn main() {
    let _ = &POLICY;
}
