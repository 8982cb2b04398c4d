// The kernel takes errno values 1..=4095 in SECCOMP_RET_ERRNO.
static POLICY: sandbox_runtime::Policy = sandbox_runtime::policy! {
    default errno(5000);
    allow read;
};

fn main() {
    let _ = &POLICY;
}
