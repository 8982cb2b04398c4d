//! Which named constants an argument takes, where its values come from one family of names:
//! `socket`'s `domain` takes `AF_*`, so `domain == SOCK_DGRAM` (2, which is also `AF_INET`) is
//! a mistake the checker can name instead of compiling it as `AF_INET`. Arguments not listed
//! take any name; integer literals are never checked.

/// The names one argument takes, besides those [`crate::describe`] shows values by.
struct Family {
    /// The syscalls whose argument this is.
    syscalls: &'static [&'static str],
    /// The argument's name in their prototypes.
    arg: &'static str,
    /// What its constants' names start with.
    prefixes: &'static [&'static str],
}

const fn family(
    syscalls: &'static [&'static str],
    arg: &'static str,
    prefixes: &'static [&'static str],
) -> Family {
    Family {
        syscalls,
        arg,
        prefixes,
    }
}

const AT_FLAGS: &[&str] = &[
    "newfstatat",
    "unlinkat",
    "statx",
    "faccessat2",
    "execveat",
    "linkat",
    "fchownat",
    "utimensat",
];

/// Arguments whose names the checker knows but whose values are not shown by name (a value
/// there may have several names of the family, or the family holds names of other values).
const FAMILIES: &[Family] = &[
    family(&["mremap"], "flags", &["MREMAP_"]),
    family(&["setns"], "nstype", &["CLONE_"]),
    family(&["lseek"], "whence", &["SEEK_"]),
    family(&["madvise"], "advice", &["MADV_"]),
    family(AT_FLAGS, "flags", &["AT_"]),
    family(&["renameat2"], "flags", &["RENAME_"]),
    family(&["epoll_ctl"], "op", &["EPOLL_CTL_"]),
    family(&["shutdown"], "how", &["SHUT_"]),
    family(&["flock"], "operation", &["LOCK_"]),
    family(&["seccomp"], "operation", &["SECCOMP_"]),
    family(&["ptrace"], "request", &["PTRACE_"]),
    family(&["mount"], "mountflags", &["MS_"]),
    family(&["sched_setscheduler"], "policy", &["SCHED_"]),
    family(&["wait4", "waitid"], "options", &["W", "__W"]),
    family(&["waitid"], "idtype", &["P_"]),
    family(
        &["setsockopt", "getsockopt"],
        "level",
        &["SOL_", "IPPROTO_"],
    ),
];

/// The family argument `arg` of `syscall` takes its names from, if it has one: where values are
/// shown by name, those names' prefixes ([`crate::describe`] holds that table), else this
/// module's. Not `ioctl`'s request, whose names come from more families than it shows.
pub(crate) fn of(syscall: &str, arg: &str) -> Option<Vec<&'static str>> {
    if syscall == "ioctl" {
        return None;
    }
    if arg == "clockid" {
        return Some(vec!["CLOCK_"]);
    }
    crate::describe::value_name_prefixes(syscall, arg).or_else(|| {
        FAMILIES
            .iter()
            .find(|f| f.arg == arg && f.syscalls.contains(&syscall))
            .map(|f| f.prefixes.to_vec())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::Arch;
    use crate::tables;

    /// Every listed syscall has the argument, and every family has constants in the tables: a
    /// typo here would refuse every name for that argument.
    #[test]
    fn every_family_names_real_arguments_and_constants() {
        for f in FAMILIES {
            for syscall in f.syscalls {
                // Wherever the syscall exists it has the argument, and it exists somewhere.
                let specs: Vec<_> = Arch::ALL
                    .iter()
                    .filter_map(|&arch| tables::syscall_by_name(arch, syscall))
                    .collect();
                assert!(!specs.is_empty(), "no syscall {syscall}");
                for spec in specs {
                    assert!(
                        spec.args.iter().any(|a| a.name == f.arg),
                        "{syscall} has no argument {}",
                        f.arg
                    );
                }
            }
            for prefix in f.prefixes {
                assert!(
                    tables::constant_names().any(|n| n.starts_with(prefix)),
                    "no constant starts with {prefix}"
                );
            }
        }
    }
}
