//! An emulation of the kernel's constant-action cache (Linux 5.11+, `seccomp_is_const_allow`
//! in `kernel/seccomp.c`): when a filter is attached, the kernel runs it once per syscall
//! number knowing only `nr` and `arch`; numbers whose result is `SECCOMP_RET_ALLOW` whatever
//! the arguments skip the filter from then on.
//!
//! The kernel's emulator understands only `ld [0]`, `ld [4]`, `ja`, `jeq/jge/jgt/jset #k`,
//! `and #k` and `ret #k`; anything else on the path gives up. This module mirrors it
//! instruction for instruction, so a generator can prove its dispatch is cache-friendly.
//! (The kernel only asks for the numbers of its own syscall tables; x32 numbers never hit the
//! cache. This emulation answers for any number it is given.)

use crate::arch::Arch;
use crate::bpf::{self, SockFilter};

/// Whether the kernel's emulator would find `filter` returns exactly `SECCOMP_RET_ALLOW` for
/// calls of `nr` with the audit value `audit_arch`, whatever the arguments.
pub fn is_const_allow(filter: &[SockFilter], audit_arch: u32, nr: u32) -> bool {
    use crate::bpf::*;
    let mut reg: u32 = 0;
    let mut pc: usize = 0;
    // Every step moves forward, so the loop ends; the bound is a second guarantee.
    for _ in 0..=filter.len() {
        let Some(insn) = filter.get(pc) else {
            return false;
        };
        let k = insn.k;
        match insn.code {
            c if c == BPF_LD | BPF_W | BPF_ABS => match k {
                bpf::data::NR => reg = nr,
                bpf::data::ARCH => reg = audit_arch,
                _ => return false,
            },
            c if c == BPF_RET | BPF_K => return k == ret::ALLOW,
            c if c == BPF_JMP | BPF_JA => {
                pc = match pc.checked_add(k as usize) {
                    Some(p) => p,
                    None => return false,
                };
            }
            c if c == BPF_JMP | BPF_JEQ | BPF_K
                || c == BPF_JMP | BPF_JGE | BPF_K
                || c == BPF_JMP | BPF_JGT | BPF_K
                || c == BPF_JMP | BPF_JSET | BPF_K =>
            {
                let taken = match c & 0xf0 {
                    BPF_JEQ => reg == k,
                    BPF_JGE => reg >= k,
                    BPF_JGT => reg > k,
                    _ => reg & k != 0,
                };
                pc += usize::from(if taken { insn.jt } else { insn.jf });
            }
            c if c == BPF_ALU | BPF_AND | BPF_K => reg &= k,
            _ => return false,
        }
        pc += 1;
    }
    false
}

/// Whether a native call of `nr` on `arch` would be answered from the kernel's cache as
/// allowed, without running the filter.
pub fn is_cached_allow(filter: &[SockFilter], arch: Arch, nr: u32) -> bool {
    is_const_allow(filter, arch.audit_arch(), nr)
}

/// How many of `nrs` are cached as allowed (see [`is_cached_allow`]).
pub fn count_cached(filter: &[SockFilter], arch: Arch, nrs: &[u32]) -> usize {
    nrs.iter()
        .filter(|&&nr| is_cached_allow(filter, arch, nr))
        .count()
}

/// The numbers of `nrs` that are *not* cached as allowed, in the order given.
pub fn uncached(filter: &[SockFilter], arch: Arch, nrs: &[u32]) -> Vec<u32> {
    nrs.iter()
        .copied()
        .filter(|&nr| !is_cached_allow(filter, arch, nr))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::AUDIT_ARCH_I386;
    use crate::bpf::*;

    fn prog() -> Vec<SockFilter> {
        vec![
            SockFilter::stmt(BPF_LD | BPF_W | BPF_ABS, data::ARCH),
            SockFilter::jump(BPF_JMP | BPF_JEQ | BPF_K, Arch::X86_64.audit_arch(), 1, 0),
            SockFilter::stmt(BPF_RET | BPF_K, ret::KILL_PROCESS),
            SockFilter::stmt(BPF_LD | BPF_W | BPF_ABS, data::NR),
            SockFilter::jump(BPF_JMP | BPF_JGE | BPF_K, 10, 2, 0),
            SockFilter::jump(BPF_JMP | BPF_JEQ | BPF_K, 3, 2, 0),
            SockFilter::stmt(BPF_RET | BPF_K, ret::ALLOW),
            SockFilter::stmt(BPF_JMP | BPF_JA, 2),
            // nr == 3: look at an argument.
            SockFilter::stmt(BPF_LD | BPF_W | BPF_ABS, data::arg_lo(0)),
            SockFilter::stmt(BPF_RET | BPF_A, 0),
            // nr >= 10
            SockFilter::stmt(BPF_ALU | BPF_AND | BPF_K, 1),
            SockFilter::jump(BPF_JMP | BPF_JSET | BPF_K, 1, 0, 1),
            SockFilter::stmt(BPF_RET | BPF_K, ret::ALLOW),
            SockFilter::stmt(BPF_RET | BPF_K, ret::ERRNO | 1),
        ]
    }

    #[test]
    fn follows_the_kernel_emulator() {
        let p = prog();
        assert!(is_cached_allow(&p, Arch::X86_64, 0));
        assert!(!is_cached_allow(&p, Arch::X86_64, 3), "argument load");
        assert!(is_cached_allow(&p, Arch::X86_64, 11), "odd, via and/jset");
        assert!(!is_cached_allow(&p, Arch::X86_64, 12), "errno is not allow");
        assert!(!is_const_allow(&p, AUDIT_ARCH_I386, 0), "foreign arch");
        assert_eq!(count_cached(&p, Arch::X86_64, &[0, 1, 3, 11, 12]), 3);
        assert_eq!(uncached(&p, Arch::X86_64, &[0, 3, 12]), vec![3, 12]);
    }

    #[test]
    fn gives_up_on_anything_else() {
        let ld_imm = [
            SockFilter::stmt(BPF_LD | BPF_IMM, 0),
            SockFilter::stmt(BPF_RET | BPF_K, ret::ALLOW),
        ];
        assert!(!is_cached_allow(&ld_imm, Arch::X86_64, 0));
        let ja_out = [SockFilter::stmt(BPF_JMP | BPF_JA, 7)];
        assert!(!is_cached_allow(&ja_out, Arch::X86_64, 0));
        assert!(!is_cached_allow(&[], Arch::X86_64, 0));
    }
}
