//! A named constant must be of the family the argument takes, where it takes one: a name of
//! another family whose number means something else there is an error, not a silent match.

mod common;

use common::rule_errors as errors;

#[test]
fn a_constant_of_another_family_is_refused() {
    for (rule, says) in [
        (
            "kill socket if domain == SOCK_DGRAM;",
            "`SOCK_DGRAM` is not a constant `domain` of `socket` takes (AF_*, PF_*)",
        ),
        ("kill mmap if prot & O_CREAT != 0;", "(PROT_*)"),
        ("kill prctl if option == SECCOMP_SET_MODE_FILTER;", "(PR_*)"),
        ("kill openat if dirfd == AT_EMPTY_PATH;", "(AT_FDCWD)"),
        ("kill fcntl if cmd == O_RDONLY;", "(F_*)"),
        // Errno names are constants too: EPERM is 1, AF_UNIX, by accident.
        (
            "allow socket if domain == EPERM;",
            "`EPERM` is not a constant `domain` of `socket` takes",
        ),
        ("kill fcntl if cmd == EINTR;", "(F_*)"),
        ("kill kill if sig == EPERM;", "(SIG*)"),
    ] {
        let e = errors(rule).unwrap_or_else(|| panic!("{rule} compiled"));
        assert!(e.contains(says), "{rule}: {e}");
    }
}

#[test]
fn constants_of_the_family_and_numbers_compile() {
    for rule in [
        "kill socket if domain == AF_INET && type & SOCK_RAW == SOCK_RAW;",
        "kill socket if domain == PF_INET;",
        "kill socket if domain == 2;",
        "kill clone if flags & (CLONE_NEWUSER | SIGCHLD) != 0;",
        "kill clone if flags & CSIGNAL != SIGCHLD;",
        "kill openat if flags & FASYNC != 0;",
        "kill openat if dirfd == AT_FDCWD && flags & O_ACCMODE != O_RDONLY;",
        "kill newfstatat if flags & AT_EMPTY_PATH != 0;",
        // Arguments that take no one family take any name.
        "kill read if fd == O_RDONLY;",
    ] {
        assert_eq!(errors(rule), None, "{rule}");
    }
}
