//! A syscall as a person reads it: `socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)` rather than
//! six raw registers. Used by violation reports and `sandbox explain`. Only the prototype's
//! arguments are shown; the arguments policies usually constrain are decoded to the names the
//! language accepts, everything else is shown by its C type (signed ints as negative numbers,
//! pointers in hex).

use crate::arch::Arch;
use crate::tables::{self, ArgType};

/// How one argument's value is named.
#[derive(Clone, Copy, Debug)]
enum Naming {
    /// One constant whose name starts with the prefix (`AF_INET`).
    Exact(&'static str),
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

/// Names that share a prefix with a family but belong elsewhere.
const NOT_IN_FAMILY: [&str; 3] = ["F_OK", "O_ACCMODE", "CSIGNAL"];

fn naming(syscall: &str, arg: &str) -> Option<Naming> {
    Some(match (syscall, arg) {
        ("socket" | "socketpair", "domain") => Naming::Exact("AF_"),
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
        ("ioctl", "request") => Naming::Exact("T"),
        ("fcntl", "cmd") => Naming::Exact("F_"),
        ("prctl", "option") => Naming::Exact("PR_"),
        ("arch_prctl", _) if arg != "addr" && arg != "arg2" => Naming::Exact("ARCH_"),
        ("futex", "futex_op") => Naming::Exact("FUTEX_"),
        ("rt_sigprocmask", "how") => Naming::Exact("SIG_"),
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
    let value = truncate(raw, ty);
    let named = naming(syscall, name).and_then(|n| match n {
        Naming::Exact(prefix) => exact(arch, prefix, value),
        Naming::Flags(prefix, zero) => Some(flags(arch, prefix, value, zero)),
        Naming::SocketType => Some(socket_type(arch, value)),
        Naming::OpenFlags => Some(open_flags(arch, value)),
        Naming::CloneFlags => Some(clone_flags(arch, value)),
        Naming::Signal => signal(arch, value),
        Naming::DirFd => (value as u32 as i32 == -100).then(|| "AT_FDCWD".to_string()),
    });
    named.unwrap_or_else(|| plain(ty, value))
}

fn truncate(raw: u64, ty: ArgType) -> u64 {
    match ty.bits() {
        64 => raw,
        bits => raw & ((1u64 << bits) - 1),
    }
}

fn plain(ty: ArgType, value: u64) -> String {
    match ty {
        ArgType::I32 => (value as u32 as i32).to_string(),
        ArgType::I64 => (value as i64).to_string(),
        ArgType::U16 | ArgType::U32 | ArgType::U64 if value < 0x10000 => value.to_string(),
        _ => format!("{value:#x}"),
    }
}

fn candidates(arch: Arch, prefix: &'static str) -> impl Iterator<Item = (&'static str, u64)> {
    tables::constants_with_prefix(arch, prefix)
        .filter(|(n, _)| !NOT_IN_FAMILY.contains(n))
        .map(|(n, v)| (n, v as u64))
}

fn exact(arch: Arch, prefix: &'static str, value: u64) -> Option<String> {
    candidates(arch, prefix)
        .find(|(_, v)| *v == value)
        .map(|(n, _)| n.to_string())
}

/// Or-ed flags, widest first so `O_SYNC` wins over `O_DSYNC`; what no name covers is shown in
/// hex.
fn flags(arch: Arch, prefix: &'static str, value: u64, zero: &str) -> String {
    if value == 0 {
        return zero.to_string();
    }
    let mut names: Vec<(&str, u64)> = candidates(arch, prefix)
        .filter(|(n, v)| {
            *v != 0 && !n.contains("_MASK") && !n.contains("_HUGE") && !n.ends_with("_TYPE")
        })
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

fn socket_type(arch: Arch, value: u64) -> String {
    let kind = value & 0xf;
    let mut parts = vec![exact(arch, "SOCK_", kind).unwrap_or_else(|| kind.to_string())];
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
            "mmap(0, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, 0xffffffffffffffff, 0)"
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
    fn unknown_numbers_show_every_register() {
        assert_eq!(
            call(Arch::X86_64, 4000, &[1, 2, 3, 4, 5, 6]),
            "syscall_4000(0x1, 0x2, 0x3, 0x4, 0x5, 0x6)"
        );
    }
}
