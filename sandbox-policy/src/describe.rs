//! A syscall as a person reads it: `socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)` rather than
//! six raw registers. Used by violation reports and `sandbox explain`. Only the prototype's
//! arguments are shown; the arguments policies usually constrain are decoded to the names the
//! language accepts, everything else is shown by its C type (signed ints as negative numbers,
//! pointers in hex).

use crate::arch::Arch;
use crate::resolve::truncate;
use crate::tables::{self, ArgType};

/// How one argument's value is named.
#[derive(Clone, Copy, Debug)]
enum Naming {
    /// One constant whose name starts with one of the prefixes (`AF_INET`).
    Exact(&'static [&'static str]),
    /// Flags or-ed together (`PROT_READ | PROT_WRITE`), none at all written as `zero`.
    Flags(&'static str, &'static str),
    /// A socket type and its flags (`SOCK_STREAM | SOCK_CLOEXEC`).
    SocketType,
    /// An open access mode and flags (`O_RDONLY | O_CLOEXEC`).
    OpenFlags,
    /// A clone flag set and its exit signal (`CLONE_VM | CLONE_THREAD | SIGCHLD`).
    CloneFlags,
    /// A signal number (`SIGKILL`).
    Signal,
    /// A directory descriptor: `AT_FDCWD` or a number.
    DirFd,
}

/// Names that share a prefix with a family of values but are not among its values: masks, tests,
/// limits and values of some other argument. An entry ending in `_` stands for every name it
/// starts; besides these, no name containing `_MASK` is a value.
const NOT_VALUES: &[&str] = &[
    // The access mode's mask, clone's exit-signal mask and futex's option bits.
    "O_ACCMODE",
    "CSIGNAL",
    "FUTEX_PRIVATE_FLAG",
    "FUTEX_CLOCK_REALTIME",
    // access(2)'s existence test, not fcntl's F_DUPFD.
    "F_OK",
    // Lock types, seals and the base of the Linux-specific commands, not fcntl commands.
    "F_RDLCK",
    "F_WRLCK",
    "F_UNLCK",
    "F_SEAL_",
    "F_LINUX_SPECIFIC_BASE",
    // futex's bitset and futex2's size flag, not futex commands.
    "FUTEX_BITSET_MATCH_ANY",
    "FUTEX_32",
    // The number of address families, not one of them.
    "AF_MAX",
    // tcflush's queue selectors, not ioctl requests.
    "TCIFLUSH",
    "TCOFLUSH",
    "TCIOFLUSH",
    // Arguments of some prctl options, not options.
    "PR_SET_MM_",
    "PR_SET_PTRACER_ANY",
    "PR_CAP_AMBIENT_",
    "PR_SVE_SET_VL_ONEXEC",
    "PR_SVE_VL_INHERIT",
    "PR_TAGGED_ADDR_ENABLE",
    "PR_SET_VMA_ANON_NAME",
];

/// Whether `name` is a value of the family its prefix names, not a name in [`NOT_VALUES`].
fn is_value(name: &str) -> bool {
    !name.contains("_MASK")
        && !NOT_VALUES.iter().any(|n| {
            if n.ends_with('_') {
                name.starts_with(n)
            } else {
                name == *n
            }
        })
}

/// The name of the constant among those starting with one of `prefixes` whose value is `value`,
/// both cut to `bits` as the kernel reads an argument that wide (`-1` is `0xffffffff` for an
/// `int`). The prefixes are tried in order and each in the table's order, so a canonical name
/// wins over its aliases. A name that shares the prefix but is not a value of the family (a
/// mask such as `FUTEX_CMD_MASK`, a test such as `F_OK`, another argument's value such as
/// `F_RDLCK`) is never the answer. Used by violation reports and by `sandbox learn`.
pub fn constant_name(arch: Arch, prefixes: &[&str], bits: u32, value: u64) -> Option<&'static str> {
    let value = truncate(i128::from(value), bits);
    prefixes.iter().find_map(|p| {
        tables::constants_with_prefix(arch, p)
            .filter(|(n, v)| is_value(n) && fits(*v, bits))
            .find(|(_, v)| truncate(i128::from(*v), bits) == value)
            .map(|(n, _)| n)
    })
}

/// The prefixes of the constants an `ioctl` request is named by: terminal and file requests.
pub const IOCTL_REQUEST_PREFIXES: &[&str] = &["TC", "TIOC", "FIO", "FIC"];

/// Whether an argument `bits` wide can hold `value`, signed or unsigned: the range the compiler
/// accepts for a constant there, so that a name given for a value always compiles back to it.
fn fits(value: i64, bits: u32) -> bool {
    let v = i128::from(value);
    bits >= 64 || (-(1i128 << (bits - 1))..1i128 << bits).contains(&v)
}

impl Naming {
    /// What the names of this argument's values start with: every name the checker accepts
    /// there (see `resolve`'s families), the names a value is shown by among them.
    fn prefixes(self) -> Vec<&'static str> {
        match self {
            Naming::Exact(prefixes) => prefixes.to_vec(),
            Naming::Flags(prefix, _) => vec![prefix],
            Naming::SocketType => vec!["SOCK_"],
            // FASYNC is O_ASYNC's other name.
            Naming::OpenFlags => vec!["O_", "FASYNC"],
            // The exit signal goes in clone's low byte, CSIGNAL its mask.
            Naming::CloneFlags => vec!["CLONE_", "SIG", "CSIGNAL"],
            Naming::Signal => vec!["SIG"],
            Naming::DirFd => vec!["AT_FDCWD"],
        }
    }
}

/// What the names of argument `arg` of `syscall` start with, where values there are shown by
/// name (see [`argument`]).
pub(crate) fn value_name_prefixes(syscall: &str, arg: &str) -> Option<Vec<&'static str>> {
    naming(syscall, arg).map(Naming::prefixes)
}

fn naming(syscall: &str, arg: &str) -> Option<Naming> {
    Some(match (syscall, arg) {
        ("socket" | "socketpair", "domain") => Naming::Exact(&["AF_", "PF_"]),
        ("socket" | "socketpair", "type") => Naming::SocketType,
        ("mmap" | "mprotect" | "pkey_mprotect", "prot") => Naming::Flags("PROT_", "PROT_NONE"),
        ("mmap", "flags") => Naming::Flags("MAP_", "0"),
        ("open" | "openat", "flags") => Naming::OpenFlags,
        ("clone", "flags") => Naming::CloneFlags,
        ("epoll_create1", "flags") => Naming::Flags("EPOLL_CLOEXEC", "0"),
        ("eventfd2", "flags") => Naming::Flags("EFD_", "0"),
        ("pipe2" | "dup3", "flags") => Naming::Flags("O_", "0"),
        ("accept4", "flags") => Naming::Flags("SOCK_", "0"),
        ("memfd_create", "flags") => Naming::Flags("MFD_", "0"),
        ("getrandom", "flags") => Naming::Flags("GRND_", "0"),
        ("inotify_init1", "flags") => Naming::Flags("IN_", "0"),
        ("timerfd_create", "flags") => Naming::Flags("TFD_", "0"),
        ("signalfd4", "flags") => Naming::Flags("SFD_", "0"),
        ("unshare", _) => Naming::Flags("CLONE_", "0"),
        ("ioctl", "request") => Naming::Exact(IOCTL_REQUEST_PREFIXES),
        ("fcntl", "cmd") => Naming::Exact(&["F_"]),
        ("prctl", "option") => Naming::Exact(&["PR_"]),
        ("arch_prctl", _) if arg != "addr" && arg != "arg2" => Naming::Exact(&["ARCH_"]),
        ("futex", "futex_op") => Naming::Exact(&["FUTEX_"]),
        ("rt_sigprocmask", "how") => Naming::Exact(&["SIG_"]),
        ("kill" | "tkill" | "tgkill" | "rt_sigaction" | "pidfd_send_signal", "sig" | "signum") => {
            Naming::Signal
        }
        (_, "dirfd" | "olddirfd" | "newdirfd") => Naming::DirFd,
        _ => return None,
    })
}

/// `name(arg, ...)` for a call on `arch`, or `syscall_NR(six raw registers)` for a number the
/// table does not know.
pub fn call(arch: Arch, nr: u32, args: &[u64; 6]) -> String {
    let Some(spec) = tables::syscall_by_nr(arch, nr) else {
        let raw: Vec<String> = args.iter().map(|a| format!("{a:#x}")).collect();
        return format!("syscall_{nr}({})", raw.join(", "));
    };
    let shown: Vec<String> = spec
        .args
        .iter()
        .zip(args)
        .map(|(a, v)| argument(arch, spec.name, a.name, a.ty, *v))
        .collect();
    format!("{}({})", spec.name, shown.join(", "))
}

/// One argument of `syscall`, named or shown by its type.
pub fn argument(arch: Arch, syscall: &str, name: &str, ty: ArgType, raw: u64) -> String {
    let bits = ty.bits();
    let value = truncate(i128::from(raw), bits);
    let named = naming(syscall, name).and_then(|n| match n {
        Naming::Exact(prefixes) => constant_name(arch, prefixes, bits, value).map(String::from),
        Naming::Flags(prefix, zero) => Some(flags(arch, prefix, value, zero)),
        Naming::SocketType => Some(socket_type(arch, bits, value)),
        Naming::OpenFlags => Some(open_flags(arch, value)),
        Naming::CloneFlags => Some(clone_flags(arch, value)),
        Naming::Signal => signal(arch, value),
        Naming::DirFd => (value as u32 as i32 == -100).then(|| "AT_FDCWD".to_string()),
    });
    named.unwrap_or_else(|| plain(ty, value))
}

fn plain(ty: ArgType, value: u64) -> String {
    match ty {
        ArgType::I32 => (value as u32 as i32).to_string(),
        ArgType::I64 => (value as i64).to_string(),
        ArgType::U16 | ArgType::U32 | ArgType::U64 if value < 0x10000 => value.to_string(),
        _ => format!("{value:#x}"),
    }
}

/// Or-ed flags, widest first so `O_SYNC` wins over `O_DSYNC`; what no name covers is shown in
/// hex.
fn flags(arch: Arch, prefix: &'static str, value: u64, zero: &str) -> String {
    if value == 0 {
        return zero.to_string();
    }
    let mut names: Vec<(&str, u64)> = tables::constants_with_prefix(arch, prefix)
        // A huge page size (`MAP_HUGE_2MB`) is a number in the upper bits, not a flag; the
        // flag asking for huge pages (`MAP_HUGETLB`) is one.
        .filter(|(n, v)| *v != 0 && is_value(n) && !n.contains("_HUGE_") && !n.ends_with("_TYPE"))
        .map(|(n, v)| (n, v as u64))
        .collect();
    names.sort_by_key(|(_, v)| std::cmp::Reverse(v.count_ones()));
    let mut left = value;
    let mut parts = Vec::new();
    for (n, v) in names {
        if left & v == v {
            parts.push(n.to_string());
            left &= !v;
        }
    }
    if left != 0 {
        parts.push(format!("{left:#x}"));
    }
    parts.join(" | ")
}

fn socket_type(arch: Arch, bits: u32, value: u64) -> String {
    let kind = value & 0xf;
    let kind_name = constant_name(arch, &["SOCK_"], bits, kind);
    let mut parts = vec![kind_name.map_or_else(|| kind.to_string(), String::from)];
    let rest = value & !0xf;
    if rest != 0 {
        parts.push(flags(arch, "SOCK_", rest, "0"));
    }
    parts.join(" | ")
}

fn open_flags(arch: Arch, value: u64) -> String {
    let mode = match value & 3 {
        0 => "O_RDONLY",
        1 => "O_WRONLY",
        2 => "O_RDWR",
        _ => "O_ACCMODE",
    };
    let rest = value & !3;
    if rest == 0 {
        return mode.to_string();
    }
    let rest = flags(arch, "O_", rest, "0");
    format!("{mode} | {rest}")
}

fn clone_flags(arch: Arch, value: u64) -> String {
    let signal_part = value & 0xff;
    let mut parts = Vec::new();
    let rest = value & !0xff;
    if rest != 0 {
        parts.push(flags(arch, "CLONE_", rest, "0"));
    }
    if signal_part != 0 {
        parts.push(signal(arch, signal_part).unwrap_or_else(|| signal_part.to_string()));
    }
    if parts.is_empty() {
        "0".to_string()
    } else {
        parts.join(" | ")
    }
}

fn signal(arch: Arch, value: u64) -> Option<String> {
    tables::constants_with_prefix(arch, "SIG")
        .filter(|(n, _)| !n.starts_with("SIG_"))
        .find(|(_, v)| *v as u64 == value)
        .map(|(n, _)| n.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn x86(name: &str, args: [u64; 6]) -> String {
        let nr = tables::syscall_by_name(Arch::X86_64, name).map(|s| s.nr);
        call(Arch::X86_64, nr.unwrap_or(u32::MAX), &args)
    }

    #[test]
    fn decodes_what_policies_constrain() {
        assert_eq!(
            x86("socket", [2, 1, 0, 0, 0, 0]),
            "socket(AF_INET, SOCK_STREAM, 0)"
        );
        assert_eq!(
            x86("socket", [1, 0x80001, 0, 0, 0, 0]),
            "socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)"
        );
        assert_eq!(
            x86("openat", [0xffff_ff9c, 0x7fff_0000_1000, 0x80000, 0, 0, 0]),
            "openat(AT_FDCWD, 0x7fff00001000, O_RDONLY | O_CLOEXEC, 0)"
        );
        assert_eq!(
            x86("mmap", [0, 4096, 5, 0x22, u64::MAX, 0]),
            "mmap(0, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, 0xffffffff, 0)"
        );
        assert_eq!(
            x86("mmap", [0, 4096, 3, 0x40022, u64::MAX, 0]),
            "mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, 0xffffffff, 0)"
        );
        assert_eq!(x86("kill", [1, 9, 0, 0, 0, 0]), "kill(1, SIGKILL)");
        assert_eq!(
            x86("ioctl", [0, 0x5412, 0, 0, 0, 0]),
            "ioctl(0, TIOCSTI, 0)"
        );
        assert_eq!(
            x86("read", [(1 << 32) | 3, 0, 5, 0, 0, 0]),
            "read(3, 0x0, 5)"
        );
    }

    #[test]
    fn every_name_given_for_a_value_is_that_value() {
        let families: &[&[&str]] = &[
            &["AF_"],
            &["F_"],
            &["PR_"],
            &["FUTEX_"],
            &["SIG_"],
            &["ARCH_"],
            &["SOCK_"],
            IOCTL_REQUEST_PREFIXES,
        ];
        for arch in [Arch::X86_64, Arch::Aarch64] {
            for prefixes in families {
                for bits in [16, 32, 64] {
                    for p in *prefixes {
                        for (_, v) in tables::constants_with_prefix(arch, p) {
                            let raw = truncate(i128::from(v), bits);
                            let Some(name) = constant_name(arch, prefixes, bits, raw) else {
                                continue;
                            };
                            let back = tables::constant(arch, name).expect("a known name");
                            assert!(fits(back, bits), "{name} does not fit {bits} bits");
                            assert_eq!(truncate(i128::from(back), bits), raw, "{name}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn constant_names_skip_names_that_are_not_values() {
        let name = |prefixes: &[&str], bits, v| constant_name(Arch::X86_64, prefixes, bits, v);
        assert_eq!(name(&["AF_"], 32, 2), Some("AF_INET"));
        assert_eq!(name(&["TC", "TIOC"], 32, 0x5412), Some("TIOCSTI"));
        // Cut to the argument's width, as the kernel reads it.
        assert_eq!(name(&["TC"], 32, 0xffff_ffff_0000_5401), Some("TCGETS"));
        // F_OK (0) and F_LINUX_SPECIFIC_BASE (1024) share values with fcntl commands.
        assert_eq!(name(&["F_"], 32, 0), Some("F_DUPFD"));
        assert_eq!(name(&["F_"], 32, 1024), Some("F_SETLEASE"));
        // FUTEX_PRIVATE_FLAG is a flag, not the command FUTEX_WAIT | FUTEX_PRIVATE_FLAG.
        assert_eq!(name(&["FUTEX_"], 32, 128), Some("FUTEX_WAIT_PRIVATE"));
        // A limit, a mask, an argument of a prctl option and one of tcflush: none is a value.
        assert_eq!(name(&["AF_"], 32, 46), None);
        assert_eq!(name(&["PR_"], 32, 0xffff), None);
        assert_eq!(name(&["PR_"], 32, u64::MAX), None);
        assert_eq!(name(&["TC", "TIOC"], 32, 0), None);
    }

    #[test]
    fn unknown_numbers_show_every_register() {
        assert_eq!(
            call(Arch::X86_64, 4000, &[1, 2, 3, 4, 5, 6]),
            "syscall_4000(0x1, 0x2, 0x3, 0x4, 0x5, 0x6)"
        );
    }
}
