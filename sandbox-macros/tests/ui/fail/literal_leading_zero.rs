// C reads `0755` as octal and Rust as decimal: a literal with a leading zero is refused, so a
// mode or flag meant one way is never compiled the other.
static POLICY: sandbox_runtime::Policy = sandbox_runtime::policy! {
    default kill;
    allow fchmod if mode == 0755;
};

fn main() {
    let _ = &POLICY;
}
