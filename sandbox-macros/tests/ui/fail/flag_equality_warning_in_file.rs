// The same warning for a policy file, shown at the path with the file's own excerpt.
#![deny(deprecated)]

static POLICY: sandbox_runtime::Policy =
    sandbox_runtime::policy!(file = "policies/flag_equality.policy");

fn main() {
    let _ = &POLICY;
}
