// policies/cycle_a.policy and policies/cycle_b.policy include each other.
static POLICY: sandbox_runtime::Policy = sandbox_runtime::policy! {
    default kill;
    include "policies/cycle_a.policy";
};

fn main() {
    let _ = &POLICY;
}
