// `argN` past the syscall's last argument.
static POLICY: sandbox_runtime::Policy = sandbox_runtime::policy! {
    default kill;
    allow close if arg3 == 0;
};

fn main() {
    let _ = &POLICY;
}
