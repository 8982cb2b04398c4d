// Equality on a flags argument in a rule that denies: a warning (extra bits get past it), made
// an error here so that trybuild shows it. Without the `deny` the policy compiles.
#![deny(deprecated)]

static POLICY: sandbox_runtime::Policy = sandbox_runtime::policy! {
    default allow;
    kill socket if type == SOCK_RAW;
    kill socket if type & 0xf == SOCK_PACKET;
};

fn main() {
    let _ = &POLICY;
}
