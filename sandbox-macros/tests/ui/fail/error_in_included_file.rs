// An error inside an included file is shown at the `include`, with the file's own line.
static POLICY: sandbox_runtime::Policy = sandbox_runtime::policy! {
    default kill;
    include "policies/typo.policy";
};

fn main() {
    let _ = &POLICY;
}
