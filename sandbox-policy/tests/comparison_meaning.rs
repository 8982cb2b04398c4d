//! Comparisons that cannot mean what they say are refused: an ordering against a number the
//! argument's type (or a mask, which makes it unsigned) reads as another, and a masked equality whose value has bits outside the
//! mask (its outcome is fixed, so a `kill` rule on it would never fire).

mod common;

use common::rule_errors as errors;

#[test]
fn refused_with_what_they_would_mean() {
    for (rule, says) in [
        (
            "kill openat if dirfd < 0xffffffff;",
            "reads this value as -1",
        ),
        (
            "kill lseek if offset < 0x8000000000000000;",
            "reads this value as -9223372036854775808",
        ),
        ("kill fchmod if mode < -1;", "reads this value as 0xffff"),
        ("kill fcntl if fd >= -1;", "reads this value as 0xffffffff"),
        // A masked value is unsigned, even of a signed argument.
        (
            "kill socket if domain & 0xff >= -100;",
            "`domain & 0xff` is unsigned, which reads this value as 0xffffff9c",
        ),
        (
            "kill lseek if offset & 0xff < -2;",
            "reads this value as 0xfffffffffffffffe",
        ),
        // All ones under a mask: always true, an allow in disguise.
        (
            "allow socket if domain & 0xff <= -1;",
            "reads this value as 0xffffffff",
        ),
        ("kill mmap if prot & PROT_EXEC == 1;", "always false"),
        (
            "kill openat if flags & O_ACCMODE != O_RDONLY | O_CLOEXEC;",
            "always true",
        ),
    ] {
        let e = errors(rule).unwrap_or_else(|| panic!("{rule} compiled"));
        assert!(e.contains(says), "{rule}: {e}");
    }
}

#[test]
fn comparisons_that_mean_what_they_say_compile() {
    for rule in [
        "kill openat if dirfd < -1;",
        "kill openat if dirfd == 0xffffff9c;",
        "kill lseek if offset < 0;",
        "kill mmap if prot & PROT_EXEC == PROT_EXEC;",
        "kill openat if flags & O_ACCMODE != O_RDONLY;",
        "kill read if fd & 0xff < 0x10;",
        "kill socket if domain & 0xff >= 0x10;",
        // All ones: decides nothing, which the lint warns about, not an error.
        "kill read if count > -1;",
    ] {
        assert_eq!(errors(rule), None, "{rule}");
    }
}
