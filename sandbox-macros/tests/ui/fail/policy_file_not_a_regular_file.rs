// A policy file that is not a regular file (a device, which would never end) is an error, as
// the compiler reads included files.
static POLICY: sandbox_runtime::Policy = sandbox_runtime::policy!(file = "/dev/zero");

fn main() {
    let _ = &POLICY;
}
