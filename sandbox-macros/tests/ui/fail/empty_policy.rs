// An empty policy has no default action.
static POLICY: sandbox_runtime::Policy = sandbox_runtime::policy! {

};

fn main() {
    let _ = &POLICY;
}
