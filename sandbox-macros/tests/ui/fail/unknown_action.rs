// A statement must start with a keyword or an action.
static POLICY: sandbox_runtime::Policy = sandbox_runtime::policy! {
    default kill;
    deny ptrace;
};

fn main() {
    let _ = &POLICY;
}
