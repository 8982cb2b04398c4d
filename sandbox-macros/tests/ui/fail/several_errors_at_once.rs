// Every error is reported in one build, each at its own place.
static POLICY: sandbox_runtime::Policy = sandbox_runtime::policy! {
    default kill;
    use stdoi;
    alow read;
    allow wirte if fd == 1;
    allow openat if flags & O_ACCMODE == O_RDONYL;
    errno(EPREM) socket;
    allow close if arg3 == 0;
};

fn main() {
    let _ = &POLICY;
}
