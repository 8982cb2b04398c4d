// Conditions group with parentheses only.
static POLICY: sandbox_runtime::Policy = sandbox_runtime::policy! {
    default kill;
    allow write if { fd == 1 || fd == 2 };
};

fn main() {
    let _ = &POLICY;
}
