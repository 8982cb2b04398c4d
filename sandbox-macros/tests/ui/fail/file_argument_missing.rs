// `file = "..."` is relative to the crate's manifest directory; this file is not there.
static POLICY: sandbox_runtime::Policy = sandbox_runtime::policy!(file = "nope.policy");

fn main() {
    let _ = &POLICY;
}
