// Every mistake in a condition is reported at once, on either side of `||`.
static POLICY: sandbox_runtime::Policy = sandbox_runtime::policy! {
    default kill;
    allow read if fdd == 0 || cuont == 1;
};

fn main() {
    let _ = &POLICY;
}
