// Masks, constants joined with `|`, a parenthesised mask operand, and names whose values
// differ between architectures.
#[path = "../check.rs"]
mod check;

use check::action;
use sandbox_runtime::__private::sandbox_policy::{tables, Action, Arch};

static POLICY: sandbox_runtime::Policy = sandbox_runtime::policy! {
    default kill;
    allow openat if flags & (O_ACCMODE | O_CREAT | O_TRUNC) == O_RDONLY;
    allow mmap, mprotect if prot & PROT_EXEC == 0;
    allow clone if (flags & (CLONE_NEWNS | CLONE_NEWUSER | CLONE_NEWPID)) == 0;
    allow open if flags & O_DIRECTORY == O_DIRECTORY;
    allow socket if domain == AF_UNIX && type & (SOCK_STREAM | SOCK_DGRAM) != 0;
};

fn main() {
    assert!(POLICY.native_program().is_some());
    let arch = Arch::native().unwrap();
    let c = |name: &str| tables::constant(arch, name).unwrap() as u64;
    let openat = |flags: u64| action(&POLICY, "openat", [0, 0, flags, 0, 0, 0]);
    assert_eq!(openat(c("O_RDONLY") | c("O_CLOEXEC")), Action::Allow);
    assert_eq!(openat(c("O_WRONLY")), Action::Kill);
    assert_eq!(openat(c("O_CREAT")), Action::Kill);
    let mmap = |prot: u64| action(&POLICY, "mmap", [0, 4096, prot, 0, 0, 0]);
    assert_eq!(mmap(c("PROT_READ") | c("PROT_WRITE")), Action::Allow);
    assert_eq!(mmap(c("PROT_READ") | c("PROT_EXEC")), Action::Kill);
    assert_eq!(
        action(&POLICY, "clone", [c("CLONE_THREAD"), 0, 0, 0, 0, 0]),
        Action::Allow
    );
    assert_eq!(
        action(&POLICY, "clone", [c("CLONE_NEWUSER"), 0, 0, 0, 0, 0]),
        Action::Kill
    );
    let socket = |domain: &str, ty: u64| action(&POLICY, "socket", [c(domain), ty, 0, 0, 0, 0]);
    assert_eq!(socket("AF_UNIX", c("SOCK_STREAM")), Action::Allow);
    assert_eq!(socket("AF_INET", c("SOCK_STREAM")), Action::Kill);
    // `open` does not exist on aarch64: the rule applies where it does.
    if arch == Arch::X86_64 {
        let open = |flags: u64| action(&POLICY, "open", [0, flags, 0, 0, 0, 0]);
        assert_eq!(open(c("O_DIRECTORY")), Action::Allow);
        assert_eq!(open(0), Action::Kill);
    }
}
