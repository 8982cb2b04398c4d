// `include` names a file relative to the crate's manifest directory.
static POLICY: sandbox_runtime::Policy = sandbox_runtime::policy! {
    default kill;
    include "policies/nope.policy";
};

fn main() {
    let _ = &POLICY;
}
