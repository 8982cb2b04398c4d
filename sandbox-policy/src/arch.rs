//! The architectures the compiler targets, with the audit values the kernel puts in
//! `seccomp_data.arch`.

use std::fmt;

/// A target architecture. Every policy is compiled once per architecture.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Arch {
    /// x86-64 (AUDIT_ARCH_X86_64). The x32 ABI shares this audit value; its numbers carry bit 30.
    X86_64,
    /// 64-bit ARM (AUDIT_ARCH_AARCH64).
    Aarch64,
}

/// `AUDIT_ARCH_X86_64`: EM_X86_64 | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE.
pub const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
/// `AUDIT_ARCH_AARCH64`: EM_AARCH64 | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE.
pub const AUDIT_ARCH_AARCH64: u32 = 0xc000_00b7;
/// `AUDIT_ARCH_I386`: what an `int 0x80` call on x86-64 reports.
pub const AUDIT_ARCH_I386: u32 = 0x4000_0003;
/// `AUDIT_ARCH_ARM`: what a 32-bit compat call on aarch64 reports.
pub const AUDIT_ARCH_ARM: u32 = 0x4000_0028;
/// The bit that marks an x32-ABI syscall number on x86-64.
pub const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// Whether a call of architecture `audit_arch` with number `nr` is an x32 call: x86-64's
/// architecture value with [`X32_SYSCALL_BIT`] set in the number.
pub fn is_x32_call(audit_arch: u32, nr: u32) -> bool {
    audit_arch == AUDIT_ARCH_X86_64 && nr & X32_SYSCALL_BIT != 0
}

impl Arch {
    /// Every supported architecture, in a fixed order (the order of generated tables).
    pub const ALL: [Arch; 2] = [Arch::X86_64, Arch::Aarch64];

    /// The value the kernel stores in `seccomp_data.arch` for native calls.
    pub const fn audit_arch(self) -> u32 {
        match self {
            Arch::X86_64 => AUDIT_ARCH_X86_64,
            Arch::Aarch64 => AUDIT_ARCH_AARCH64,
        }
    }

    /// The name used in `cfg(target_arch = ...)`, in reports and on the command line.
    pub const fn name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "aarch64",
        }
    }

    /// Parses a name as printed by [`Arch::name`].
    pub fn from_name(name: &str) -> Option<Arch> {
        Arch::ALL.into_iter().find(|a| a.name() == name)
    }

    /// Names the architecture behind an audit value, including foreign ones seen in violations.
    pub fn audit_arch_name(audit: u32) -> &'static str {
        match audit {
            AUDIT_ARCH_X86_64 => "x86_64",
            AUDIT_ARCH_AARCH64 => "aarch64",
            AUDIT_ARCH_I386 => "i386",
            AUDIT_ARCH_ARM => "arm",
            _ => "unknown",
        }
    }

    /// The architecture this build runs on, if it is supported.
    pub const fn native() -> Option<Arch> {
        if cfg!(target_arch = "x86_64") {
            Some(Arch::X86_64)
        } else if cfg!(target_arch = "aarch64") {
            Some(Arch::Aarch64)
        } else {
            None
        }
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
