//! Which named constants an argument takes, where its values come from one family of names:
//! `socket`'s `domain` takes `AF_*`, so `domain == SOCK_DGRAM` (2, which is also `AF_INET`) is
//! a mistake the checker can name instead of compiling it as `AF_INET`. Arguments not listed
//! take any name; integer literals are never checked.

/// The names one argument takes.
pub(crate) struct Family {
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

/// Any syscall's argument of these names: directory descriptors take only `AT_FDCWD`, clocks
/// only `CLOCK_*`.
const BY_NAME: [(&str, &[&str]); 4] = [
    ("dirfd", &["AT_FDCWD"]),
    ("olddirfd", &["AT_FDCWD"]),
    ("newdirfd", &["AT_FDCWD"]),
    ("clockid", &["CLOCK_"]),
];

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

const FAMILIES: &[Family] = &[
    family(&["socket", "socketpair"], "domain", &["AF_", "PF_"]),
    family(&["socket", "socketpair"], "type", &["SOCK_"]),
    family(&["accept4"], "flags", &["SOCK_"]),
    family(&["mmap", "mprotect", "pkey_mprotect"], "prot", &["PROT_"]),
    family(&["mmap"], "flags", &["MAP_"]),
    family(&["mremap"], "flags", &["MREMAP_"]),
    // FASYNC is O_ASYNC's other name.
    family(
        &["open", "openat", "pipe2", "dup3"],
        "flags",
        &["O_", "FASYNC"],
    ),
    family(&["fcntl"], "cmd", &["F_"]),
    family(&["prctl"], "option", &["PR_"]),
    family(&["arch_prctl"], "option", &["ARCH_"]),
    // The exit signal goes in clone's low byte, CSIGNAL its mask.
    family(&["clone"], "flags", &["CLONE_", "SIG", "CSIGNAL"]),
    family(&["unshare"], "flags", &["CLONE_"]),
    family(&["setns"], "nstype", &["CLONE_"]),
    family(&["futex"], "futex_op", &["FUTEX_"]),
    family(&["lseek"], "whence", &["SEEK_"]),
    family(&["madvise"], "advice", &["MADV_"]),
    family(&["kill", "tgkill", "tkill"], "sig", &["SIG"]),
    family(&["rt_sigaction"], "signum", &["SIG"]),
    family(&["rt_sigprocmask"], "how", &["SIG_"]),
    family(AT_FLAGS, "flags", &["AT_"]),
    family(&["renameat2"], "flags", &["RENAME_"]),
    family(&["getrandom"], "flags", &["GRND_"]),
    family(&["memfd_create"], "flags", &["MFD_"]),
    family(&["eventfd2"], "flags", &["EFD_"]),
    family(&["timerfd_create"], "flags", &["TFD_"]),
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

/// The family argument `arg` of `syscall` takes its names from, if it has one.
pub(crate) fn of(syscall: &str, arg: &str) -> Option<&'static [&'static str]> {
    if let Some((_, prefixes)) = BY_NAME.iter().find(|(name, _)| *name == arg) {
        return Some(prefixes);
    }
    FAMILIES
        .iter()
        .find(|f| f.arg == arg && f.syscalls.contains(&syscall))
        .map(|f| f.prefixes)
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
