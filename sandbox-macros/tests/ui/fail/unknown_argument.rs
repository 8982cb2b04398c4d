// A misspelt argument name gets a did-you-mean from the syscall's prototype.
static POLICY: sandbox_runtime::Policy = sandbox_runtime::policy! {
    default kill;
    allow openat if flgas & O_ACCMODE == O_RDONLY;
};

fn main() {
    let _ = &POLICY;
}
