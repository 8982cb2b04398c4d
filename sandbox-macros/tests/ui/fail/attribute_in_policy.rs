// An attribute is no part of a policy: a `cfg` on a rule would not take it out.
static POLICY: sandbox_runtime::Policy = sandbox_runtime::policy! {
    default kill;
    #[cfg(any())]
    allow write;
};

fn main() {
    let _ = &POLICY;
}
